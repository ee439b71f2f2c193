// reversal.test.mjs — a mistaken approval undone end to end in a real browser: a visit
// logged and confirmed with the real `timebank` CLI is approved, earning its volunteer 1.5
// coins on the ledger, in the month's report and on the phone; the coordinator reverses the
// approval from the visit's page with a reason (pages checked at both sizes), and then the
// ledger takes the coins back by a reversal posting, the visit's history says who reversed
// it and why, the report's figures count the reversal, the visit waits in the queue again,
// and after `timebank sync` the volunteer's phone shows the balance and the reason.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  admin, cli, enrolledDevice, everySize, logConfirmedVisit, member, monthOf,
  setupStation, signIn, submit, useBrowser,
} from './helpers.mjs';

const shared = useBrowser();

const REASON = '记错了老人，应为另一位';

test('a reversed approval takes the coins back in the ledger, the history, the report and on the phone', async () => {
  const { env, tab } = shared;
  const { station, username } = setupStation(env.data, '桃浦镇');
  const volunteer = member(env.data, station, 'volunteer', '吴秀兰', 1958);
  const elder = member(env.data, station, 'elder', '钱阿婆');
  const phone = enrolledDevice(env, volunteer);
  const start = Date.now() - 3 * 3_600_000;
  const visit = logConfirmedVisit(phone, elder, start, 90);

  const { page } = tab;
  await page.setViewportSize({ width: 1366, height: 768 });
  await signIn(page, env.url, username, undefined, '/console/review');
  const queued = page.locator(`tr[data-visit="${visit}"]`);
  assert.match(await queued.locator('[data-testid=credit]').innerText(), /批准后入账 1\.5 币/, 'the queue shows what the approval will credit');
  await submit(page, queued.locator('[data-testid=approve]'));
  assert.match(await page.locator('[role=alert]').innerText(), /已批准记录：吴秀兰 → 钱阿婆/);

  const month = monthOf(start);
  const reportUrl = `${env.url}/console/reports?month=${month}`;
  const figures = page.locator(`[data-testid=figures] tr[data-station="${station.id}"]`);
  const mine = page.locator(`[data-testid=volunteers] tr[data-member="${volunteer.id}"]`);
  const balance = page.locator(`tr[data-member="${volunteer.id}"] [data-testid=balance]`);
  await page.goto(reportUrl);
  assert.equal(await figures.locator('[data-testid=coins_issued]').innerText(), '1.5');
  assert.equal(await mine.locator('[data-testid=v-earned-for-month]').innerText(), '1.5');
  await page.goto(`${env.url}/console/ledger?q=${encodeURIComponent('吴秀兰')}`);
  assert.equal(await balance.innerText(), '1.5');
  cli(phone, ['sync']);
  assert.equal(cli(phone, ['balance'], { json: true }).confirmed_minutes, 90);

  // The visit's page offers the reversal, at both sizes; it needs a reason.
  const visitUrl = `${env.url}/console/visits/${visit}`;
  await everySize(page, 'visit-reverse', { url: visitUrl, allow: [username] });
  const form = page.locator('[data-testid=reverse-form]');
  assert.equal(await form.locator('[data-testid=reverse]').innerText(), '撤销批准');
  await form.locator('[data-testid=reverse]').click();
  assert.equal(await form.locator('input[name=reason]').evaluate((input) => input.validity.valueMissing), true,
    'the browser asks for the reason');
  await form.locator('input[name=reason]').fill(REASON);
  await submit(page, form.locator('[data-testid=reverse]'));
  assert.match(await page.locator('[role=alert]').innerText(), /已撤销批准：吴秀兰 → 钱阿婆/);
  assert.equal(await page.locator('[data-testid=reverse-form]').count(), 0, 'nothing stands to reverse now');

  // The history: the approval, its reversal by the coordinator with the reason, the
  // reversal posting, in the order they happened.
  const history = await page.locator('[data-testid=history]').innerText();
  assert.match(history, new RegExp(`批准已撤销 · 李协调 · 原因：${REASON}`));
  const order = ['审核：批准', '记账：服务所得', '批准已撤销', '记账：冲正'].map((words) => history.indexOf(words));
  assert.ok(order.every((at) => at >= 0), `every step is in the history:\n${history}`);
  assert.deepEqual([...order].sort((a, b) => a - b), order, `in the order they happened:\n${history}`);
  await everySize(page, 'visit-reversed', { url: visitUrl, allow: [username] });

  // The ledger keeps the earning and takes it back; the report counts the reversal.
  await page.goto(`${env.url}/console/ledger?q=${encodeURIComponent('吴秀兰')}`);
  assert.equal(await balance.innerText(), '0');
  await page.goto(`${env.url}/console/ledger/${volunteer.id}`);
  assert.match(await page.locator('main').innerText(), /冲正/);
  const postings = admin(env.data, ['ledger', '--member', volunteer.id]).postings.map((p) => [p.kind, p.minutes]);
  assert.deepEqual(postings, [['earn', 90], ['reversal', 90]]);
  await page.goto(reportUrl);
  assert.equal(await figures.locator('[data-testid=coins_issued]').innerText(), '0');
  assert.equal(await figures.locator('[data-testid=coins_outstanding]').innerText(), '0');
  assert.equal(await mine.locator('[data-testid=v-earned-for-month]').innerText(), '0');
  assert.equal(await mine.locator('[data-testid=v-earned-in-month]').innerText(), '0');

  // The visit waits in the queue again.
  await page.goto(`${env.url}/console/review`);
  assert.equal(await page.locator(`tr[data-visit="${visit}"]`).count(), 1, 'back in the queue');

  // The volunteer's phone after a sync: the coins gone, and why.
  cli(phone, ['sync']);
  assert.equal(cli(phone, ['balance'], { json: true }).confirmed_minutes, 0);
  const mineOnPhone = cli(phone, ['visits'], { json: true }).find((v) => v.id === visit);
  assert.equal(mineOnPhone.state, `under review: the approval was reversed: ${REASON}`);
});
