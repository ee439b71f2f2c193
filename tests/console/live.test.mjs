// live.test.mjs — live updates in a real browser (ADR 0032): visits a phone syncs appear on
// the visit log and the review queue without a reload; a dispatch from an order's page
// reaches the volunteer's `timebank watch --json` within a second, with no polling; a
// coordinator typing a reason keeps the page as it is and is offered a reload; the one
// script runs under the content security policy without a violation; and with scripts
// off the pages work as before.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import {
  CLI_BIN, browser, cli, enrolledDevice, member, screenshot, setupStation, signIn, submit, useBrowser,
} from './helpers.mjs';

const shared = useBrowser();

/** An RFC 3339 time `hours` ago. */
const ago = (hours) => new Date(Date.now() - hours * 3_600_000).toISOString();

/** Logs a finished visit with the CLI and syncs it; returns its id. */
function logAndSync(phone, elder, fromHoursAgo, toHoursAgo, note) {
  const { id } = cli(phone, ['visit', 'log', '--elder', elder.id, '--service', 'companionship',
    '--start', ago(fromHoursAgo), '--end', ago(toHoursAgo), '--note', note], { json: true });
  cli(phone, ['sync']);
  return id;
}

/** Waits until the page's live channel is open (the script marks `main`). */
async function connected(page) {
  await page.waitForSelector('main[data-live][data-live-connected]', { timeout: 10_000 });
}

/** Marks the loaded document, so a test can tell that no reload happened since. */
async function mark(page) {
  await page.evaluate(() => { window.tbSameDocument = true; });
}

async function stillTheSameDocument(page) {
  assert.equal(await page.evaluate(() => window.tbSameDocument === true), true, 'the page was not reloaded');
}

test('visits a phone syncs appear on the visit log and the review queue without a reload', async () => {
  const { env, tab } = shared;
  const { station, username } = setupStation(env.data);
  const volunteer = member(env.data, station, 'volunteer', '李伟', 1956);
  const elder = member(env.data, station, 'elder', '王芳');
  const phone = enrolledDevice(env, volunteer);
  const violations = [];
  const { page } = tab;
  page.on('console', (message) => { if (/Content Security Policy|Refused to/.test(message.text())) violations.push(message.text()); });

  await signIn(page, env.url, username, undefined, '/console/visits');
  await connected(page);
  await mark(page);
  const visit = logAndSync(phone, elder, 6, 5, '陪老人读报纸');
  const row = page.locator(`[data-visit="${visit}"]`);
  await row.first().waitFor({ timeout: 5_000 });
  await stillTheSameDocument(page);
  assert.match(await page.locator('[data-testid=live-status]').innerText(), /已更新/);
  await screenshot(page, 'live-visits');

  await page.goto(`${env.url}/console/review`);
  await connected(page);
  await mark(page);
  const overlapping = logAndSync(phone, elder, 5.5, 4.5, '重叠的记录');
  await page.locator(`tr[data-visit="${overlapping}"]`).waitFor({ timeout: 5_000 });
  await stillTheSameDocument(page);
  assert.match(await page.locator(`tr[data-visit="${overlapping}"]`).innerText(), /时间重叠/, 'it arrives marked');
  assert.deepEqual(violations, [], 'the script ran under the content security policy');
  assert.deepEqual(tab.dialogs, []);
});

test('a coordinator typing a reason keeps the page as it is and is offered a reload', async () => {
  const { env, tab } = shared;
  const { station, username } = setupStation(env.data);
  const volunteer = member(env.data, station, 'volunteer', '张建国', 1957);
  const elder = member(env.data, station, 'elder', '刘桂兰');
  const phone = enrolledDevice(env, volunteer);
  const first = logAndSync(phone, elder, 8, 7, '第一条');
  const { page } = tab;
  await signIn(page, env.url, username, undefined, '/console/review');
  await connected(page);
  const reason = page.locator(`tr[data-visit="${first}"] form[action$="/reject"] input[name=reason]`);
  await reason.fill('请补交纸质记录');

  const second = logAndSync(phone, elder, 3, 2, '第二条');
  const status = page.locator('[data-testid=live-status]');
  await status.locator('a', { hasText: '刷新页面' }).waitFor({ timeout: 5_000 });
  assert.match(await status.innerText(), /有新的内容/);
  assert.equal(await reason.inputValue(), '请补交纸质记录', 'what she typed is still there');
  assert.equal(await page.locator(`tr[data-visit="${second}"]`).count(), 0, 'the list waits for her');
  await submit(page, status.locator('a'));
  assert.equal(await page.locator(`tr[data-visit="${second}"]`).count(), 1, 'after the reload it is there');
});

