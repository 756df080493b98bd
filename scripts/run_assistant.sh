#!/usr/bin/env bash
# run_assistant.sh shell|run [extra rasa args]
#   shell: chat in this terminal (rasa shell)
#   run:   serve the channels in credentials.yml on $RASA_HOST:$RASA_PORT (REST, ...)
# Starts the action server and the model server in the background first and
# stops them again when Rasa exits. Logs: var/log/.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/defaults.sh
mode=${1:-shell}; shift || true
mkdir -p var/log

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

# the time limits of a turn must nest (the Rasa server checks them too)
.venv/rasa/bin/python -m settings.time_budgets
.venv/rasa/bin/python -m actions.seed

echo "==> action server on $ACTION_SERVER_HOST:$ACTION_SERVER_PORT (log: var/log/action-server.log)"
SANIC_HOST=$ACTION_SERVER_HOST .venv/rasa/bin/rasa run actions --actions actions \
  --port "$ACTION_SERVER_PORT" > var/log/action-server.log 2>&1 &
pids+=($!)

if [[ -x .venv/llm/bin/python && -z ${NO_MODEL_SERVER:-} ]]; then
  echo "==> model server on $MODEL_SERVER_HOST:$MODEL_SERVER_PORT (log: var/log/model-server.log)"
  .venv/llm/bin/python -m model_server --host "$MODEL_SERVER_HOST" --port "$MODEL_SERVER_PORT" \
    > var/log/model-server.log 2>&1 &
  pids+=($!)
  # embed the knowledge base as soon as the model server is up (the action
  # server answers by word overlap until then, and picks the index up)
  ( scripts/wait_for_http.sh "http://$MODEL_SERVER_HOST:$MODEL_SERVER_PORT/health" 600 \
      && .venv/rasa/bin/python -m actions.knowledge_base ) > var/log/knowledge-index.log 2>&1 &
  pids+=($!)
fi

scripts/wait_for_http.sh "http://$ACTION_SERVER_HOST:$ACTION_SERVER_PORT/health" 60

case $mode in
  shell)
    .venv/rasa/bin/rasa shell --model models --endpoints endpoints.yml --interface "$RASA_HOST" \
      --credentials credentials.yml --port "$RASA_PORT" "$@"
    ;;
  run)
    echo "==> Rasa on $RASA_HOST:$RASA_PORT: POST http://$RASA_HOST:$RASA_PORT/webhooks/rest/webhook"
    .venv/rasa/bin/rasa run --model models --endpoints endpoints.yml \
      --credentials credentials.yml --interface "$RASA_HOST" --port "$RASA_PORT" "$@"
    ;;
  *) echo "usage: $0 shell|run" >&2; exit 2 ;;
esac
