// helpers.mjs — shared helpers of the console's browser tests: the relay under test
// (started by scripts/test-console.sh, or here when run alone), its admin commands, the
// `timebank` CLI, headless Debian chromium through playwright-core, sign-in, screenshots
// under target/console-screenshots/, and the checks every page passes at a phone's and a
// desktop's size (no sideways scrolling, actions within reach, names on one line, chart
// labels of 12 px or more) and in Chinese (no codes, English phrases or bare ids).
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
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
/** The two sizes every page is checked at: a phone (390×844) and a desktop (1366×768). */
export const SIZES = [
  { name: 'phone', width: 390, height: 844 },
  { name: 'desktop', width: 1366, height: 768 },
];
export const PASSWORD = 'correct horse battery';
/** Words the bureau's report may show untranslated: the file formats and the period's pattern. */
export const BUREAU_WORDS = ['Excel', 'XLSX', 'YYYY'];

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

/** Runs the `timebank` CLI expecting it to fail: { status, stderr }. */
export function cliFails(dir, args) {
  const run = spawnSync(CLI_BIN, ['--data', dir, ...args], { encoding: 'utf8' });
  assert.notEqual(run.status, 0, `timebank ${args.join(' ')} should fail:\n${run.stdout}`);
  return { status: run.status, stderr: run.stderr };
}

/** The stations' month (UTC+8) of a time in ms, `YYYY-MM`. */
export const monthOf = (ms) => new Date(ms + 8 * 3_600_000).toISOString().slice(0, 7);

/**
 * Logs a finished companionship visit of `minutes` from `start` (ms) to `elder` with the
 * CLI on the device store `phone`, confirmed by the elder, and syncs it: the visit's id.
 */