test('a dispatch from an order\'s page reaches the volunteer watching with the CLI within a second', async () => {
  const { env, tab } = shared;
  const { station, username } = setupStation(env.data);
  const volunteer = member(env.data, station, 'volunteer', '王秀英', 1959);
  const elder = member(env.data, station, 'elder', '赵大爷');
  const phone = enrolledDevice(env, volunteer);
  const watch = spawn(CLI_BIN, ['--data', phone, 'watch', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines = [];
  const waiting = [];
  createInterface({ input: watch.stdout }).on('line', (line) => {
    const event = JSON.parse(line);
    lines.push(event);
    for (const wait of waiting.splice(0)) wait();
  });
  const until = async (wanted, ms) => {
    const deadline = Date.now() + ms;
    for (;;) {
      const found = lines.find(wanted);
      if (found) return found;
      assert.ok(Date.now() < deadline, `not within ${ms} ms: ${JSON.stringify(lines)}`);
      await new Promise((resolve) => { waiting.push(resolve); setTimeout(resolve, 100); });
    }
  };
  try {
    await until((e) => e.event === 'synced', 10_000);
    const { page } = tab;
    await signIn(page, env.url, username, undefined, '/console/orders');
    const form = page.locator('[data-testid=place-order]');
    await form.locator('select[name=elder]').selectOption(elder.id);
    await form.locator('select[name=service]').selectOption('companionship');
    await form.locator('input[name=note]').fill('周五上午');
    await submit(page, form.locator('button[type=submit]'));
    const row = page.locator('tr[data-order]', { hasText: '周五上午' });
    const order = await row.getAttribute('data-order');
    await submit(page, row.locator('[data-testid=dispatch-link]'));
    const before = lines.length;
    const dispatched = Date.now();
    await submit(page, page.locator(`[data-testid=everyone] tr[data-volunteer="${volunteer.id}"] [data-testid=dispatch]`));
    const synced = await until((e, i) => i >= before && e.event === 'synced' && e.report.docs_changed > 0, 5_000);
    const took = Date.now() - dispatched;
    assert.ok(took < 1_000, `the dispatch reached the phone after ${took} ms`);
    assert.deepEqual(synced.hinted, [`member/${volunteer.id}`], 'the relay hinted; the phone did not poll');
    watch.kill('SIGTERM');
    const assignments = cli(phone, ['assignments'], { json: true });
    assert.equal(assignments[0].order, order);

    // The volunteer accepts on the phone: the board shows it without a reload.
    await connected(page);
    await mark(page);
    cli(phone, ['accept', order]);
    cli(phone, ['sync']);
    await page.waitForSelector(`tr[data-order="${order}"][data-state=accepted]`, { timeout: 5_000 });
    await stillTheSameDocument(page);
  } finally {
    watch.kill('SIGTERM');
  }
});

test('with scripts off the lists work as before', async () => {
  const { env } = shared;
  const { station, username } = setupStation(env.data);
  const volunteer = member(env.data, station, 'volunteer', '孙丽', 1960);
  const elder = member(env.data, station, 'elder', '周奶奶');
  const phone = enrolledDevice(env, volunteer);
  const visit = logAndSync(phone, elder, 9, 8, '没有脚本也能看到');
  const tab = await browser({ javaScriptEnabled: false });
  try {
    await signIn(tab.page, env.url, username, undefined, '/console/visits');
    assert.equal(await tab.page.locator(`[data-visit="${visit}"]`).count() > 0, true);
    assert.equal(await tab.page.locator('[data-testid=live-status]').count(), 0, 'no live status without the script');
    await tab.page.goto(`${env.url}/console/review`);
    assert.equal(await tab.page.locator(`tr[data-visit="${visit}"]`).count(), 1);
  } finally {
    await tab.close();
  }
});
