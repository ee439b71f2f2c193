#!/usr/bin/env bash
# Runs each fuzz target briefly (default 30 s) with cargo-fuzz on the nightly toolchain,
# installing cargo-fuzz first if it is missing. Usage: scripts/fuzz-smoke.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-30}"
if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked
fi
rustup toolchain list | grep -q nightly || { echo "the nightly toolchain is needed for cargo fuzz" >&2; exit 1; }
mkdir -p fuzz/corpus/wire_decode fuzz/corpus/enroll_link fuzz/corpus/change_bounds fuzz/corpus/answer_decode fuzz/corpus/live_events fuzz/corpus/evidence_parse
for target in $(cargo +nightly fuzz list); do
  echo "fuzzing $target for ${seconds}s"
  cargo +nightly fuzz run "$target" -- -max_total_time="$seconds" -rss_limit_mb=2048
done
