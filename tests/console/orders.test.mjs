// orders.test.mjs — an order as a station runs it, in a real browser: placed in the console
// for tomorrow 09:00–11:00 (the station's zone), found on the board by its day, dispatched
// from its own page through the volunteer picker; after `timebank sync` the dispatched
// volunteer's `timebank assignments --json` carries the slot and the elder's address and
// phone, while another volunteer of the station gets nothing and holds no trace of them on
// disk; the acceptance (接单) comes back to the board; once the volunteer has logged the
// visit that served it, the order links to it and the address leaves the volunteer's phone.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { admin, cli, enrolledDevice, everySize, member, setupStation, signIn, submit, useBrowser } from './helpers.mjs';

const shared = useBrowser();

const ADDRESS = '兰溪路 138 弄 7 号 402 室';
const PHONE = '13912345678';

/** Whether any file under the device store `dir` holds `text` (UTF-8). */
function storeHolds(dir, text) {
  const needle = Buffer.from(text, 'utf8');
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .some((entry) => readFileSync(path.join(entry.parentPath ?? entry.path, entry.name)).includes(needle));
}

/** An RFC 3339 time `hours` ago. */
const ago = (hours) => new Date(Date.now() - hours * 3_600_000).toISOString();

test('an order for a time slot reaches the dispatched volunteer with the address, and no one else', async () => {
  const { env, tab } = shared;
  const { station, username } = setupStation(env.data);
  const volunteer = member(env.data, station, 'volunteer', '张建国', 1957);
  const other = member(env.data, station, 'volunteer', '赵丽华', 1959);
  const elder = admin(env.data, ['member', 'create', '--station', station.id, '--role', 'elder', '--name', '刘桂兰',
    '--birth-year', '1938', '--address', ADDRESS, '--phone', PHONE]);
  const phone = enrolledDevice(env, volunteer);
  const otherPhone = enrolledDevice(env, other);

  // Tomorrow in the station's calendar (UTC+8), 09:00 to 11:00 there.
  const day = new Date(Date.now() + 32 * 3_600_000).toISOString().slice(0, 10);
  const slotStart = Date.parse(`${day}T09:00:00+08:00`);
  const slotEnd = Date.parse(`${day}T11:00:00+08:00`);

  const { page } = tab;
  await page.setViewportSize({ width: 1366, height: 768 });
  await signIn(page, env.url, username, undefined, '/console/orders');
  const form = page.locator('[data-testid=place-order]');
  await form.locator('select[name=elder]').selectOption(elder.id);
  await form.locator('select[name=service]').selectOption('companionship');
  await form.locator('input[name=day]').fill(day);
  await form.locator('input[name=from]').fill('09:00');
  await form.locator('input[name=to]').fill('11:00');
  await form.locator('input[name=note]').fill('陪同聊天，带上血压计');
  await submit(page, form.locator('button[type=submit]'));
  assert.match(await page.locator('[role=alert]').innerText(), /已下单：刘桂兰 · 陪伴聊天/);

  // The board of that day shows it with its slot; another day's does not.
  await page.goto(`${env.url}/console/orders?day=${day}&q=${encodeURIComponent('刘桂兰')}`);
  const row = page.locator('tr[data-order]', { hasText: '带上血压计' });
  const order = await row.getAttribute('data-order');
  assert.equal(await row.getAttribute('data-state'), 'requested');
  assert.equal(await row.locator('[data-testid=slot]').innerText(), `${day} 09:00–11:00`);
  await page.goto(`${env.url}/console/orders?day=2020-01-01&q=${encodeURIComponent('刘桂兰')}`);
  assert.equal(await page.locator(`tr[data-order="${order}"]`).count(), 0, 'another day\'s board leaves it out');

  // Its page, at both sizes: the slot, the elder's address for the coordinator, the picker.
  const orderPage = `${env.url}/console/orders/${order}`;
  await everySize(page, 'order', { url: orderPage, allow: [username] });
  assert.equal(await page.locator('[data-testid=slot]').innerText(), `${day} 09:00–11:00`);
  assert.match(await page.locator('[data-testid=contact]').innerText(), new RegExp(`${ADDRESS} · ${PHONE}`));
  const suggested = page.locator('[data-testid=suggested]');
  assert.equal(await suggested.locator(`tr[data-volunteer="${volunteer.id}"] [data-testid=free]`).count(), 1, 'free that day');
  await page.goto(`${orderPage}?q=zjg`);
  assert.deepEqual(await page.locator('[data-testid=everyone] tr[data-volunteer]').evaluateAll((rows) => rows.map((r) => r.dataset.volunteer)),
    [volunteer.id], 'the initials find 张建国 among the volunteers');
  await submit(page, page.locator(`[data-testid=everyone] tr[data-volunteer="${volunteer.id}"] [data-testid=dispatch]`));
  assert.match(await page.locator('[role=alert]').innerText(), /已派单：刘桂兰 · 陪伴聊天 → 张建国/);
  assert.equal(await page.locator(`tr[data-order="${order}"]`).getAttribute('data-state'), 'dispatched');
  await everySize(page, 'order-dispatched', { url: orderPage, allow: [username] });

  // The dispatched volunteer's phone: the slot, the address and the phone.
  cli(phone, ['sync']);
  const [assignment, ...more] = cli(phone, ['assignments'], { json: true });
  assert.deepEqual(more, []);
  assert.equal(assignment.order, order);
  assert.equal(assignment.elder, elder.id);
  assert.equal(assignment.note, '陪同聊天，带上血压计');
  assert.equal(assignment.state, 'dispatched');
  assert.equal(Date.parse(assignment.slot.start), slotStart);
  assert.equal(Date.parse(assignment.slot.end), slotEnd);
  assert.equal(assignment.elder_address, ADDRESS);
  assert.equal(assignment.elder_phone, PHONE);
  assert.match(cli(phone, ['assignments']), new RegExp(`address: ${ADDRESS}, phone: ${PHONE}`));

  // Another volunteer of the station: nothing offered, nothing of the elder's on the phone.
  cli(otherPhone, ['sync']);
  assert.deepEqual(cli(otherPhone, ['assignments'], { json: true }), []);
  assert.equal(storeHolds(otherPhone, ADDRESS), false, 'the address is nowhere in the other volunteer\'s store');
  assert.equal(storeHolds(otherPhone, PHONE), false, 'nor the elder\'s phone number');

  // The acceptance comes back to the board.
  cli(phone, ['accept', order]);
  cli(phone, ['sync']);
  await page.goto(`${env.url}/console/orders?state=accepted&q=${encodeURIComponent('刘桂兰')}`);
  const accepted = page.locator(`tr[data-order="${order}"]`);
  assert.equal(await accepted.getAttribute('data-state'), 'accepted');
  assert.match(await accepted.innerText(), /已接单/);
  assert.match(await accepted.innerText(), /张建国/);

  // Served: the order links to its visit, and the address leaves the volunteer's phone.
  const visit = cli(phone, ['visit', 'log', '--elder', elder.id, '--service', 'companionship', '--order', order,
    '--start', ago(2), '--end', ago(1), '--note', '量了血压'], { json: true }).id;
  cli(phone, ['sync']);
  const [served] = cli(phone, ['assignments'], { json: true });
  assert.equal(served.state, 'visited');
  assert.equal(served.elder_address, null);
  assert.equal(served.elder_phone, null);
  assert.equal(storeHolds(phone, ADDRESS), false, 'the address left the volunteer\'s store with the order');
  await page.goto(orderPage);
  assert.equal(await page.locator('[data-state]').first().getAttribute('data-state'), 'visited');
  await submit(page, page.locator('[data-testid=visit-link]'));
  assert.match(page.url(), new RegExp(`/console/visits/${visit}$`));
  assert.equal(await page.locator(`a[href="/console/orders/${order}"]`).count(), 1, 'the visit links back to its order');
});
