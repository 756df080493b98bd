#!/usr/bin/env bash
# run_redteam.sh [--cap N] [--budget-minutes M] ...: the red-team run (make redteam).
# Sets up garak's own environment (.venv/redteam), then runs benchmarks/redteam/run_redteam.py
# in the Rasa environment, which starts the stack on loopback, runs garak and writes
# benchmarks/results/redteam.md. Options: run_redteam.sh --help.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/defaults.sh
benchmarks/redteam/setup_env.sh
# no model hub is reachable: every Hugging Face client stays offline
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1
exec .venv/rasa/bin/python -m benchmarks.redteam.run_redteam "$@"
