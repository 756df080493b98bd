#!/usr/bin/env bash
# Create / update the red-team scanner's own Python 3.11 environment (.venv/redteam) with garak.
# Idempotent: a stamp file remembers the hash of the requirements, so an unchanged environment is
# left alone (~0 s). torch is installed first and pinned in every later step: garak's dependencies
# (transformers, accelerate) would otherwise let pip pick the newest torch, a multi-GB CUDA build.
#
#   benchmarks/redteam/setup_env.sh           # create or update
#   FORCE=1 benchmarks/redteam/setup_env.sh   # reinstall even if the stamp matches
#   LOCK=1 benchmarks/redteam/setup_env.sh    # resolve without the lock, then rewrite the lock
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="${REDTEAM_VENV:-$ROOT/.venv/redteam}"
REQ="$ROOT/requirements/redteam.txt"
LOCK_FILE="$ROOT/requirements/redteam.lock.txt"
TORCH=torch==2.13.0
STAMP="$VENV/.setup-stamp"

hash_inputs() {
  { cat "$REQ"; [ -f "$LOCK_FILE" ] && cat "$LOCK_FILE"; echo "$TORCH"; } | sha256sum | cut -d' ' -f1
}

if [ -z "${FORCE:-}" ] && [ -z "${LOCK:-}" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$(hash_inputs)" ]; then
  echo "red-team environment $VENV is up to date"
  exit 0
fi

if [ ! -x "$VENV/bin/python" ]; then
  PYTHON="$("$ROOT/scripts/find_python.sh" 3.11)"
  "$PYTHON" -m venv "$VENV"
fi
PIP=("$VENV/bin/pip" install --quiet --disable-pip-version-check)
pin="$(mktemp)"
trap 'rm -f "$pin"' EXIT
echo "$TORCH" > "$pin"

"${PIP[@]}" "$TORCH"  # first, and alone: the CPU build on disk
if [ -n "${LOCK:-}" ] || [ ! -f "$LOCK_FILE" ]; then
  "${PIP[@]}" -r "$REQ" -c "$pin"
  "$VENV/bin/pip" freeze --disable-pip-version-check | grep -v '^-e ' \
    | sed -E 's/^(torch==[0-9.]+)\+cpu$/\1/' > "$LOCK_FILE"
  echo "wrote $LOCK_FILE"
else
  "${PIP[@]}" -r "$REQ" -c "$LOCK_FILE" -c "$pin"
fi

# fail here, not in the middle of a run, if torch was replaced or garak is missing
"$VENV/bin/python" - <<'PY'
import importlib.metadata as metadata
torch = metadata.version("torch")
assert torch.split("+")[0] == "2.13.0", f"torch {torch}: expected the 2.13.0 CPU build"
print("garak", metadata.version("garak"), "with torch", torch)
PY
hash_inputs > "$STAMP"
echo "red-team environment ready: $VENV"
