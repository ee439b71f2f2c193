// pages.test.mjs — every console page at a phone's size (390×844) and a desktop's
// (1366×768), in Chinese: a station with visits waiting, approved (an anomaly through its
// confirmation page), rejected and flagged, orders waiting and dispatched (each on its own
// page), a correction, a redemption, a revoked phone, logged with the real `timebank` CLI;
// each page must not scroll sideways, keep its actions within reach, keep names on one
// line and chart labels readable, and read in Chinese with names instead of ids
// (helpers.mjs: everySize, checkFits, checkChinese). Screenshots of each page at both sizes
// land in target/console-screenshots/ (NAME-phone.png, NAME-desktop.png). Then the
// enrollment slip, whose QR code's link enrolls the CLI with no relay typed; printing; the
// relay's root address; and the district's read-only pages.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import {
  PASSWORD, admin, browser, checkChinese, cli, cliFails, deviceDir, enrolledDevice, everySize, member, screenshot,
  setupStation, signIn, startRelay, submit, unique, useBrowser,
} from './helpers.mjs';

const shared = useBrowser();

/** An RFC 3339 time `hours` ago. */
const ago = (hours) => new Date(Date.now() - hours * 3_600_000).toISOString();

/** Logs a finished visit with the CLI; returns its id. */
function logVisit(phone, elder, fromHoursAgo, toHoursAgo, note, service = 'companionship') {
  return cli(phone, ['visit', 'log', '--elder', elder.id, '--service', service,
    '--start', ago(fromHoursAgo), '--end', ago(toHoursAgo), '--note', note], { json: true }).id;
}

