#!/usr/bin/env bash
# The coordinator console's browser tests: installs chromium and playwright-core
# (scripts/install-browser.sh, idempotent), builds the debug `timebank-relay` and
# `timebank`, starts a relay on 127.0.0.1 over a fresh temporary data directory, and runs
# tests/console/*.test.mjs with `node --test` against it (headless Debian chromium).
# Screenshots land in target/console-screenshots/. Prints `N passed, N failed` and exits
# non-zero on any failure (a skipped or cancelled test counts as failed). The relay is
# stopped in a trap whatever happens.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
target_dir="${CARGO_TARGET_DIR:-$root/target}"

scripts/install-browser.sh
cargo build -p timebank-server --bin timebank-relay -p timebank-cli --bin timebank

work="$(mktemp -d "${TMPDIR:-/tmp}/tb-console-test.XXXXXX")"
relay_pid=""
cleanup() {
    if [[ -n "$relay_pid" ]]; then kill "$relay_pid" 2>/dev/null || true; wait "$relay_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

data="$work/data"
log="$work/relay.log"
# Made before the relay starts: the background job opens it in its own time, and the loop
# below must not find it missing.
: >"$log"
"$target_dir/debug/timebank-relay" --data "$data" --listen 127.0.0.1:0 >"$log" 2>&1 &
relay_pid=$!
url=""
for _ in $(seq 1 100); do
    url="$(sed -n 's/^listening on \(http:[^ ]*\)$/\1/p' "$log" | head -1)"
    [[ -n "$url" ]] && break
    kill -0 "$relay_pid" 2>/dev/null || { cat "$log" >&2; echo "0 passed, 1 failed"; echo "test-console: the relay did not start" >&2; exit 1; }
    sleep 0.1
done
[[ -n "$url" ]] || { cat "$log" >&2; echo "0 passed, 1 failed"; echo "test-console: the relay printed no address" >&2; exit 1; }
echo "test-console: relay at $url (data $data)"

rm -rf "$target_dir/console-screenshots"
tap="$work/results.tap"
status=0
(
    cd tests/console
    TB_RELAY_URL="$url" TB_DATA="$data" \
    TB_RELAY_BIN="$target_dir/debug/timebank-relay" TB_CLI_BIN="$target_dir/debug/timebank" \
        node --test --test-concurrency=1 --test-timeout=120000 \
            --test-reporter=spec --test-reporter-destination=stdout \
            --test-reporter=tap --test-reporter-destination="$tap"
) || status=$?

count() { local n; n="$(sed -n "s/^# $1 \([0-9]*\)$/\1/p" "$tap" | tail -1)"; echo "${n:-0}"; }
passed="$(count pass)"
failed=$(( $(count fail) + $(count cancelled) + $(count skipped) + $(count todo) ))
if [[ "$status" -ne 0 && "$failed" -eq 0 ]]; then failed=1; fi
echo "$passed passed, $failed failed"
if [[ "$status" -ne 0 || "$failed" -ne 0 || "$passed" -eq 0 ]]; then
    echo "test-console: relay log: $log" >&2
    tail -20 "$log" >&2 || true
    exit 1
fi
