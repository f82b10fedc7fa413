#!/usr/bin/env bash
# The app's lines that only the given tests reach on PostgreSQL: line coverage (app servers, xdist workers and
# spawned processes included) of those tests alone, against the rest of the PostgreSQL run without them. Run it
# before marking a browser test `database_independent` (tests/conftest.py): database code in its output needs a
# test on both databases first. About 10 minutes on 2 cores (the whole PostgreSQL suite, under coverage).
#   bash tests/coverage_only_by.sh TEST_ID [TEST_ID ...] [-- PYTEST_ARGS for the rest of the run, e.g. -k meeting]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
ids=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do ids+=("$1"); shift; done
[ $# -gt 0 ] && shift
if [ ${#ids[@]} -eq 0 ]; then
  echo "usage: bash tests/coverage_only_by.sh TEST_ID [TEST_ID ...] [-- PYTEST_ARGS]" >&2
  exit 2
fi
python -m pip install --quiet --disable-pip-version-check "coverage>=7.10"  # (patch = subprocess)
work=$(mktemp -d)
deselect=()
for id in "${ids[@]}"; do deselect+=(--deselect "$id"); done

measure() {  # name, pytest arguments...: combined coverage of one PostgreSQL run, as JSON in $work/<name>.json
  local name=$1
  shift
  mkdir -p "$work/$name"
  cat >"$work/$name.rc" <<EOF
[run]
parallel = true
patch = subprocess, _exit
sigterm = true
data_file = $work/$name/.coverage
source = $root
omit =
    $root/tests/*
    $root/db/*
    $root/docs/*
    $root/deploy/*
EOF
  # PVD_TEST_KEEP_MARKED: the given tests run on PostgreSQL even if already marked database_independent.
  COVERAGE_RCFILE="$work/$name.rc" PVD_TEST_DATABASE=postgresql python -m coverage run -m pytest -q \
    -p no:cacheprovider "$@" >"$work/$name.log" 2>&1 || { tail -20 "$work/$name.log"; exit 1; }
  python -m coverage combine --quiet --rcfile "$work/$name.rc"
  python -m coverage json --quiet --rcfile "$work/$name.rc" -o "$work/$name.json"
}

echo "The given tests alone..."
PVD_TEST_KEEP_MARKED=1 measure only "${ids[@]}"
echo "The rest of the PostgreSQL run (log: $work/rest.log)..."
measure rest -n 2 --dist loadgroup "${deselect[@]}" "$@"

python - "$work/only.json" "$work/rest.json" <<'EOF'
"""Lines executed by the given tests and by nothing else, grouped in runs of consecutive statements."""
import json
import sys
from pathlib import Path

only, rest = (json.load(open(path))["files"] for path in sys.argv[1:3])
total = 0
for name, data in sorted(only.items()):
    extra = sorted(set(data["executed_lines"]) - set(rest.get(name, {}).get("executed_lines", [])))
    if not extra:
        continue
    total += len(extra)
    statements = sorted(set(data["executed_lines"]) | set(data["missing_lines"]))
    position = {line: index for index, line in enumerate(statements)}
    source = Path(name).read_text().splitlines()
    print(f"== {name}: {len(extra)} line(s)")
    for number in extra:
        joined = number != extra[0] and position[number] == position[previous] + 1
        print(f"  {'' if joined else '-'}{number:5d}: {source[number - 1].strip()[:110]}")
        previous = number
print(f"{total} line(s) reached on PostgreSQL only by the given tests")
EOF
rm -rf "$work"
