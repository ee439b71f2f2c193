// reports.test.mjs — the monthly report in a real browser: a clean visit (confirmed by
// the elder, logged and synced with the real `timebank` CLI) is approved in bulk, and the
// report page and its CSV download show the figures the ledger holds (the volunteer's
// balance on the CLI, the postings of `timebank-relay admin ledger`).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import {
  admin, cli, enrolledDevice, logConfirmedVisit, member, monthOf, screenshot,
  setupStation, signIn, submit, useBrowser,
} from './helpers.mjs';

const shared = useBrowser();

const HEADER = '服务站,月份,活跃志愿者,服务老人,服务次数,服务小时,发放时间币,兑换,捐赠,月末流通';

test('the monthly report and its CSV show the ledger figures of a visit approved in bulk', async () => {
  const { env, tab } = shared;
  const { station, username } = setupStation(env.data);
  const volunteer = member(env.data, station, 'volunteer', '周明', 1959);
  const elder = member(env.data, station, 'elder', '孙玉珍');
  const phone = enrolledDevice(env, volunteer);
  const start = Date.now() - 3 * 3_600_000;
  const visit = logConfirmedVisit(phone, elder, start, 90);

  const { page } = tab;
  await signIn(page, env.url, username, undefined, '/console/review');
  const box = page.locator(`tr[data-visit="${visit}"] input[name=visit]`);
  assert.equal(await box.isChecked(), true, 'a clean visit is selected for bulk approval');
  await submit(page, page.locator('[data-testid=approve-clean]'));
  assert.match(await page.locator('[role=alert]').innerText(), /已批准正常记录：\s*1/);

  cli(phone, ['sync']);
  const balance = cli(phone, ['balance'], { json: true });
  assert.equal(balance.confirmed_minutes, 90);
  const ledger = admin(env.data, ['ledger', '--member', volunteer.id]);
  const earned = ledger.postings.filter((p) => p.kind === 'earn').reduce((sum, p) => sum + p.minutes, 0);
  assert.equal(earned, 90);

  const month = monthOf(start);
  await page.goto(`${env.url}/console/reports?month=${month}`);
  const figures = page.locator(`[data-testid=figures] tr[data-station="${station.id}"]`);
  const cell = (name) => figures.locator(`[data-testid=${name}]`).innerText();
  assert.equal(await cell('visits'), '1');
  assert.equal(await cell('hours'), '1.50');
  assert.equal(await cell('coins_issued'), '1.5');
  assert.equal(await cell('coins_outstanding'), '1.5');
  assert.equal(await page.locator('figure.chart.wide svg').count(), 2, 'two charts');
  assert.equal(await page.locator('figure.chart.narrow svg').count(), 2, 'each drawn again for a phone');
  // The volunteer's month, and both months a coin can count in.
  const mine = page.locator(`[data-testid=volunteers] tr[data-member="${volunteer.id}"]`);
  assert.equal(await mine.locator('[data-testid=v-visits]').innerText(), '1');
  assert.equal(await mine.locator('[data-testid=v-hours]').innerText(), '1.50');
  assert.equal(await mine.locator('[data-testid=v-earned-for-month]').innerText(), '1.5');
  assert.equal(await mine.locator('[data-testid=v-earned-in-month]').innerText(), '1.5');
  assert.equal(await mine.locator('[data-testid=v-spent]').innerText(), '0');
  assert.match(await page.locator('[data-testid=months-explained]').innerText(), /按服务日期.*按批准记账的日期/);
  await screenshot(page, 'reports');

  const [download] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid=reports-csv]')]);
  assert.equal(download.suggestedFilename(), `report-${month}.csv`);
  const lines = readFileSync(await download.path(), 'utf8').replace(/^\uFEFF/, '').trim().split('\n');
  assert.equal(lines[0], HEADER, 'Chinese headers on a Chinese page');
  assert.equal(lines.length, 2, 'one row: the coordinator\'s own station');
  const coins = (minutes) => (minutes / 60).toFixed(2);
  assert.equal(lines[1], [station.name, month, 1, 1, 1, '1.50', coins(earned), '0.00', '0.00', coins(balance.confirmed_minutes)].join(','));

  const [visits] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid=visits-csv]')]);
  const log = readFileSync(await visits.path(), 'utf8').replace(/^\uFEFF/, '');
  assert.match(log.split('\n')[0], /^记录编号,服务站,志愿者编号,志愿者/);
  // Names, the service and the status in words, times in the station's zone (UTC+8).
  const localTime = (ms) => new Date(ms + 8 * 3_600_000).toISOString().slice(0, 16).replace('T', ' ');
  assert.match(log, new RegExp(`${visit},${station.name},${volunteer.id},周明,${elder.id},孙玉珍,陪伴聊天,${localTime(start)},${localTime(start + 90 * 60_000)},90,1\\.50,已批准,周明的手机,`));

  await page.goto(`${env.url}/console/reports?month=${month}&lang=en`);
  assert.equal(await page.locator('h1').innerText(), 'Monthly report');
  await screenshot(page, 'reports-en');
});
