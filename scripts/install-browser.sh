#!/usr/bin/env bash
# install-browser.sh — installs what the console's browser tests need, once.
#
#   Debian's chromium (/usr/bin/chromium) and a font with Chinese glyphs (fonts-wqy-microhei,
#   so screenshots of the zh-CN pages are readable) from apt, and playwright-core (pinned in
#   tests/console/package.json + package-lock.json) into tests/console/node_modules with
#   `npm ci`. Never `npx playwright install`: the browser is Debian's.
#
# Idempotent: a second run finds both in place and changes nothing (npm ci runs again only
# when package-lock.json changed). A missing tool (no npm, no apt-get) is an error that
# says what to do, never a silent skip.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TESTS="$ROOT/tests/console"
CHROMIUM=/usr/bin/chromium

say() { echo "install-browser: $*"; }
fail() { echo "install-browser: ERROR: $*" >&2; exit 1; }

command -v node >/dev/null || fail "node not found; install Node.js 20 (Debian: apt-get install -y nodejs npm)"
command -v npm >/dev/null || fail "npm not found; install it (Debian: apt-get install -y npm)"

has_cjk_font() { command -v fc-list >/dev/null && [[ -n "$(fc-list :lang=zh 2>/dev/null)" ]]; }

if [[ ! -x "$CHROMIUM" ]] || ! has_cjk_font; then
    command -v apt-get >/dev/null || fail "apt-get not found; install Chromium ($CHROMIUM) and a Chinese font (fonts-wqy-microhei)"
    export DEBIAN_FRONTEND=noninteractive
    # Update the package lists once: only when apt cannot see a chromium candidate yet.
    policy="$(apt-cache policy chromium 2>/dev/null || true)"
    if [[ "$policy" != *"Candidate: "[0-9]* ]]; then
        say "apt-get update (once: no chromium candidate in the package lists)"
        apt-get update -qq || fail "apt-get update failed; check the Debian mirror is reachable"
    fi
    say "installing chromium and fonts-wqy-microhei from Debian"
    apt-get install -y -qq chromium fonts-wqy-microhei fontconfig >/dev/null \
        || fail "apt-get install chromium fonts-wqy-microhei failed"
fi
has_cjk_font || fail "no font with Chinese glyphs after installing fonts-wqy-microhei (fc-list :lang=zh is empty)"
"$CHROMIUM" --version >/dev/null 2>&1 || fail "$CHROMIUM does not run; reinstall it (apt-get install --reinstall chromium)"

# playwright-core, exactly as locked. The stamp remembers which lock file was installed.
stamp="$TESTS/node_modules/.package-lock.sha256"
want="$(sha256sum "$TESTS/package-lock.json" | cut -d' ' -f1)"
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" || ! -d "$TESTS/node_modules/playwright-core" ]]; then
    say "npm ci in tests/console (playwright-core as locked)"
    (cd "$TESTS" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --silent) \
        || fail "npm ci failed in $TESTS; check that the npm registry is reachable"
    echo "$want" > "$stamp"
fi
say "ready: $("$CHROMIUM" --version 2>/dev/null | head -1), playwright-core $(node -p "require('$TESTS/node_modules/playwright-core/package.json').version")"
