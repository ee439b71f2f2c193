#!/usr/bin/env bash
# build-native.sh — builds libtimebank_mobile.so for Android (arm64-v8a, armeabi-v7a, x86_64)
# with cargo-ndk into android/timebank/build/rustJniLibs/<abi>/, where the Gradle module
# packs them into the AAR, and generates the Kotlin bindings the module compiles.
#
# Needs, on a developer's workstation: the Android NDK (ANDROID_NDK_HOME, or an ndk/ folder
# under ANDROID_HOME / ANDROID_SDK_ROOT), cargo-ndk (`cargo install cargo-ndk`) and the three
# Rust targets (`rustup target add aarch64-linux-android armv7-linux-androideabi
# x86_64-linux-android`). It checks each and stops with what to install; it never builds
# something else in their place. The CI machines have no NDK, so this script is not run in CI.
#
# Usage: android/build-native.sh [--debug]    (default: a release build, as shipped in the app)
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"
out="$here/timebank/build/rustJniLibs"
profile=release
if [[ "${1:-}" == "--debug" ]]; then profile=debug; fi

fail() { echo "build-native: ERROR: $*" >&2; exit 1; }

# Find the NDK: ANDROID_NDK_HOME, else the newest ndk/<version> of the SDK.
ndk="${ANDROID_NDK_HOME:-${ANDROID_NDK_ROOT:-}}"
if [[ -z "$ndk" ]]; then
    sdk="${ANDROID_HOME:-${ANDROID_SDK_ROOT:-}}"
    if [[ -n "$sdk" && -d "$sdk/ndk" ]]; then
        ndk="$(find "$sdk/ndk" -mindepth 1 -maxdepth 1 -type d | sort -V | tail -n 1)"
    fi
fi
[[ -n "$ndk" && -d "$ndk" ]] || fail "no Android NDK on this machine. Install one with Android Studio's SDK Manager \
(SDK Tools > NDK) or sdkmanager 'ndk;27.2.12479018', then set ANDROID_NDK_HOME or ANDROID_HOME. \
(The project's CI machines have no Android SDK or NDK: there the Kotlin code is tested on the JVM \
by scripts/test-kotlin.sh instead.)"
export ANDROID_NDK_HOME="$ndk"

command -v cargo-ndk >/dev/null || fail "cargo-ndk not found; install it with: cargo install cargo-ndk"
targets="aarch64-linux-android armv7-linux-androideabi x86_64-linux-android"
installed="$(rustup target list --installed)"
for target in $targets; do
    grep -qx "$target" <<<"$installed" || fail "Rust target $target missing; install with: rustup target add $targets"
done

cd "$repo"
profile_flag=()
if [[ "$profile" == release ]]; then profile_flag=(--release); fi
echo "build-native: building libtimebank_mobile.so ($profile) with the NDK at $ndk"
cargo ndk -t arm64-v8a -t armeabi-v7a -t x86_64 --platform 24 -o "$out" \
    build -p timebank-mobile --lib "${profile_flag[@]}"

# The Kotlin bindings come from the host build of the same crate (uniffi reads its metadata).
scripts/build-bindings.sh

for abi in arm64-v8a armeabi-v7a x86_64; do
    [[ -f "$out/$abi/libtimebank_mobile.so" ]] || fail "cargo ndk did not produce $out/$abi/libtimebank_mobile.so"
done
echo "build-native: done; now open android/ in Android Studio, or run: (cd android && gradle :app:assembleDebug)"
