#!/usr/bin/env bash
# run_webchat.sh [extra rasa args]: the web chat page on
# http://$WEBCHAT_HOST:$WEBCHAT_PORT/ next to the assistant (Rasa with the
# socket.io channel on $RASA_HOST:$RASA_PORT, action server, model server).
# The page's origin is the only one Rasa accepts cross-origin requests from.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/defaults.sh
scripts/setup_webchat.sh
mkdir -p var/log

origins=("http://$WEBCHAT_HOST:$WEBCHAT_PORT")
[[ $WEBCHAT_HOST == 127.0.0.1 ]] && origins+=("http://localhost:$WEBCHAT_PORT")

.venv/rasa/bin/python webchat/serve.py > var/log/webchat.log 2>&1 &
page=$!
trap 'kill $page 2>/dev/null || true' EXIT INT TERM
echo "==> web chat page on http://$WEBCHAT_HOST:$WEBCHAT_PORT/ (log: var/log/webchat.log)"
scripts/run_assistant.sh run --cors "${origins[@]}" "$@"
