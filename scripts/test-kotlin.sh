#!/usr/bin/env bash
# test-kotlin.sh — the Kotlin binding tests on the JVM: the generated Kotlin bindings, the android/
# wrapper's pure-Kotlin code and its tests, compiled with kotlinc and run with java against the
# real libtimebank_mobile.so and a real relay on 127.0.0.1.
#
#   scripts/test-kotlin.sh
#
# Steps: scripts/install-kotlin.sh (Kotlin 2.x from npm, JNA and JUnit 4 from Debian; cached),
# scripts/build-bindings.sh (the library and the bindings, target/bindings/kotlin), the relay
# binary, one kotlinc run into target/kotlin-tests/ (skipped when no input changed since the
# last run), then every *Test class under android/timebank/src/test. Prints one line per test
# and `N passed, N failed`; exits non-zero on any failure or missing tool.
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"
fail() { echo "test-kotlin: ERROR: $*" >&2; exit 1; }
started=$SECONDS

eval "$(scripts/install-kotlin.sh --print-env)"

[[ -x scripts/build-bindings.sh ]] || fail "scripts/build-bindings.sh is missing (it builds timebank-mobile and generates the bindings)"
scripts/build-bindings.sh >&2
library="$repo/target/debug/libtimebank_mobile.so"
bindings="$repo/target/bindings/kotlin"
[[ -f "$library" ]] || fail "$library was not built by scripts/build-bindings.sh"
compgen -G "$bindings/org/timebank/mobile/*.kt" >/dev/null \
    || fail "no generated Kotlin bindings under $bindings/org/timebank/mobile; scripts/build-bindings.sh should make them"

echo "test-kotlin: building the relay for the tests" >&2
cargo build --quiet -p timebank-server --bin timebank-relay >&2
relay="$repo/target/debug/timebank-relay"
[[ -x "$relay" ]] || fail "$relay was not built"

main_src="$repo/android/timebank/src/main/kotlin"
test_src="$repo/android/timebank/src/test/kotlin"
out="$repo/target/kotlin-tests"
classes="$out/classes"
classpath="$KOTLIN_LIB/kotlinx-coroutines-core-jvm.jar:$KOTLIN_LIB/kotlin-test.jar:$KOTLIN_LIB/kotlin-test-junit.jar:$JNA_JAR:$JUNIT_JAR:$HAMCREST_JAR"

# One kotlinc run for bindings, wrapper and tests; reused while none of them changed.
inputs="$( (cat "$KOTLIN_HOME/build.txt"; find "$bindings" "$main_src" "$test_src" -name '*.kt' -print0 | sort -z | xargs -0 sha256sum) | sha256sum | cut -d' ' -f1)"
if [[ -f "$out/inputs.sha256" && "$(cat "$out/inputs.sha256")" == "$inputs" && -d "$classes" ]]; then
    echo "test-kotlin: sources unchanged since the last compile; reusing $classes" >&2
else
    echo "test-kotlin: compiling bindings, wrapper and tests with kotlinc $(cat "$KOTLIN_HOME/build.txt") (about a minute on two cores)" >&2
    rm -rf "$classes" "$out/inputs.sha256"
    mkdir -p "$out"
    compile_started=$SECONDS
    if ! "$KOTLIN_HOME/bin/kotlinc" -jvm-target 17 -cp "$classpath" -d "$classes" \
        "$bindings" "$main_src" "$test_src" >"$out/kotlinc.log" 2>&1; then
        cat "$out/kotlinc.log" >&2
        echo "0 passed, 1 failed"
        fail "kotlinc could not compile the bindings, the wrapper or the tests (log: $out/kotlinc.log)"
    fi
    # Our own sources compile without warnings; the generated bindings are uniffi's business.
    if grep -E "^(${main_src}|${test_src}).*warning:" "$out/kotlinc.log" >&2; then
        echo "0 passed, 1 failed"
        fail "kotlinc warned about the wrapper or the tests (above); fix them"
    fi
    echo "$inputs" >"$out/inputs.sha256"
    echo "test-kotlin: compiled in $((SECONDS - compile_started)) s" >&2
fi

mapfile -t tests < <(cd "$classes" && find . -name '*Test.class' ! -name '*$*' | sed 's|^\./||; s|\.class$||; s|/|.|g' | sort)
[[ ${#tests[@]} -gt 0 ]] || fail "no *Test classes were compiled from $test_src"

# The tests' stores and relay data live here; a run that was killed leaves nothing elsewhere.
scratch="$out/tmp"
rm -rf "$scratch"
mkdir -p "$scratch"

status=0
java -Djna.library.path="$repo/target/debug" -Dtimebank.relay="$relay" -Djava.io.tmpdir="$scratch" \
    -cp "$classes:$classpath:$KOTLIN_LIB/kotlin-stdlib.jar" org.timebank.android.JvmTestMainKt "${tests[@]}" || status=$?
echo "test-kotlin: finished in $((SECONDS - started)) s" >&2
exit "$status"
