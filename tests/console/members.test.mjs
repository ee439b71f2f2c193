// members.test.mjs — registering a person at the console, issuing an enrollment code and
// enrolling the real `timebank` CLI with the code shown on the page; markup in a name is
// shown as text; the audit page lists what was done.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cli, deviceDir, screenshot, setupStation, signIn, useBrowser } from './helpers.mjs';

const shared = useBrowser();

async function register(page, fields) {
  await page.goto(`${shared.env.url}/console/members`);
  for (const [name, value] of Object.entries(fields)) {
    if (name === 'role') await page.selectOption('select[name=role]', value);
    else await page.fill(`[data-testid=register] [name=${name}]`, value);
  }
  await Promise.all([page.waitForLoadState('load'), page.click('[data-testid=register] button[type=submit]')]);
}

test('register a volunteer, enroll the CLI with the code on the page, see the device', async () => {
  const { username } = setupStation(shared.env.data);
  const { page } = shared.tab;
  await signIn(page, shared.env.url, username, undefined, '/console/members');
  await screenshot(page, 'members');
  await register(page, {
    name: '张建国', phone: '139 1234 5678', birth_year: '1958', household: 'h-zhang', id_last4: '432X', role: 'volunteer',
  });
  assert.match(page.url(), /\/console\/members\/m-[0-9a-f]+$/);
  assert.match(await page.locator('[role=alert]').innerText(), /已登记：\s*张建国/);
  const member = page.url().split('/').pop();
  assert.match(await page.locator('main').innerText(), /139 1234 5678/);

  await Promise.all([page.waitForLoadState('load'), page.click('text=生成绑定码')]);
  const code = (await page.locator('[data-testid=enroll-code]').innerText()).trim();
  assert.match(code, /^[A-Z2-9]{10}$/);
  assert.ok(await page.locator('[data-testid=enroll-qr] svg').isVisible(), 'the QR code is shown');
  await screenshot(page, 'enroll-code');

  const phone = deviceDir();
  const enrolled = cli(phone, ['enroll', '--relay', shared.env.url, '--code', code], { json: true });
  assert.equal(enrolled.member, member);
  assert.equal(enrolled.role, 'volunteer');
  cli(phone, ['sync']);
  // The same code does not enroll a second device.
  assert.throws(() => cli(deviceDir(), ['enroll', '--relay', shared.env.url, '--code', code]), /used|already/i);

  await page.goto(`${shared.env.url}/console/members/${member}`);
  const row = page.locator(`tr[data-device="${enrolled.device}"]`);
  assert.match(await row.innerText(), /使用中/);
  await screenshot(page, 'member-devices');
  // Revoking asks first, on a page of its own.
  await Promise.all([page.waitForLoadState('load'), row.locator('[data-testid=revoke]').click()]);
  assert.match(await page.locator('[data-testid=confirm-revoke]').innerText(), /确定停用“张建国的手机”吗？/);
  await Promise.all([page.waitForLoadState('load'), page.click('[data-testid=confirm]')]);
  assert.match(await page.locator('[role=alert]').innerText(), /设备已停用/);
  assert.match(await page.locator(`tr[data-device="${enrolled.device}"]`).innerText(), /已停用/);
  assert.throws(() => cli(phone, ['sync']), /revoked|吊销|停用|refused/i, 'a revoked device no longer syncs');

  await page.goto(`${shared.env.url}/console/audit`);
  const audit = await page.locator('main table').innerText();
  // Each action in words, on the person by name (the codes stay in data-action).
  for (const [action, words] of [['sign-in', '登录'], ['member.create', '登记成员'], ['member.enroll-code', '生成绑定码'], ['device.revoke', '停用设备']]) {
    const entry = page.locator(`tr[data-action="${action}"]`).first();
    assert.match(await entry.innerText(), new RegExp(words), `${action} in the audit trail:\n${audit}`);
  }
  assert.match(await page.locator('tr[data-action="device.revoke"]').innerText(), /张建国的手机/);
  assert.ok(!audit.includes('member.create') && !audit.includes('one-time code'), audit);
  assert.ok(audit.includes(username));
  await screenshot(page, 'audit');
});

test('a name with markup is shown as text and runs nothing', async () => {
  const { username } = setupStation(shared.env.data);
  const { page } = shared.tab;
  await signIn(page, shared.env.url, username, undefined, '/console/members');
  const evil = '<script>alert(1)</script>';
  await register(page, { name: evil, birth_year: '1950', role: 'elder' });
  assert.equal(await page.locator('h1').innerText(), evil, 'the title shows the name as typed');
  await page.goto(`${shared.env.url}/console/members`);
  assert.ok((await page.locator('main table').innerText()).includes(evil));
  assert.equal(await page.locator('main script').count(), 0, 'no script element came from the name');
  await page.goto(`${shared.env.url}/console/audit`);
  assert.ok((await page.locator('main table').innerText()).includes(evil));
  assert.deepEqual(shared.tab.dialogs, [], 'no script ran');
});

test('bad values are refused with a clear message and nothing is registered', async () => {
  const { username } = setupStation(shared.env.data);
  const { page } = shared.tab;
  await signIn(page, shared.env.url, username, undefined, '/console/members');
  await page.goto(`${shared.env.url}/console/members`);
  await page.fill('[data-testid=register] [name=name]', '周阿姨');
  // 2090 passes the browser's own check (max 2100) and is refused by the relay.
  await page.fill('[data-testid=register] [name=birth_year]', '2090');
  await Promise.all([page.waitForLoadState('load'), page.click('[data-testid=register] button[type=submit]')]);
  assert.match(await page.locator('[role=alert]').innerText(), /没有登记.*出生年份 2090 不合理/);
  assert.equal(await page.locator('[data-testid=register] [name=name]').inputValue(), '周阿姨', 'the form keeps what was typed');
  await page.goto(`${shared.env.url}/console/members`);
  assert.ok(!(await page.locator('main').innerText()).includes('周阿姨'));
});
