#!/usr/bin/env bash
# Creates (or updates) the load test's environment in .venv/load: Locust from PyPI
# (requirements/load.txt), used by benchmarks/load/ (make bench-load), and installs
# Debian's prometheus (a Go binary, /usr/bin/prometheus, which the load test runs in
# a container on the stack's network) if missing. Idempotent: does nothing when the
# requirements have not changed since the last install.
#
#   scripts/setup_load_env.sh           # create or update
#   LOCK=1 scripts/setup_load_env.sh    # resolve without the lock, then rewrite the lock
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.venv/load
stamp=$venv/.installed
lock=requirements/load.lock.txt
inputs_hash() { cat requirements/load.txt "$lock" 2>/dev/null | sha256sum | cut -d' ' -f1; }
wanted=$(inputs_hash || true)
if [[ ! -x /usr/bin/prometheus ]]; then
  echo "==> installing Prometheus (Debian's prometheus)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus > /dev/null
fi
if [[ -z ${LOCK:-} && -f $stamp && $(cat "$stamp") == "$wanted" ]]; then
  exit 0
fi
echo "==> setting up the load test in $venv (Python 3.11)"
if [[ ! -x $venv/bin/python ]]; then
  "$(scripts/find_python.sh 3.11)" -m venv "$venv"
fi
pip=("$venv/bin/python" -m pip install -q --disable-pip-version-check)
"${pip[@]}" --upgrade pip==24.3.1
if [[ -n ${LOCK:-} || ! -f $lock ]]; then
  "${pip[@]}" -r requirements/load.txt
  { echo "# pip freeze of .venv/load (LOCK=1 scripts/setup_load_env.sh rewrites it)"
    "$venv/bin/python" -m pip freeze --disable-pip-version-check | grep -v '^-e '; } > "$lock"
  echo "wrote $lock"
else
  "${pip[@]}" -r requirements/load.txt -c "$lock"
fi
# fail here, not in the benchmark, if Locust did not install
"$venv/bin/locust" --version >/dev/null
inputs_hash > "$stamp"
