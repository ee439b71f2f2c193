#!/usr/bin/env bash
# Builds build/TimebankMobileFFI.xcframework on a Mac with Xcode: the static engine library
# (timebank-mobile, release) for iOS devices (aarch64-apple-ios) and the simulator
# (aarch64-apple-ios-sim + x86_64-apple-ios, joined with lipo), with the generated C header and
# module map, and copies the generated TimebankMobile.swift into the package. Package.swift
# then uses the XCFramework as its C module. Refuses on anything but macOS: Linux CI has no
# Apple SDK and tests the package with scripts/test-swift.sh instead.
# Usage: ios/build-xcframework.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"

if [ "$(uname -s)" != Darwin ]; then
  echo "build-xcframework.sh needs macOS with Xcode (xcodebuild and the iOS SDKs); this is $(uname -s)." >&2
  echo "On Linux, scripts/test-swift.sh builds and tests the Swift package against libtimebank_mobile.so." >&2
  exit 1
fi
command -v xcodebuild >/dev/null || { echo "xcodebuild is missing: install Xcode and run xcode-select --install" >&2; exit 1; }
command -v lipo >/dev/null || { echo "lipo is missing: install the Xcode command line tools" >&2; exit 1; }
command -v cargo >/dev/null || { echo "cargo is missing: install Rust with rustup" >&2; exit 1; }

targets=(aarch64-apple-ios aarch64-apple-ios-sim x86_64-apple-ios)
installed="$(rustup target list --installed)"
for target in "${targets[@]}"; do
  grep -qx "$target" <<<"$installed" || { echo "the Rust target $target is missing: rustup target add ${targets[*]}" >&2; exit 1; }
done

cd "$root"
target_dir="${CARGO_TARGET_DIR:-$root/target}"
# The generated Swift and header come from the host build (library mode reads its metadata).
scripts/build-bindings.sh
for target in "${targets[@]}"; do
  cargo build --release --locked -p timebank-mobile --lib --target "$target"
done

build="$here/build"
rm -rf "$build/TimebankMobileFFI.xcframework" "$build/headers" "$build/ios-simulator"
# The module map goes in its own folder under Headers, so it cannot clash with another
# framework's module.modulemap in the app's header search path.
mkdir -p "$build/headers/TimebankMobileFFI" "$build/ios-simulator"
cp "$target_dir/bindings/swift/TimebankMobileFFI.h" "$build/headers/TimebankMobileFFI/"
cp "$target_dir/bindings/swift/TimebankMobileFFI.modulemap" "$build/headers/TimebankMobileFFI/module.modulemap"
lipo -create \
  "$target_dir/aarch64-apple-ios-sim/release/libtimebank_mobile.a" \
  "$target_dir/x86_64-apple-ios/release/libtimebank_mobile.a" \
  -output "$build/ios-simulator/libtimebank_mobile.a"
xcodebuild -create-xcframework \
  -library "$target_dir/aarch64-apple-ios/release/libtimebank_mobile.a" -headers "$build/headers" \
  -library "$build/ios-simulator/libtimebank_mobile.a" -headers "$build/headers" \
  -output "$build/TimebankMobileFFI.xcframework"

"$here/prepare-bindings.sh" "$target_dir/bindings/swift"
echo "ios: $build/TimebankMobileFFI.xcframework; add the ios/ package to the app (File > Add Package Dependencies > Add Local)"
