// bureau.test.mjs — the bureau's reports (ADR 43) in a real browser: a coordinator's
// visit (logged on the real `timebank` CLI, confirmed by the elder, approved in the
// console) shows in the station's report reached from the monthly report, the same
// figures in the downloaded XLSX's and CSV's bytes, the year a click away; the page fits
// a phone and a desktop and reads in Chinese.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import {
  BUREAU_WORDS, enrolledDevice, everySize, logConfirmedVisit, member, monthOf, setupStation, signIn, submit, useBrowser,
} from './helpers.mjs';

const shared = useBrowser();

test('a station\'s report for the bureau shows its month and year, and downloads as XLSX and CSV', async () => {
  const { env, tab } = shared;
  const { station, username } = setupStation(env.data);
  const volunteer = member(env.data, station, 'volunteer', '吴秀英', 1957);
  const elder = member(env.data, station, 'elder', '钱大爷');
  const phone = enrolledDevice(env, volunteer);
  const start = Date.now() - 2 * 3_600_000;
  logConfirmedVisit(phone, elder, start, 120);

  const { page } = tab;
  await signIn(page, env.url, username, undefined, '/console/review');
  await submit(page, page.locator('[data-testid=approve-clean]'));
  const month = monthOf(start);
  await page.goto(`${env.url}/console/reports?month=${month}`);
  await page.click('[data-testid=bureau-link]');
  assert.match(await page.locator('h1').innerText(), new RegExp(`曹杨新村街道 ${Number(month.slice(0, 4))}年${Number(month.slice(5))}月 服务报表`));
  const row = page.locator(`[data-testid=summary] tr[data-row="${station.id}"]`);
  const cell = (name) => row.locator(`[data-testid=${name}]`).innerText();
  assert.equal(await cell('visits'), '1');
  assert.equal(await cell('hours'), '2.00');
  assert.equal(await cell('volunteers_active'), '1');
  assert.equal(await cell('new_volunteers'), '1');
  assert.equal(await cell('coins_issued'), '2');
  assert.equal(await cell('coins_outstanding'), '2');
  const companionship = page.locator('[data-testid=services] tr[data-row=companionship]');
  assert.equal(await companionship.locator('[data-testid=service_name]').innerText(), '陪伴聊天');
  assert.equal(await companionship.locator('[data-testid=hours]').innerText(), '2.00');

  const [xlsx] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid=bureau-xlsx]')]);
  assert.equal(xlsx.suggestedFilename(), `bureau-${station.id}-${month}.xlsx`);
  const bytes = readFileSync(await xlsx.path());
  assert.equal(bytes.subarray(0, 2).toString(), 'PK', 'an XLSX is a zip');
  const [csv] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid=bureau-csv]')]);
  const lines = readFileSync(await csv.path(), 'utf8').replace(/^\uFEFF/, '').split('\r\n');
  assert.equal(lines[0], '编号,名称,期间,活跃志愿者,新增志愿者,服务老人,服务次数,服务小时,发放时间币,兑换时间币,捐赠时间币,期末流通,跨区兑入,跨区兑出');
  assert.equal(lines[1], `${station.id},曹杨新村街道,${month},1,1,1,1,2.00,2.00,0.00,0.00,2.00,0.00,0.00`);
  const [services] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid=bureau-services-csv]')]);
  assert.match(readFileSync(await services.path(), 'utf8'), new RegExp(`companionship,陪伴聊天,${month},1,2.00,0.00\r\n`));

  await page.click('[data-testid=other-period]');
  assert.match(await page.locator('h1').innerText(), new RegExp(`${month.slice(0, 4)}年 服务报表`));
  assert.equal(await cell('visits'), '1', 'the year holds the month');
  const url = page.url();
  await everySize(page, 'bureau', { url, allow: BUREAU_WORDS });
  // Paper: no navigation, no forms, no links, the figures.
  await page.emulateMedia({ media: 'print' });
  assert.equal(await page.locator('header.top').isVisible(), false);
  assert.equal(await page.locator('[data-testid=bureau-xlsx]').isVisible(), false);
  assert.equal(await row.locator('[data-testid=visits]').isVisible(), true);
  await page.emulateMedia({ media: 'screen' });
});
