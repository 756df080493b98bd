#!/usr/bin/env bash
# run_api.sh [extra rasa args]: the assistant with Rasa's HTTP API enabled
# (conversations, model, ...), and never without authentication:
#   RASA_API_TOKEN   callers add ?token=<token> (full access)
#   RASA_JWT_SECRET  callers send "Authorization: Bearer <JWT>" signed with it
#                    (RASA_JWT_METHOD, default HS256); payload
#                    {"user": {"username": ..., "role": "admin" | "user"}}, where
#                    a "user" may only reach /conversations/<username>/...
# Both may be set. Everything else as `make run` (scripts/run_assistant.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/defaults.sh

if [[ -z $RASA_API_TOKEN && -z $RASA_JWT_SECRET ]]; then
  echo "refusing to enable the HTTP API without authentication:" \
    "set RASA_API_TOKEN and/or RASA_JWT_SECRET" >&2
  exit 2
fi
# guessable secrets are no better than none (HS256 wants 32 bytes: RFC 7518)
for check in RASA_API_TOKEN:16 RASA_JWT_SECRET:32; do
  name=${check%:*}
  min_length=${check#*:}
  value=${!name}
  if [[ -n $value && ${#value} -lt $min_length ]]; then
    echo "refusing to enable the HTTP API: $name is shorter than $min_length characters" >&2
    exit 2
  fi
done

auth=()
# "--option=value": a secret may start with "-"
[[ -n $RASA_API_TOKEN ]] && auth+=("--auth-token=$RASA_API_TOKEN")
[[ -n $RASA_JWT_SECRET ]] && auth+=("--jwt-secret=$RASA_JWT_SECRET" "--jwt-method=$RASA_JWT_METHOD")
# Rasa 3.6 takes these only as arguments: other users of this machine can
# read them in the process list, so run it where they cannot (a container).
exec scripts/run_assistant.sh run --enable-api "${auth[@]}" "$@"
