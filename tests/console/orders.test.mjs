// orders.test.mjs — the orders board in a real browser: an order placed and dispatched in
// the console reaches the volunteer's `timebank assignments --json` after `timebank sync`,
// and their acceptance (接单) comes back to the board.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cli, enrolledDevice, member, screenshot, setupStation, signIn, submit, useBrowser } from './helpers.mjs';

const shared = useBrowser();

test('an order dispatched in the console reaches the volunteer, whose acceptance comes back', async () => {
  const { env, tab } = shared;
  const { station, username } = setupStation(env.data);
  const volunteer = member(env.data, station, 'volunteer', '张建国', 1957);
  const elder = member(env.data, station, 'elder', '刘桂兰');
  const phone = enrolledDevice(env, volunteer);

  const { page } = tab;
  await signIn(page, env.url, username, undefined, '/console/orders');
  const form = page.locator('[data-testid=place-order]');
  await form.locator('select[name=elder]').selectOption(elder.id);
  await form.locator('select[name=service]').selectOption('companionship');
  await form.locator('input[name=note]').fill('周二下午两点，陪同聊天');
  await submit(page, form.locator('button[type=submit]'));
  assert.match(await page.locator('[role=alert]').innerText(), /已下单/);
  const row = page.locator('tr[data-order]', { hasText: '周二下午两点' });
  const order = await row.getAttribute('data-order');
  assert.equal(await row.getAttribute('data-state'), 'requested');

  await row.locator('select[name=volunteer]').selectOption(volunteer.id);
  await submit(page, row.locator('[data-testid=dispatch]'));
  assert.match(await page.locator('[role=alert]').innerText(), /已派单：刘桂兰 · 陪伴聊天 → 张建国/);
  assert.equal(await page.locator(`tr[data-order="${order}"]`).getAttribute('data-state'), 'dispatched');
  await screenshot(page, 'orders');

  cli(phone, ['sync']);
  const assignments = cli(phone, ['assignments'], { json: true });
  assert.equal(assignments.length, 1);
  assert.equal(assignments[0].order, order);
  assert.equal(assignments[0].elder, elder.id);
  assert.equal(assignments[0].note, '周二下午两点，陪同聊天');
  assert.equal(assignments[0].state, 'dispatched');

  cli(phone, ['accept', order]);
  cli(phone, ['sync']);
  await page.reload();
  const accepted = page.locator(`tr[data-order="${order}"]`);
  assert.equal(await accepted.getAttribute('data-state'), 'accepted');
  assert.match(await accepted.innerText(), /已接单/);
  assert.match(await accepted.innerText(), /张建国/);
});