export function logConfirmedVisit(phone, elder, start, minutes) {
  const visit = cli(phone, ['visit', 'log', '--elder', elder.id, '--service', 'companionship',
    '--start', new Date(start).toISOString(), '--end', new Date(start + minutes * 60_000).toISOString()], { json: true }).id;
  cli(phone, ['visit', 'confirm', visit, '--by', 'elder']);
  cli(phone, ['sync']);
  return visit;
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

/** Headless Debian chromium with a fresh profile (scripts off with `javaScriptEnabled: false`): { context, page, dialogs, close() }. */
export async function browser({ javaScriptEnabled = true } = {}) {
  const profile = mkdtempSync(path.join(tmpdir(), 'tb-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    javaScriptEnabled,
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

/** Saves a full-window screenshot as target/console-screenshots/NAME.png (`fullPage`: the whole page). */
export async function screenshot(page, name, { fullPage = false } = {}) {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage });
}

/**
 * Checks that the page fits the window it is shown in: it does not scroll sideways, every
 * visible primary action (and approve/dispatch/revoke/confirm button) lies within the
 * window's width, names stay on one line, an enrollment code and its QR are whole, and
 * chart labels are drawn at 12 px or more. `label` names the page in failures.
 */
export async function checkFits(page, label) {
  const found = await page.evaluate(() => {
    const width = window.innerWidth;
    const visible = (el) => el.checkVisibility();
    const outside = (el) => { const r = el.getBoundingClientRect(); return r.left < -0.5 || r.right > width + 0.5; };
    const describe = (el) => `${el.tagName.toLowerCase()} "${el.innerText.trim().slice(0, 30)}"`;
    const actions = [...document.querySelectorAll(
      'button.primary, a.button.primary, [data-testid=approve], [data-testid=dispatch], [data-testid=revoke], [data-testid=confirm]',
    )].filter(visible);
    const whole = [...document.querySelectorAll('[data-testid=enroll-code], [data-testid=enroll-qr] svg, [data-testid=relay-url]')]
      .filter(visible);
    const names = [...document.querySelectorAll('.name, .person')].filter(visible)
      .filter((el) => el.getClientRects().length > 1 || el.getBoundingClientRect().height > 2.2 * parseFloat(getComputedStyle(el).fontSize));
    const small = [];
    for (const svg of document.querySelectorAll('figure.chart svg')) {
      if (!visible(svg)) continue;
      const scale = svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
      for (const text of svg.querySelectorAll('text')) {
        const px = parseFloat(text.getAttribute('font-size')) * scale;
        if (px < 12) small.push(`"${text.textContent}" at ${px.toFixed(1)} px`);
      }
    }
    return {
      width,
      scrollWidth: document.documentElement.scrollWidth,
      offscreen: [...actions, ...whole].filter(outside).map(describe),
      wrapped: names.map(describe),
      small: small.slice(0, 5),
    };
  });
  assert.ok(found.scrollWidth <= found.width, `${label}: the page scrolls sideways (${found.scrollWidth} px wide in a ${found.width} px window)`);
  assert.deepEqual(found.offscreen, [], `${label}: actions or the code out of the window`);
  assert.deepEqual(found.wrapped, [], `${label}: names broken over lines`);
  assert.deepEqual(found.small, [], `${label}: chart labels smaller than 12 px`);
}

/** English a Chinese page once showed (the ledger's memos, the audit's details, states). */
export const ENGLISH_PHRASES = [
  'visit to', 'min logged', 'credited', 'one-time code', 'wrong password', 'overlaps visit', 'device of',
  'program', 'member:', 'held:', 'pool:', 'earn', 'approved', 'rejected', 'dispatched', 'accepted', 'waiting',
  'elder', 'volunteer', 'coins', 'Not done', 'Not Found', 'companionship', 'redeem', 'correction', 'reversal',
  'could not be taken back', 'donation pool', 'confirmed',
];

/**
 * Checks that the page reads in Chinese throughout: its visible text (leaving out the
 * small id lines, class `id`, what is marked translate="no" (a code to type, a household
 * number, the username) and the language switch) holds no code of a message
 * (`review.approve`, `under-review`, `coins_issued`), no phrase of ENGLISH_PHRASES, no
 * other English word (`allow`: words that belong, like the username or a relay address),
 * and no bare member, visit, order or request id.
 */
export async function checkChinese(page, label, allow = []) {
  const text = await page.evaluate(() => {
    const out = [];
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const el = node.parentElement;
      if (!el || el.closest('.id, .lang, [translate=no]') || !el.checkVisibility()) continue;
      out.push(node.textContent);
    }
    return out.join(' ');
  });
  const ids = text.match(/\b[mvor]-[0-9a-f]{8,}\b/g);
  assert.equal(ids, null, `${label}: bare ids where names belong: ${ids}\n${text}`);
  const codes = text.match(/\b[a-z]+(?:[._-][a-z]+)+\b/g);
  assert.equal(codes, null, `${label}: untranslated codes: ${codes}\n${text}`);
  const phrases = ENGLISH_PHRASES.filter((phrase) => text.toLowerCase().includes(phrase.toLowerCase()));
  assert.deepEqual(phrases, [], `${label}: English phrases\n${text}`);
  let rest = text;
  for (const word of ['English', 'CSV', ...allow]) rest = rest.split(word).join(' ');
  const words = rest.match(/[A-Za-z]{3,}/g);
  assert.equal(words, null, `${label}: English words: ${words}\n${text}`);
}

/**
 * Opens `url` (or runs `open`, which loads the page) at each of SIZES, checks that it fits
 * (checkFits) and, unless `chinese` is false, that it reads in Chinese (checkChinese with
 * `allow`), and saves target/console-screenshots/NAME-phone.png and NAME-desktop.png of
 * the whole page. The window is left at the desktop's size.
 */
export async function everySize(page, name, { url, open, allow = [], chinese = true } = {}) {
  for (const size of SIZES) {
    await page.setViewportSize({ width: size.width, height: size.height });
    if (open) await open(); else await page.goto(url);
    await checkFits(page, `${name} at ${size.name} size`);
    if (chinese) await checkChinese(page, `${name} at ${size.name} size`, allow);
    await screenshot(page, `${name}-${size.name}`, { fullPage: true });
  }
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
