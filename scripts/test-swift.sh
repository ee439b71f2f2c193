#!/usr/bin/env bash
# Runs the ios/ Swift package's XCTest suite on Linux against the real engine library: installs
# Swift (scripts/install-swift.sh: a Debian trixie chroot), builds libtimebank_mobile and the
# generated bindings (scripts/build-bindings.sh) and the relay on the host, bind-mounts the
# repository into the chroot at the same absolute path, runs `swift test` there, and prints
# `N passed, N failed`. Exits non-zero on any failure; always unmounts what it mounted.
# Usage: scripts/test-swift.sh [swift test arguments, e.g. --filter FullStoryTests]
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$(pwd)"
. scripts/swift-chroot.sh
swift_chroot_require_root
command -v cargo >/dev/null || { echo "cargo is missing; install Rust (rustup) first" >&2; exit 1; }

scripts/install-swift.sh
scripts/build-bindings.sh
cargo build -q --locked -p timebank-server --bin timebank-relay

target="${CARGO_TARGET_DIR:-$repo/target}"
target="$(cd "$target" && pwd)"
library_dir="$target/debug"
relay_bin="$target/debug/timebank-relay"
for built in "$library_dir/libtimebank_mobile.so" "$relay_bin"; do
  [ -f "$built" ] || { echo "$built was not built; see the cargo output above" >&2; exit 1; }
done
ios/prepare-bindings.sh --system-library "$target/bindings/swift"

# SwiftPM does not see a change in the C header the module map names by absolute path, so
# after the bindings change its cached build would link stale code (seen: wrong records,
# a bus error). Start the Swift build afresh whenever the generated bindings differ.
bindings_hash=$(cat "$target/bindings/swift/TimebankMobile.swift" "$target/bindings/swift/TimebankMobileFFI.h" | sha256sum | cut -d' ' -f1)
if [ "$(cat "$target/swift-ios/.bindings-sha256" 2>/dev/null || true)" != "$bindings_hash" ]; then
  rm -rf "$target/swift-ios"
  mkdir -p "$target/swift-ios"
  echo "$bindings_hash" > "$target/swift-ios/.bindings-sha256"
fi

trap swift_chroot_unmount_all EXIT
swift_chroot_mount bind "$repo"
case "$target/" in
  "$repo"/*) ;;
  *) swift_chroot_mount bind "$target" ;;
esac
swift_chroot_mount proc /proc

log="$target/swift-test.log"
status=0
# A hung test must fail CI, not hold it: TIMEBANK_SWIFT_TEST_TIMEOUT seconds (default 20 min).
timeout --kill-after=10 "${TIMEBANK_SWIFT_TEST_TIMEOUT:-1200}" chroot "$SWIFT_CHROOT" /usr/bin/env -i PATH=/usr/bin:/bin HOME=/root LANG=C.UTF-8 \
  TIMEBANK_RELAY_BIN="$relay_bin" \
  sh -c 'cd "$1" && shift && exec swift test "$@"' swift-test "$repo/ios" \
  --scratch-path "$target/swift-ios" \
  -Xlinker -L"$library_dir" -Xlinker -rpath -Xlinker "$library_dir" "$@" \
  2>&1 | tee "$log" || status=$?

# XCTest prints "Test Case '...' started" and then "passed" or "failed" per test; a test that
# started and never finished (a crash, the timeout) counts as failed.
started=$(grep -cE "^Test Case '.*' started" "$log" || true)
passed=$(grep -cE "^Test Case '.*' passed" "$log" || true)
failed=$(( started - passed ))
echo "$passed passed, $failed failed"
if [ "$status" -ne 0 ] || [ "$failed" -ne 0 ] || [ "$passed" -eq 0 ]; then
  if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
    echo "swift test did not finish within ${TIMEBANK_SWIFT_TEST_TIMEOUT:-1200} s; see $log" >&2
  elif [ "$failed" -eq 0 ]; then
    echo "swift test failed (exit $status) before reporting its tests; see $log" >&2
  fi
  exit 1
fi
