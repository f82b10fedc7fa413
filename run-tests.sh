#!/usr/bin/env bash
# Install what the tests need (Python packages, Debian's Chromium and nginx) and run the whole suite.
#   bash run-tests.sh                                 # on SQLite (the embedded default)
#   PVD_TEST_DATABASE=postgresql bash run-tests.sh    # on the PostgreSQL server of the machine
# Extra arguments go to pytest (e.g. `bash run-tests.sh -k login`).
set -euo pipefail
cd "$(dirname "$0")"

python -m pip install --quiet --disable-pip-version-check -r requirements-test.txt

# Debian packages the tests drive for real: Chromium (browser tests, in its headless build: about half the CPU of
# a page load in the full browser), sqlite3 (the operator's guide's backups), nginx and systemd-analyze (the
# deployment test, tests/test_deploy.py).
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium fonts-liberation)
command -v chromium-headless-shell >/dev/null 2>&1 || missing+=(chromium-headless-shell)
command -v sqlite3 >/dev/null 2>&1 || missing+=(sqlite3)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx)
command -v systemd-analyze >/dev/null 2>&1 || missing+=(systemd)  # checks deploy/'s service units
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "Installing Debian packages for the tests: ${missing[*]}..."
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "Missing Debian packages: run 'sudo apt-get install ${missing[*]}' first." >&2
    exit 1
  fi
fi

if [ "${PVD_TEST_DATABASE:-sqlite}" = "postgresql" ] && [ -z "${PVD_TEST_PG_ADMIN_URL:-}" ]; then
  # The machine's own server (trust authentication on 127.0.0.1:5432); start it if it is down.
  if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
    echo "Starting the local PostgreSQL server..."
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n 1)" main start
    for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
  fi
fi

# Compiled modules are written and reused (__pycache__, git-ignored), as Python does by default: with
# PYTHONDONTWRITEBYTECODE set (some environments set it), every process of the run (each worker's collection, with
# pytest's rewritten test modules, the app servers, the spawned processes) compiles the project again; a collection
# took 9.4 s of CPU instead of 4.4 s.
unset PYTHONDONTWRITEBYTECODE

# pytest's own exit code is kept: 5 (no test collected) fails like any other error.
# The 30 slowest tests are listed at the end: where CI time goes, run after run.
exec python -m pytest -n auto --dist loadgroup --durations=30 "$@"
