#!/usr/bin/env bash
# Runs every test suite, as CI does: the Rust workspace, the relay's store and relays on a
# throwaway PostgreSQL, the Python, Kotlin and Swift binding suites, and the coordinator
# console in headless Chromium. Each suite installs
# the tools it needs (idempotently, cached) through its own script. Every suite runs even
# when an earlier one failed; a summary lists each with its time, and the exit status is
# non-zero if any failed.
set -uo pipefail
cd "$(dirname "$0")/.."

results=()
failed=0
run() {
    local name=$1
    shift
    echo
    echo "==> $name: $*"
    local start=$SECONDS
    if "$@"; then
        results+=("$name: ok ($((SECONDS - start)) s)")
    else
        results+=("$name: FAILED ($((SECONDS - start)) s)")
        failed=1
    fi
}

# The PostgreSQL tests run in their own suite, against a throwaway cluster
# (scripts/postgres.sh); the Rust suite skips them, saying so.
run rust bash -c 'scripts/install-haproxy.sh && scripts/install-systemd-analyze.sh && TIMEBANK_TEST_SKIP_POSTGRES="the postgres suite runs them" cargo test --workspace --locked'
run postgres bash scripts/postgres.sh cargo test --locked -p timebank-server --lib --test relay postgres
run python bash scripts/test-python.sh
run kotlin bash scripts/test-kotlin.sh
run swift bash scripts/test-swift.sh
run console bash scripts/test-console.sh

echo
echo "==> summary"
printf '  %s\n' "${results[@]}"
exit "$failed"
