// districts.test.mjs — 通存通兑 in a real browser: a coin earned at a station of one
// district (put on the ledger at the console) is asked for on the volunteer's `timebank`
// CLI at a station of another district, whose coordinator fulfils it in the console; the
// CLI's balance follows, and the city reads the districts' figures at both sizes.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { BUREAU_WORDS, PASSWORD, admin, browser, cli, deviceDir, everySize, member, screenshot, setupStation, signIn, startRelay, submit, unique } from './helpers.mjs';

test('a coin earned in one district is redeemed at a station of another, and the city sees it', async () => {
  // A relay of its own: the city reads every station, and other tests' stations hold
  // names typed in English or as markup on purpose.
  const dir = mkdtempSync(path.join(tmpdir(), 'tb-districts-'));
  const env = await startRelay(path.join(dir, 'data'));
  const tab = await browser();
  try {
    await walk(env, tab.page);
  } finally {
    await tab.close();
    env.process.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
});

async function walk(env, page) {
  const data = env.data;
  const home = setupStation(data, '曹杨新村街道');
  const changning = admin(data, ['district', 'create', '--name', '长宁区']);
  const there = setupStation(data, '新华路街道');
  admin(data, ['station', 'move', '--station', there.station.id, '--district', changning.id]);
  const volunteer = member(data, home.station, 'volunteer', '陈志强', 1955);
  const phone = deviceDir();
  const { code } = admin(data, ['enroll-code', '--member', volunteer.id]);
  cli(phone, ['enroll', '--relay', env.url, '--code', code]);

  await signIn(page, env.url, home.username, undefined, `/console/ledger/${volunteer.id}`);
  await page.fill('[data-testid=correction] [name=minutes]', '90');
  await page.fill('[data-testid=correction] [name=reason]', '纸质记录补登');
  await submit(page, page.locator('[data-testid=correction] button'));
  cli(phone, ['sync']);
  assert.equal(cli(phone, ['balance'], { json: true }).confirmed_minutes, 90);

  const request = cli(phone, ['redeem', '--service', 'tcm-physiotherapy', '--minutes', '60', '--at', there.station.id], { json: true }).id;
  cli(phone, ['sync']);
  // The volunteer's own station does not list it; the station that gives the service does.
  await page.goto(`${env.url}/console/redemptions`);
  assert.equal(await page.locator(`tr[data-request="${request}"]`).count(), 0);
  await signIn(page, env.url, there.username, undefined, '/console/redemptions');
  const row = page.locator(`tr[data-request="${request}"]`);
  assert.match(await row.innerText(), /陈志强[\s\S]*来自曹杨新村街道[\s\S]*已受理/);
  await screenshot(page, 'redemptions-across');
  await submit(page, row.locator('text=已兑现'));
  assert.match(await page.locator(`tr[data-request="${request}"]`).innerText(), /已兑现/);
  cli(phone, ['sync']);
  const after = cli(phone, ['balance'], { json: true });
  assert.equal(after.confirmed_minutes, 30);
  assert.equal(after.reserved_minutes, 0);

  const city = unique('shi');
  admin(data, ['console-user', 'create', '--username', city, '--city', '--password-stdin'], `${PASSWORD}\n`);
  await signIn(page, env.url, city, PASSWORD, '/console/districts');
  const across = page.locator(`tr[data-district="${changning.id}"]`);
  assert.equal(await across.locator('[data-testid=redeemed-in]').innerText(), '1');
  assert.match(await across.innerText(), /新华路街道/);
  await everySize(page, 'districts', { url: `${env.url}/console/districts`, allow: [city] });

  // The bureau's report of the city (ADR 43), from the districts page: this year, a row
  // per district; the correction counts in outstanding only, the redemption across.
  await page.click('[data-testid=bureau-link]');
  await page.click('[data-testid=other-period]');
  const year = new Date(Date.now() + 8 * 3_600_000).toISOString().slice(0, 4);
  assert.match(await page.locator('h1').innerText(), new RegExp(`全市 ${year}年 服务报表`));
  const figure = (row, name) => page.locator(`[data-testid=summary] tr[data-row="${row}"] [data-testid=${name}]`).innerText();
  assert.equal(await figure(changning.id, 'redeemed_in'), '1');
  assert.equal(await figure(changning.id, 'redeemed_out'), '0');
  assert.equal(await figure('city', 'redeemed_out'), '1');
  assert.equal(await figure('city', 'coins_issued'), '0');
  assert.equal(await figure('city', 'coins_redeemed'), '1');
  assert.equal(await figure('city', 'coins_outstanding'), '0.5');
  const tcm = page.locator('[data-testid=services] tr[data-row=tcm-physiotherapy]');
  assert.equal(await tcm.locator('[data-testid=coins_redeemed]').innerText(), '1');
  await everySize(page, 'bureau-city', { url: page.url(), allow: [city, ...BUREAU_WORDS] });
}
