// ledger.test.mjs — the ledger pages in a real browser: a correction posted at the console
// changes the balance on the page and on the volunteer's `timebank` CLI after sync; an
// accepted redemption is fulfilled from the console.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { admin, cli, deviceDir, member, screenshot, setupStation, signIn, useBrowser } from './helpers.mjs';

const shared = useBrowser();

test('a correction changes the balance on the ledger page and on the CLI; a redemption is fulfilled', async () => {
  const { station, username } = setupStation(shared.env.data);
  const volunteer = member(shared.env.data, station, 'volunteer', '陈志强', 1955);
  const phone = deviceDir();
  const { code } = admin(shared.env.data, ['enroll-code', '--member', volunteer.id]);
  cli(phone, ['enroll', '--relay', shared.env.url, '--code', code]);

  const { page } = shared.tab;
  await signIn(page, shared.env.url, username, undefined, '/console/ledger');
  const balance = () => page.locator(`tr[data-member="${volunteer.id}"] [data-testid=balance]`).innerText();
  assert.equal(await balance(), '0');
  await page.click(`tr[data-member="${volunteer.id}"] a`);
  await page.fill('[data-testid=correction] [name=minutes]', '90');
  await page.fill('[data-testid=correction] [name=reason]', '纸质记录补登');
  await Promise.all([page.waitForLoadState('load'), page.click('[data-testid=correction] button')]);
  assert.match(await page.locator('[role=alert]').innerText(), /已记更正/);
  assert.equal(await page.locator('p [data-testid=balance]').innerText(), '1.5');
  assert.match(await page.locator('tr[data-kind=correction]').innerText(), /纸质记录补登/);
  await screenshot(page, 'ledger-member');
  await page.goto(`${shared.env.url}/console/ledger`);
  assert.equal(await balance(), '1.5');
  await screenshot(page, 'ledger');

  cli(phone, ['sync']);
  assert.equal(cli(phone, ['balance'], { json: true }).confirmed_minutes, 90);

  const request = cli(phone, ['redeem', '--service', 'tcm-physiotherapy', '--minutes', '60'], { json: true }).id;
  cli(phone, ['sync']);
  await page.goto(`${shared.env.url}/console/redemptions`);
  const row = page.locator(`tr[data-request="${request}"]`);
  assert.match(await row.innerText(), /已受理/);
  await screenshot(page, 'redemptions');
  await Promise.all([page.waitForLoadState('load'), row.locator('text=已兑现').click()]);
  assert.match(await page.locator('[role=alert]').innerText(), /已兑现：陈志强 · 兑换 中医理疗 · 1 币/);
  assert.match(await page.locator(`tr[data-request="${request}"]`).innerText(), /已兑现/);
  cli(phone, ['sync']);
  const after = cli(phone, ['balance'], { json: true });
  assert.equal(after.confirmed_minutes, 30);
  assert.equal(after.reserved_minutes, 0);
});
