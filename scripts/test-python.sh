#!/usr/bin/env bash
# The Python suite of the mobile bindings: builds the library and its generated bindings
# (scripts/build-bindings.sh) and the relay binary, installs pytest into a virtualenv
# cached under ~/.cache/timebank (from PyPI, once), and runs mobile-bindings/tests/python
# against the generated module and the built library. Prints `N passed, N failed` and
# exits non-zero on any failure (a skipped test counts as failed).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
target_dir="${CARGO_TARGET_DIR:-$root/target}"
cache="${TIMEBANK_CACHE:-$HOME/.cache/timebank}"
venv="$cache/python-venv"
pytest_version="8.3.4"

command -v python3 >/dev/null || { echo "test-python: python3 is missing (apt-get install python3 python3-venv)" >&2; exit 1; }
scripts/build-bindings.sh >/dev/null
cargo build -p timebank-server --bin timebank-relay

if ! "$venv/bin/python" -m pytest --version 2>/dev/null | grep -q "$pytest_version"; then
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "pytest==$pytest_version"
fi

report="$target_dir/python-tests.xml"
rm -f "$report"
status=0
TIMEBANK_RELAY_BIN="$target_dir/debug/timebank-relay" \
PYTHONPATH="$target_dir/bindings/python" \
PYTHONDONTWRITEBYTECODE=1 \
    "$venv/bin/python" -m pytest mobile-bindings/tests/python -p no:cacheprovider -rfEs --junitxml="$report" || status=$?

[ -f "$report" ] || { echo "0 passed, 1 failed"; echo "test-python: pytest wrote no report (exit $status)" >&2; exit 1; }
read -r passed failed < <("$venv/bin/python" - "$report" <<'PY'
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
total = sum(int(s.get("tests", 0)) for s in suites)
bad = sum(int(s.get(k, 0)) for s in suites for k in ("failures", "errors", "skipped"))
print(total - bad, bad)
PY
)
echo "$passed passed, $failed failed"
if [ "$status" -ne 0 ] || [ "$failed" -ne 0 ] || [ "$passed" -eq 0 ]; then
    exit 1
fi
