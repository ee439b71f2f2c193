// helpers.mjs — shared helpers of the console's browser tests (C1 and C2): the relay under
// test (started by scripts/test-console.sh, or here when run alone), its admin commands,
// the `timebank` CLI, headless Debian chromium through playwright-core, sign-in, and
// screenshots under target/console-screenshots/.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before } from 'node:test';
import { chromium } from 'playwright-core';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const RELAY_BIN = process.env.TB_RELAY_BIN ?? path.join(ROOT, 'target/debug/timebank-relay');
export const CLI_BIN = process.env.TB_CLI_BIN ?? path.join(ROOT, 'target/debug/timebank');
export const SCREENSHOTS = path.join(ROOT, 'target/console-screenshots');
export const CHROMIUM = '/usr/bin/chromium';
export const VIEWPORT = { width: 1366, height: 768 };
export const PASSWORD = 'correct horse battery';

let started = null;

/** The relay under test: { url, data }. Started once per test file when the script did not start one. */
export async function relay() {
  if (process.env.TB_RELAY_URL && process.env.TB_DATA) {
    return { url: process.env.TB_RELAY_URL, data: process.env.TB_DATA };
  }
  if (!started) started = startRelay(mkdtempSync(path.join(tmpdir(), 'tb-console-')));
  return started;
}

/** Starts `timebank-relay` on 127.0.0.1 (a free port) over `data`; resolves to { url, data, process }. */
export function startRelay(data, extraArgs = []) {
  return new Promise((resolve, reject) => {
    const child = spawn(RELAY_BIN, ['--data', data, '--listen', '127.0.0.1:0', ...extraArgs], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stderr.on('data', (chunk) => { err += chunk; });
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const found = out.match(/listening on (http:\/\/\S+)/);
      if (found && (!extraArgs.includes('--demo') || out.includes('password'))) {
        resolve({ url: found[1], data, process: child, output: out });
      }
    });
    child.on('exit', (code) => reject(new Error(`timebank-relay exited (${code}) before listening:\n${out}\n${err}`)));
    process.on('exit', () => child.kill('SIGTERM'));
  });
}

/** Runs `timebank-relay --data DATA admin --json ARGS…` and returns its JSON answer. */
export function admin(data, args, input) {
  const out = execFileSync(RELAY_BIN, ['--data', data, 'admin', '--json', ...args], {
    input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'],
  });
  return JSON.parse(out);
}

let counter = 0;

/** A unique suffix for names in this test run. */
export function unique(prefix) {
  counter += 1;
  return `${prefix}${process.pid % 10000}x${counter}${Date.now() % 100000}`;
}

/**
 * A fresh station with a coordinator who has a console account:
 * { station, coordinator, username, password }.
 */
export function setupStation(data, name = '曹杨新村街道') {
  const station = admin(data, ['station', 'create', '--name', name]);
  const coordinator = admin(data, ['member', 'create', '--station', station.id, '--role', 'coordinator',
    '--name', '李协调', '--birth-year', '1975']);
  const username = unique('coord');
  admin(data, ['console-user', 'create', '--username', username, '--station', station.id,
    '--member', coordinator.id, '--password-stdin'], `${PASSWORD}\n`);
  return { station, coordinator, username, password: PASSWORD };
}

/** Registers a member with the admin command: the member's JSON. */
export function member(data, station, role, name, birthYear = role === 'elder' ? 1940 : 1958) {
  return admin(data, ['member', 'create', '--station', station.id, '--role', role, '--name', name,
    '--birth-year', String(birthYear)]);
}

/** Runs the `timebank` CLI on the device store `dir`; returns stdout (JSON parsed with { json: true }). */
export function cli(dir, args, { json = false } = {}) {
  const out = execFileSync(CLI_BIN, ['--data', dir, ...(json ? ['--json'] : []), ...args], {
    encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'],
  });
  return json ? JSON.parse(out) : out;
}

/** A fresh directory for a device store. */
export function deviceDir() {
  return mkdtempSync(path.join(tmpdir(), 'tb-device-'));
}

/** A device store in a fresh directory, enrolled for `member` with `timebank enroll` and a
 * code from `timebank-relay admin enroll-code`: the directory. */
export function enrolledDevice(env, member) {
  const dir = deviceDir();
  const { code } = admin(env.data, ['enroll-code', '--member', member.id]);
  cli(dir, ['enroll', '--relay', env.url, '--code', code]);
  return dir;
}

/** Headless Debian chromium with a fresh profile: { context, page, dialogs, close() }. */
export async function browser() {
  const profile = mkdtempSync(path.join(tmpdir(), 'tb-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: VIEWPORT,
    locale: 'zh-CN',
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic',
      '--no-first-run', '--disable-component-update', '--disable-sync',
    ],
  });
  const page = context.pages()[0] ?? await context.newPage();
  // A dialog means a script ran that no console page has: kept for tests to assert on.
  const dialogs = [];
  page.on('dialog', async (dialog) => {
    dialogs.push(dialog.message());
    await dialog.dismiss();
  });
  return {
    context,
    page,
    dialogs,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Signs in on the console's sign-in page; resolves once the next page has loaded. */
export async function signIn(page, url, username, password = PASSWORD, next = '') {
  await page.goto(`${url}/console/login${next ? `?next=${encodeURIComponent(next)}` : ''}`);
  await page.fill('input[name=username]', username);
  await page.fill('input[name=password]', password);
  await Promise.all([page.waitForLoadState('load'), page.click('button[type=submit]')]);
}

/** Clicks `button` (a locator) and resolves once the page it leads to has loaded. */
export async function submit(page, button) {
  await Promise.all([page.waitForLoadState('load'), button.click()]);
}

/** Saves a full-window screenshot as target/console-screenshots/NAME.png. */
export async function screenshot(page, name) {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`) });
}

/**
 * For a test file: the relay and one browser tab, opened before its tests and closed after
 * them. Returns { env: { url, data }, tab: { context, page } }, filled in before the first test.
 */
export function useBrowser() {
  const shared = {};
  before(async () => {
    shared.env = await relay();
    shared.tab = await browser();
  });
  after(async () => { await shared.tab?.close(); });
  return shared;
}
