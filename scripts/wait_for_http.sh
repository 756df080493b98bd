#!/usr/bin/env bash
# wait_for_http.sh URL [SECONDS]: waits until URL answers 200, or fails.
set -euo pipefail
url=$1; deadline=$(( $(date +%s) + ${2:-120} ))
until curl -fsS -o /dev/null "$url" 2>/dev/null; do
  if (( $(date +%s) > deadline )); then echo "timed out waiting for $url" >&2; exit 1; fi
  sleep 1
done
