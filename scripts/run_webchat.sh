#!/usr/bin/env bash
# run_webchat.sh [extra rasa args]: the web chat page on
# http://$WEBCHAT_HOST:$WEBCHAT_PORT/ next to the assistant (Rasa with the
# socket.io channel on $RASA_HOST:$RASA_PORT, action server, model server).
# Rasa accepts cross-origin requests (and socket.io connections) only from
# WEBCHAT_ALLOWED_ORIGINS, by default the page's origin; the page server and
# Rasa share WEBCHAT_SESSION_SECRET, which signs the chat sessions.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/defaults.sh
scripts/setup_webchat.sh
mkdir -p var/log

read -r -a origins <<< "${WEBCHAT_ALLOWED_ORIGINS//,/ }"

.venv/rasa/bin/python webchat/serve.py > var/log/webchat.log 2>&1 &
page=$!
trap 'kill $page 2>/dev/null || true' EXIT INT TERM
echo "==> web chat page on http://$WEBCHAT_HOST:$WEBCHAT_PORT/ (log: var/log/webchat.log)"
scripts/run_assistant.sh run --cors "${origins[@]}" "$@"