test('every page fits a phone and a desktop and reads in Chinese with names', async () => {
  const { env, tab } = shared;
  const { page } = tab;
  const { station, username } = setupStation(env.data, '真如镇街道');
  const li = member(env.data, station, 'volunteer', '李伟', 1956);
  const zhang = member(env.data, station, 'volunteer', '欧阳建国', 1957);
  const wang = member(env.data, station, 'elder', '王芳');
  const chen = member(env.data, station, 'elder', '陈秀英');
  const sun = member(env.data, station, 'elder', '司马桂兰');
  member(env.data, station, 'family-proxy', '王小红', 1970);
  const liPhone = enrolledDevice(env, li);
  const zhangPhone = enrolledDevice(env, zhang);
  const spare = enrolledDevice(env, zhang);
  // Two overlapping visits (an anomaly), a clean one confirmed by the elder, and others.
  const overlapA = logVisit(liPhone, wang, 30, 28, '读报纸，量血压');
  const overlapB = logVisit(liPhone, chen, 29, 28, '聊天');
  const clean = logVisit(liPhone, sun, 6, 5, '陪同散步');
  cli(liPhone, ['visit', 'confirm', clean, '--by', 'elder']);
  const toReject = logVisit(zhangPhone, wang, 10, 9, '打扫厨房', 'cleaning');
  const toFlag = logVisit(zhangPhone, chen, 8, 7, '送餐', 'meals');
  const open = cli(zhangPhone, ['visit', 'start', '--elder', sun.id, '--service', 'companionship'], { json: true }).id;
  cli(liPhone, ['sync']);
  cli(zhangPhone, ['sync']);
  cli(spare, ['sync']);

  await page.setViewportSize({ width: 1366, height: 768 });
  await signIn(page, env.url, username, PASSWORD, '/console/review');
  // Decisions through the pages, each banner in words with names; an anomaly's approval
  // asks for a note on a page of its own.
  await submit(page, page.locator(`tr[data-visit="${overlapA}"] [data-testid=approve]`));
  await page.fill('[data-testid=confirm-form] input[name=reason]', '已电话核实');
  await submit(page, page.locator('[data-testid=confirm]'));
  assert.match(await page.locator('[role=alert]').innerText(), /已批准记录：李伟 → 王芳 · /);
  const reject = page.locator(`tr[data-visit="${toReject}"]`);
  await reject.locator('form[action$="/reject"] input[name=reason]').fill('老人那天不在家');
  await submit(page, reject.locator('[data-testid=reject]'));
  const flag = page.locator(`tr[data-visit="${toFlag}"]`);
  await flag.locator('form[action$="/flag"] input[name=reason]').fill('请电话核实');
  await submit(page, flag.locator('[data-testid=flag]'));
  await submit(page, page.locator('[data-testid=approve-clean]'));
  assert.match(await page.locator('[role=alert]').innerText(), /已批准正常记录：\s*1/);

  await page.goto(`${env.url}/console/orders`);
  const form = page.locator('[data-testid=place-order]');
  await form.locator('select[name=elder]').selectOption(chen.id);
  await form.locator('select[name=service]').selectOption('companionship');
  await form.locator('input[name=note]').fill('周三上午九点，陪同去医院');
  await submit(page, form.locator('button[type=submit]'));
  assert.match(await page.locator('[role=alert]').innerText(), /已下单：陈秀英 · 陪伴聊天/);
  const order = page.locator('tr[data-order]', { hasText: '周三上午九点' });
  const orderId = await order.getAttribute('data-order');
  await submit(page, order.locator('[data-testid=dispatch-link]'));
  await submit(page, page.locator(`[data-testid=everyone] tr[data-volunteer="${zhang.id}"] [data-testid=dispatch]`));
  assert.match(await page.locator('[role=alert]').innerText(), /已派单：陈秀英 · 陪伴聊天 → 欧阳建国/);
  await form.locator('select[name=elder]').selectOption(wang.id);
  await form.locator('input[name=day]').fill(new Date(Date.now() + 32 * 3_600_000).toISOString().slice(0, 10));
  await form.locator('input[name=from]').fill('14:00');
  await form.locator('input[name=to]').fill('16:00');
  await submit(page, form.locator('button[type=submit]'));
  const waiting = await page.locator('tr[data-order][data-state=requested]', { hasText: '王芳' }).getAttribute('data-order');

  await page.goto(`${env.url}/console/ledger/${li.id}`);
  await page.fill('[data-testid=correction] [name=minutes]', '-30');
  await page.fill('[data-testid=correction] [name=reason]', '多记了半小时');
  await submit(page, page.locator('[data-testid=correction] button'));
  cli(liPhone, ['sync']);
  cli(liPhone, ['redeem', '--service', 'tcm-physiotherapy', '--minutes', '30']);
  cli(liPhone, ['sync']);

  await page.goto(`${env.url}/console/members/${zhang.id}`);
  const spareDevice = admin(env.data, ['device', 'list']).find((d) => d.member === zhang.id && d.revoked_at === null)?.id;
  assert.ok(spareDevice, 'a device to revoke');

  const pages = [
    ['review', '/console/review'],
    ['approve-confirm', `/console/review/${overlapB}/approve`],
    ['visits', '/console/visits'],
    ['visit-approved', `/console/visits/${overlapA}`],
    ['visit-rejected', `/console/visits/${toReject}`],
    ['visit-flagged', `/console/visits/${toFlag}`],
    ['visit-open', `/console/visits/${open}`],
    ['orders', '/console/orders'],
    ['order-waiting', `/console/orders/${waiting}`],
    ['order-dispatched-to', `/console/orders/${orderId}`],
    ['members', '/console/members'],
    ['member', `/console/members/${li.id}`],
    ['devices', '/console/devices'],
    ['revoke-confirm', `/console/devices/${spareDevice}/revoke`],
    ['ledger', '/console/ledger'],
    ['ledger-member', `/console/ledger/${li.id}`],
    ['redemptions', '/console/redemptions'],
    ['reports', '/console/reports'],
    ['audit', '/console/audit'],
    ['not-found', '/console/members/m-000000000000'],
  ];
  for (const [name, url] of pages) {
    await everySize(page, name, { url: `${env.url}${url}`, allow: [username] });
  }

  // The phone revoked after the confirmation; then the audit names every action in words.
  await page.goto(`${env.url}/console/devices/${spareDevice}/revoke`);
  await submit(page, page.locator('[data-testid=confirm]'));
  assert.match(await page.locator('[role=alert]').innerText(), /设备已停用：欧阳建国的手机/);
  await everySize(page, 'audit-after', { url: `${env.url}/console/audit`, allow: [username] });

  // Search and a state filter narrow the lists.
  await page.goto(`${env.url}/console/members?q=oyjg`);
  assert.deepEqual(await page.locator('tr[data-member]').evaluateAll((rows) => rows.map((r) => r.dataset.member)), [zhang.id], 'initials find 欧阳建国');
  await page.goto(`${env.url}/console/orders?state=dispatched`);
  assert.equal(await page.locator('tr[data-order]').count(), 1);
});

