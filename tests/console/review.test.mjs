// review.test.mjs — the review queue in a real browser: two overlapping visits logged with
// the real `timebank` CLI arrive marked as anomalies; the coordinator approves one (through
// its confirmation page, with a note) and the volunteer's balance changes on the console's
// ledger page and in `timebank balance --json` after `timebank sync`; a rejection goes back
// with its reason; a volunteer's note with a <script> is shown as text; the visit log shows
// the device, arrival and history.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cli, enrolledDevice, member, screenshot, setupStation, signIn, submit, useBrowser } from './helpers.mjs';

const shared = useBrowser();

/** An RFC 3339 time `hours` ago. */
const ago = (hours) => new Date(Date.now() - hours * 3_600_000).toISOString();

/** Logs a finished visit with the CLI; returns its id. */
function logVisit(phone, elder, fromHoursAgo, toHoursAgo, note) {
  return cli(phone, ['visit', 'log', '--elder', elder.id, '--service', 'companionship',
    '--start', ago(fromHoursAgo), '--end', ago(toHoursAgo), '--note', note], { json: true }).id;
}

test('a flagged visit approved in the console earns the volunteer coins on the ledger page and the CLI', async () => {
  const { env, tab } = shared;
  const { station, username } = setupStation(env.data);
  const volunteer = member(env.data, station, 'volunteer', '李伟', 1956);
  const elder = member(env.data, station, 'elder', '王芳');
  const otherElder = member(env.data, station, 'elder', '陈秀英');
  const phone = enrolledDevice(env, volunteer);
  const first = logVisit(phone, elder, 6, 4, '读报纸');
  const second = logVisit(phone, otherElder, 5, 4, '<script>alert(1)</script>');
  cli(phone, ['sync']);
  assert.equal(cli(phone, ['balance'], { json: true }).confirmed_minutes, 0);

  const { page } = tab;
  await signIn(page, env.url, username, undefined, '/console/review');
  assert.match(page.url(), /\/console\/review$/);
  const row = page.locator(`tr[data-visit="${second}"]`);
  assert.match(await row.getAttribute('class'), /anomaly/, 'the overlapping visit is marked');
  assert.match(await row.innerText(), /时间重叠/);
  assert.equal(await row.locator('[data-testid=note]').innerText(), '<script>alert(1)</script>', 'the note is text');
  assert.deepEqual(tab.dialogs, [], 'no script ran');
  await screenshot(page, 'review');

  await page.goto(`${env.url}/console/ledger`);
  const balance = page.locator(`tr[data-member="${volunteer.id}"] [data-testid=balance]`);
  assert.equal(await balance.innerText(), '0');

  // An anomaly is approved only through its confirmation page, with a note.
  await page.goto(`${env.url}/console/review`);
  await submit(page, row.locator('[data-testid=approve]'));
  assert.match(page.url(), new RegExp(`/console/review/${second}/approve$`), 'approving an anomaly asks first');
  assert.match(await page.locator('h1').innerText(), /确认批准：李伟 → 陈秀英/);
  assert.match(await page.locator('dl.facts').innerText(), /时间重叠/, 'with its evidence');
  const note = page.locator('[data-testid=confirm-form] input[name=reason]');
  await page.locator('[data-testid=confirm]').click();
  assert.equal(await note.evaluate((input) => input.validity.valueMissing), true, 'the browser asks for the note');
  await note.fill('已电话核实，两位老人住同一楼');
  await submit(page, page.locator('[data-testid=confirm]'));
  assert.match(await page.locator('[role=alert]').innerText(), /已批准记录：李伟 → 陈秀英/);
  assert.equal(await page.locator(`tr[data-visit="${second}"]`).count(), 0, 'it left the queue');

  // A rejection needs a reason: the browser will not send the form without one.
  const firstRow = page.locator(`tr[data-visit="${first}"]`);
  const reason = firstRow.locator('form[action$="/reject"] input[name=reason]');
  await firstRow.locator('[data-testid=reject]').click();
  assert.equal(await reason.evaluate((input) => input.validity.valueMissing), true, 'the browser asks for the reason');
  assert.equal(await page.locator('[role=alert]', { hasText: '驳回' }).count(), 0, 'nothing was sent');
  assert.equal(await firstRow.count(), 1, 'the visit still waits');
  await reason.fill('两条记录时间重叠，请补交纸质记录');
  await submit(page, firstRow.locator('[data-testid=reject]'));
  assert.match(await page.locator('[role=alert]').innerText(), /已驳回记录/);

  await page.goto(`${env.url}/console/ledger`);
  assert.equal(await balance.innerText(), '1', 'one hour approved: one coin');
  cli(phone, ['sync']);
  assert.equal(cli(phone, ['balance'], { json: true }).confirmed_minutes, 60);
  const visits = cli(phone, ['visits'], { json: true });
  assert.equal(visits.find((v) => v.id === second).state, 'approved');
  assert.equal(visits.find((v) => v.id === first).state, 'rejected: 两条记录时间重叠，请补交纸质记录');

  // The merged log: filtered by the volunteer, then one visit with its device and history.
  await page.goto(`${env.url}/console/visits?volunteer=${volunteer.id}`);
  assert.equal(await page.locator('tbody tr[data-visit]').count(), 2);
  await screenshot(page, 'visits');
  await page.goto(`${env.url}/console/visits?q=${encodeURIComponent('读报纸')}`);
  assert.equal(await page.locator('tbody tr[data-visit]').count(), 1);
  await submit(page, page.locator(`tr[data-visit="${first}"] a`).first());
  assert.match(await page.locator('[data-testid=device]').innerText(), /^李伟的手机\s+d-[0-9a-f]+$/, 'whose phone, with its id below');
  const history = await page.locator('[data-testid=history]').innerText();
  assert.match(history, /记录到达服务器/);
  assert.match(history, /两条记录时间重叠/);
  await screenshot(page, 'visit-detail');
});
