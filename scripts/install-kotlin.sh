#!/usr/bin/env bash
# install-kotlin.sh — installs what the Kotlin binding tests need, once, and caches it.
#
#   Kotlin 2 (kotlinc, stdlib, kotlin-test, kotlinx-coroutines) from the npm package
#   `kotlin-compiler`, pinned, into $TIMEBANK_CACHE/kotlin (default ~/.cache/timebank/kotlin);
#   JNA, JUnit 4 and Hamcrest from Debian (libjna-java, junit4, libhamcrest-java).
#
# Idempotent: a second run finds everything in place and only checks it. A missing tool
# (no java, no npm, apt unavailable) is an error that says what to do, never a silent skip.
# On success it prints the paths other scripts use, as shell assignments:
#   KOTLIN_HOME=...  KOTLIN_LIB=...  JNA_JAR=...  JUNIT_JAR=...  HAMCREST_JAR=...
# so a caller can `eval "$(scripts/install-kotlin.sh --print-env)"`.
set -euo pipefail

KOTLIN_VERSION=2.4.20 # pinned: every run compiles with the same compiler; change it here
CACHE="${TIMEBANK_CACHE:-$HOME/.cache/timebank}"
KOTLIN_PREFIX="$CACHE/kotlin"
KOTLIN_HOME="$KOTLIN_PREFIX/node_modules/kotlin-compiler"
KOTLIN_LIB="$KOTLIN_HOME/lib"
JNA_JAR=/usr/share/java/jna.jar
JUNIT_JAR=/usr/share/java/junit4.jar
HAMCREST_JAR=/usr/share/java/hamcrest.jar

print_env=0
if [[ "${1:-}" == "--print-env" ]]; then print_env=1; fi

say() { if [[ $print_env -eq 0 ]]; then echo "install-kotlin: $*"; else echo "install-kotlin: $*" >&2; fi; }
fail() { echo "install-kotlin: ERROR: $*" >&2; exit 1; }

command -v java >/dev/null || fail "java not found; install a JDK 17+ (Debian: apt-get install -y openjdk-17-jdk-headless)"
command -v npm >/dev/null || fail "npm not found; install Node.js 20 with npm (Debian: apt-get install -y npm)"

# Kotlin from npm into the cache, unless that version is there already.
if [[ "$(cat "$KOTLIN_HOME/build.txt" 2>/dev/null || true)" != "$KOTLIN_VERSION" ]]; then
    say "installing kotlin-compiler@$KOTLIN_VERSION from npm into $KOTLIN_PREFIX"
    mkdir -p "$KOTLIN_PREFIX"
    npm install --silent --no-audit --no-fund --prefix "$KOTLIN_PREFIX" "kotlin-compiler@$KOTLIN_VERSION" >&2 \
        || fail "npm install kotlin-compiler@$KOTLIN_VERSION failed; check that the npm registry is reachable"
fi
for jar in kotlin-stdlib.jar kotlin-test.jar kotlin-test-junit.jar kotlinx-coroutines-core-jvm.jar; do
    [[ -f "$KOTLIN_LIB/$jar" ]] || fail "$KOTLIN_LIB/$jar is missing; delete $KOTLIN_PREFIX and run this script again"
done
version="$(cat "$KOTLIN_HOME/build.txt" 2>/dev/null || true)"
[[ "$version" == "$KOTLIN_VERSION" ]] || fail "expected Kotlin $KOTLIN_VERSION in $KOTLIN_HOME, found '${version:-nothing}'; delete $KOTLIN_PREFIX and run again"

# JNA (the generated bindings load the library through it), JUnit 4 and Hamcrest from Debian.
if [[ ! -f "$JNA_JAR" || ! -f "$JUNIT_JAR" || ! -f "$HAMCREST_JAR" ]]; then
    command -v apt-get >/dev/null || fail "apt-get not found; install JNA, JUnit 4 and Hamcrest jars as $JNA_JAR, $JUNIT_JAR, $HAMCREST_JAR"
    say "installing libjna-java, junit4 and libhamcrest-java from Debian"
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y --no-install-recommends libjna-java junit4 libhamcrest-java >&2; then
        apt-get update >&2 || fail "apt-get update failed; check that the Debian mirror is reachable"
        apt-get install -y --no-install-recommends libjna-java junit4 libhamcrest-java >&2 \
            || fail "apt-get install libjna-java junit4 libhamcrest-java failed"
    fi
fi
for jar in "$JNA_JAR" "$JUNIT_JAR" "$HAMCREST_JAR"; do
    [[ -f "$jar" ]] || fail "$jar is missing after installing its Debian package"
done

# Prove the compiler works once: a hello-world compiled and run with plain java. The stamp
# records the Kotlin version, so a reinstall checks again.
stamp="$KOTLIN_PREFIX/.verified-$version"
if [[ ! -f "$stamp" ]]; then
    say "checking that kotlinc $version compiles and java runs the result"
    work="$(mktemp -d)"
    trap 'rm -rf "$work"' EXIT
    printf 'fun main() { println("hello from Kotlin " + KotlinVersion.CURRENT) }\n' > "$work/Hello.kt"
    "$KOTLIN_HOME/bin/kotlinc" "$work/Hello.kt" -d "$work/out" >&2 2>"$work/kotlinc.log" \
        || { cat "$work/kotlinc.log" >&2; fail "kotlinc could not compile a hello-world"; }
    out="$(java -cp "$work/out:$KOTLIN_LIB/kotlin-stdlib.jar" HelloKt)" \
        || fail "java could not run the compiled hello-world"
    [[ "$out" == "hello from Kotlin $KOTLIN_VERSION" ]] || fail "hello-world printed '$out'"
    say "$out"
    touch "$stamp"
fi

say "Kotlin $version at $KOTLIN_HOME, JNA at $JNA_JAR, JUnit at $JUNIT_JAR"
if [[ $print_env -eq 1 ]]; then
    printf 'KOTLIN_HOME=%q\nKOTLIN_LIB=%q\nJNA_JAR=%q\nJUNIT_JAR=%q\nHAMCREST_JAR=%q\n' \
        "$KOTLIN_HOME" "$KOTLIN_LIB" "$JNA_JAR" "$JUNIT_JAR" "$HAMCREST_JAR"
fi
