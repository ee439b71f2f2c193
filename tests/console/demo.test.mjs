// demo.test.mjs — `timebank-relay --demo` on a fresh data directory: it prints how to sign
// in, the seeded station's console shows members, balances and visits waiting for review,
// and the demo city's district and city accounts read their stations.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { browser, screenshot, signIn, startRelay } from './helpers.mjs';

test('the demo station signs in with the printed account and has work waiting', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'tb-demo-'));
  const data = path.join(dir, 'data');
  const demo = await startRelay(data, ['--demo']);
  const tab = await browser();
  try {
    const found = demo.output.match(/username (\S+)\s+password (\S+)/);
    assert.ok(found, demo.output);
    assert.match(demo.output, new RegExp(`${demo.url}/console/`));
    const [, username, password] = found;
    const { page } = tab;
    await signIn(page, demo.url, username, password, '/console/members');
    const members = await page.locator('main table').innerText();
    for (const name of ['张建国', '孙桂兰', '李红梅']) assert.ok(members.includes(name), members);
    await screenshot(page, 'demo-members');
    await page.goto(`${demo.url}/console/ledger`);
    const balances = await page.locator('[data-testid=balance]').allInnerTexts();
    assert.ok(balances.some((b) => Number(b) > 0), `someone has coins: ${balances}`);
    await page.goto(`${demo.url}/console/review`);
    assert.ok(await page.locator('tr[data-visit]').count() >= 3, 'visits wait for review');
    await screenshot(page, 'demo-review');
    assert.ok(await page.locator('[data-presence=failed]').count() >= 1, 'a copied tag link waits with its reason');
    assert.match(demo.output, /proof of presence: 6 of the first station's 20 visits were approved without a coordinator/);
    await page.goto(`${demo.url}/console/tags`);
    assert.equal(await page.locator('tr[data-tag]').count(), 2, 'two elders have tags');
    await screenshot(page, 'demo-tags');
    await page.goto(`${demo.url}/console/redemptions`);
    assert.equal(await page.locator('tr[data-request]').count(), 1);

    // The district (普陀区) reads its two stations' members, the city all three stations'.
    const district = demo.output.match(/district \(read-only\): username (\S+)/);
    const city = demo.output.match(/city \(read-only\): username (\S+)/);
    assert.ok(district && city, demo.output);
    for (const [account, seen, unseen] of [[district[1], ['李红梅', '赵丽华'], ['何静']], [city[1], ['李红梅', '赵丽华', '何静'], []]]) {
      const reader = await browser();
      try {
        await signIn(reader.page, demo.url, account, password, '/console/members');
        const listed = await reader.page.locator('main table').innerText();
        for (const name of seen) assert.ok(listed.includes(name), `${account} sees ${name}: ${listed}`);
        for (const name of unseen) assert.ok(!listed.includes(name), `${account} does not see ${name}`);
        await screenshot(reader.page, `demo-${account}-members`);
        // 通存通兑 in the demo: a coin of 普陀区 redeemed at 新华路 (长宁区).
        await reader.page.goto(`${demo.url}/console/districts`);
        const changning = reader.page.locator('tr[data-district]', { hasText: '长宁区' });
        if (account === city[1]) assert.equal(await changning.locator('[data-testid=redeemed-in]').innerText(), '1');
        else assert.equal(await changning.count(), 0, 'the district reads its own district only');
      } finally {
        await reader.close();
      }
    }
  } finally {
    await tab.close();
    demo.process.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
});
