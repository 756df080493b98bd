#!/usr/bin/env bash
# Trains the assistant into models/assistant.tar.gz. Rasa skips the parts
# whose data and config did not change.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/defaults.sh
start=$(date +%s)
.venv/rasa/bin/rasa train --domain domain --fixed-model-name assistant --out models "$@"
echo "training took $(( $(date +%s) - start )) s"