test('the enrollment slip prints the code and a QR code whose link enrolls the CLI', async () => {
  const { env, tab } = shared;
  const { page } = tab;
  const { station, username } = setupStation(env.data, '长风街道');
  const volunteer = member(env.data, station, 'volunteer', '诸葛红梅', 1959);
  await page.setViewportSize({ width: 1366, height: 768 });
  await signIn(page, env.url, username, PASSWORD, `/console/members/${volunteer.id}`);
  let link = '';
  await everySize(page, 'enroll-slip', {
    allow: [username],
    open: async () => {
      await page.goto(`${env.url}/console/members/${volunteer.id}`);
      await submit(page, page.locator('text=生成绑定码'));
      link = await page.locator('[data-testid=enroll-qr]').getAttribute('data-link');
    },
  });
  const code = (await page.locator('[data-testid=enroll-code]').innerText()).trim();
  assert.equal(link, `timebank://enroll?relay=${encodeURIComponent(env.url)}&code=${code}`);
  assert.equal(await page.locator('[data-testid=relay-url]').innerText(), env.url);
  await page.emulateMedia({ media: 'print' });
  assert.equal(await page.locator('header.top').isVisible(), false, 'printing leaves the navigation out');
  assert.equal(await page.locator('[data-testid=slip]').isVisible(), true);
  await screenshot(page, 'enroll-slip-print', { fullPage: true });
  await page.emulateMedia({ media: 'screen' });

  // The QR code's link alone enrolls the CLI; the code cannot be used twice, said in plain words.
  const phone = deviceDir();
  const enrolled = cli(phone, ['enroll', '--link', link], { json: true });
  assert.equal(enrolled.member, volunteer.id);
  const again = cliFails(deviceDir(), ['enroll', '--link', link]);
  assert.equal(again.status, 5);
  assert.match(again.stderr, /already used (just now|\d+ minutes? ago)/);
  assert.doesNotMatch(again.stderr, /\b410\b|UTC|HTTP/);

  await page.goto(`${env.url}/console/reports`);
  await page.emulateMedia({ media: 'print' });
  assert.equal(await page.locator('form').first().isVisible(), false, 'a printed report has no forms');
  assert.equal(await page.locator('figure.chart.wide').first().isVisible(), true, 'and the wide charts');
  await screenshot(page, 'reports-print', { fullPage: true });
  await page.emulateMedia({ media: 'screen' });
});

test('the root address leads to the console, the sign-in page fits a phone, the district reads in Chinese', async () => {
  // A relay of its own: the district reads every station, and other tests' stations hold
  // names typed in English or as markup on purpose.
  const dir = mkdtempSync(path.join(tmpdir(), 'tb-district-'));
  const env = await startRelay(path.join(dir, 'data'));
  const { station } = setupStation(env.data, '石泉路街道');
  const elder = member(env.data, station, 'elder', '赵老伯');
  const district = unique('qu');
  admin(env.data, ['console-user', 'create', '--username', district, '--district', 'q-default', '--password-stdin'], `${PASSWORD}\n`);
  const city = unique('shi');
  admin(env.data, ['console-user', 'create', '--username', city, '--city', '--password-stdin'], `${PASSWORD}\n`);
  try {
    const fresh = await browser();
    try {
      const { page } = fresh;
      await page.goto(`${env.url}/`);
      assert.match(page.url(), /\/console\/login/, 'the root address leads to the console');
      await everySize(page, 'login', { url: `${env.url}/console/login` });
      await signIn(page, env.url, district, PASSWORD, '/console/members');
      for (const [name, url] of [['district-review', '/console/review'], ['district-members', '/console/members'],
        ['district-reports', '/console/reports'], ['district-member', `/console/members/${elder.id}`]]) {
        await everySize(page, name, { url: `${env.url}${url}`, allow: [district] });
      }
      assert.equal(await page.locator('button.primary', { hasText: '生成绑定码' }).count(), 0, 'the district changes nothing');
      await page.goto(`${env.url}/console/members?lang=en`);
      assert.equal(await page.locator('h1').innerText(), 'Members');
      await page.goto(`${env.url}/console/members?lang=zh`);
      await checkChinese(page, 'members after switching back', [district]);
    } finally {
      await fresh.close();
    }
    // The city's account reads in Chinese at both sizes too, and changes nothing.
    const reader = await browser();
    try {
      const { page } = reader;
      await signIn(page, env.url, city, PASSWORD, '/console/members');
      assert.ok((await page.locator('main').innerText()).includes('赵老伯'), 'the city reads every station');
      assert.equal(await page.locator('button.primary', { hasText: '生成绑定码' }).count(), 0, 'the city changes nothing');
      for (const [name, url] of [['city-review', '/console/review'], ['city-members', '/console/members'],
        ['city-reports', '/console/reports']]) {
        await everySize(page, name, { url: `${env.url}${url}`, allow: [city] });
      }
    } finally {
      await reader.close();
    }
  } finally {
    env.process.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
});
