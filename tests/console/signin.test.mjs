// signin.test.mjs — signing in at the console in a real browser: a wrong password says so,
// the right one lands on the page asked for; Chinese by default, English on request.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { screenshot, setupStation, signIn, useBrowser } from './helpers.mjs';

const shared = useBrowser();

test('a wrong password is refused with a message, then the right one signs in', async () => {
  const { username } = setupStation(shared.env.data);
  const { page } = shared.tab;
  await signIn(page, shared.env.url, username, 'not the password', '/console/members');
  const alert = page.locator('[role=alert]');
  assert.match(await alert.innerText(), /用户名或密码不正确/);
  assert.match(page.url(), /\/console\/login/);
  await screenshot(page, 'login-wrong-password');

  await signIn(page, shared.env.url, username, undefined, '/console/members');
  assert.match(page.url(), /\/console\/members$/);
  assert.equal(await page.locator('[data-testid=user]').count(), 1);
  assert.match(await page.locator('[data-testid=user]').innerText(), new RegExp(username));
  const cookies = await shared.tab.context.cookies();
  const session = cookies.find((c) => c.name === 'tb_session');
  assert.ok(session, 'a session cookie');
  assert.equal(session.httpOnly, true);
  assert.equal(session.sameSite, 'Strict');
  assert.equal(await page.evaluate(() => document.cookie.includes('tb_session')), false, 'scripts cannot read it');

  // Sign out: back at the sign-in page, and the console asks to sign in again.
  await Promise.all([page.waitForLoadState('load'), page.click('header form button')]);
  assert.match(page.url(), /\/console\/login/);
  assert.match(await page.locator('[role=alert]').innerText(), /您已退出/);
  await page.goto(`${shared.env.url}/console/members`);
  assert.match(page.url(), /\/console\/login\?next=/);
});

test('the console is in Chinese by default and switches to English', async () => {
  const { username } = setupStation(shared.env.data);
  const { page } = shared.tab;
  await signIn(page, shared.env.url, username, undefined, '/console/members');
  assert.equal(await page.getAttribute('html', 'lang'), 'zh-CN');
  assert.equal(await page.locator('h1').innerText(), '成员');
  assert.ok(await page.locator('nav >> text=审核').isVisible());
  await screenshot(page, 'members-zh');
  await Promise.all([page.waitForLoadState('load'), page.click('text=English')]);
  assert.equal(await page.getAttribute('html', 'lang'), 'en');
  assert.equal(await page.locator('h1').innerText(), 'Members');
  await page.goto(`${shared.env.url}/console/ledger`);
  assert.equal(await page.locator('h1').innerText(), 'Ledger', 'the choice is remembered');
  await screenshot(page, 'ledger-en');
  await Promise.all([page.waitForLoadState('load'), page.click('text=中文')]);
  assert.equal(await page.locator('h1').innerText(), '账本');
});
