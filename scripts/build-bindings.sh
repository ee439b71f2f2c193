#!/usr/bin/env bash
# Builds the mobile library (timebank-mobile, debug) and generates its Kotlin, Swift and
# Python bindings with the crate's own uniffi-bindgen, in library mode, into
# target/bindings/{kotlin,swift,python}/. The generated files are build output: never
# committed. Prints where everything is.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
target_dir="${CARGO_TARGET_DIR:-$root/target}"
out="$target_dir/bindings"

cargo build -p timebank-mobile --lib --bin uniffi-bindgen
case "$(uname -s)" in
    Darwin) library="$target_dir/debug/libtimebank_mobile.dylib" ;;
    *) library="$target_dir/debug/libtimebank_mobile.so" ;;
esac
[ -f "$library" ] || { echo "build-bindings: $library was not built" >&2; exit 1; }
bindgen="$target_dir/debug/uniffi-bindgen"

for language in kotlin swift python; do
    rm -rf "${out:?}/$language"
    mkdir -p "$out/$language"
    "$bindgen" generate --library "$library" --language "$language" --out-dir "$out/$language" --no-format
done
# Python loads the library from beside its module.
cp "$library" "$out/python/"

echo "library: $library"
for language in kotlin swift python; do
    echo "$language: $out/$language"
    find "$out/$language" -type f | sort | sed 's/^/  /'
done
