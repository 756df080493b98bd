# Local defaults for every setting, in one place. Sourced by the other
# scripts; a variable already set in the environment wins.
# shellcheck shell=bash

# services
: "${ACTION_SERVER_HOST:=127.0.0.1}"   # the action server has no auth: keep it on loopback/private networks
: "${ACTION_SERVER_PORT:=5055}"
: "${ACTION_ENDPOINT_URL:=http://${ACTION_SERVER_HOST}:${ACTION_SERVER_PORT}/webhook}"
: "${RASA_HOST:=127.0.0.1}"
: "${RASA_PORT:=5005}"
: "${MODEL_SERVER_HOST:=127.0.0.1}"
: "${MODEL_SERVER_PORT:=8000}"
: "${MODEL_SERVER_URL:=http://${MODEL_SERVER_HOST}:${MODEL_SERVER_PORT}/v1}"


# tracker store: in memory unless TRACKER_STORE_TYPE=sql
: "${TRACKER_STORE_TYPE:=rasa.core.tracker_store.InMemoryTrackerStore}"
: "${TRACKER_STORE_DIALECT:=postgresql}"
: "${TRACKER_STORE_HOST:=127.0.0.1}"
: "${TRACKER_STORE_PORT:=5432}"
: "${TRACKER_STORE_DB:=rasa}"
: "${TRACKER_STORE_USERNAME:=postgres}"
: "${TRACKER_STORE_PASSWORD:=}"

# lock store: in memory unless LOCK_STORE_TYPE=redis. "redis" means our
# lock_stores.atomic_redis.AtomicRedisLockStore: Rasa's own RedisLockStore lets
# two Rasa servers take the same ticket (see that module), so it is not used.
: "${LOCK_STORE_TYPE:=in_memory}"
if [ "$LOCK_STORE_TYPE" = redis ]; then
  LOCK_STORE_TYPE=lock_stores.atomic_redis.AtomicRedisLockStore
fi
: "${LOCK_STORE_HOST:=127.0.0.1}"
: "${LOCK_STORE_PORT:=6379}"
: "${LOCK_STORE_DB:=1}"
: "${LOCK_STORE_KEY_PREFIX:=pinecrest}"

# channels (credentials.yml, README.md "Channels and security"); secrets default to empty
: "${CHANNEL_MAX_MESSAGE_CHARS:=2000}"     # longer messages get a polite reply, unprocessed
: "${CHANNEL_MAX_REQUEST_BYTES:=1048576}"  # bigger request bodies are refused (413)
: "${SLACK_BOT_TOKEN:=}"                   # Slack is off until token and signing secret are set
: "${SLACK_SIGNING_SECRET:=}"
: "${SLACK_CHANNEL:=}"
: "${SLACK_API_BASE_URL:=https://slack.com/api/}"
: "${SLACK_SEEN_EVENTS_REDIS_URL:=}"       # several Rasa servers: redis://host:6379/2
: "${SLACK_LINK_ALLOWLIST:=pinecrest.example}" # hosts (and subdomains) the bot may link to on Slack; commas or spaces
: "${WEBCHAT_HOST:=127.0.0.1}"             # the web chat page (make webchat)
: "${WEBCHAT_PORT:=8080}"
: "${WEBCHAT_SOCKET_URL:=http://${RASA_HOST}:${RASA_PORT}}"
# signs web chat sessions (page server and Rasa share it); empty: one made for
# this machine, kept in var/webchat_session_secret (never committed)
: "${WEBCHAT_SESSION_SECRET:=}"
if [ -z "$WEBCHAT_SESSION_SECRET" ]; then
  _secret_file="$(dirname "${BASH_SOURCE[0]}")/../var/webchat_session_secret"
  if [ ! -s "$_secret_file" ]; then
    mkdir -p "$(dirname "$_secret_file")"
    _secret_tmp=$(umask 077 && mktemp "$_secret_file.XXXXXX")
    od -An -tx1 -N32 /dev/urandom | tr -d ' \n' > "$_secret_tmp"
    mv -n "$_secret_tmp" "$_secret_file"; rm -f "$_secret_tmp"
  fi
  WEBCHAT_SESSION_SECRET=$(cat "$_secret_file")
  unset _secret_file _secret_tmp
fi
# origins whose pages may open the chat (Origin header; commas or spaces, "*": any)
if [ -z "${WEBCHAT_ALLOWED_ORIGINS:-}" ]; then
  WEBCHAT_ALLOWED_ORIGINS="http://${WEBCHAT_HOST}:${WEBCHAT_PORT}"
  [ "$WEBCHAT_HOST" = 127.0.0.1 ] && WEBCHAT_ALLOWED_ORIGINS+=" http://localhost:${WEBCHAT_PORT}"
fi
# HTTP API (make run-api): refused unless a token or a JWT secret is set
: "${RASA_API_TOKEN:=}"
: "${RASA_JWT_SECRET:=}"
: "${RASA_JWT_METHOD:=HS256}"
export CHANNEL_MAX_MESSAGE_CHARS CHANNEL_MAX_REQUEST_BYTES \
  SLACK_BOT_TOKEN SLACK_SIGNING_SECRET SLACK_CHANNEL SLACK_API_BASE_URL SLACK_SEEN_EVENTS_REDIS_URL SLACK_LINK_ALLOWLIST \
  WEBCHAT_HOST WEBCHAT_PORT WEBCHAT_SOCKET_URL WEBCHAT_SESSION_SECRET WEBCHAT_ALLOWED_ORIGINS \
  RASA_API_TOKEN RASA_JWT_SECRET RASA_JWT_METHOD

# never reach for a model hub; no telemetry
: "${HF_HUB_OFFLINE:=1}"
: "${TRANSFORMERS_OFFLINE:=1}"
: "${RASA_TELEMETRY_ENABLED:=false}"
: "${SQLALCHEMY_SILENCE_UBER_WARNING:=1}"

export ACTION_SERVER_HOST ACTION_SERVER_PORT ACTION_ENDPOINT_URL RASA_HOST RASA_PORT \
  MODEL_SERVER_HOST MODEL_SERVER_PORT MODEL_SERVER_URL \
  TRACKER_STORE_TYPE TRACKER_STORE_DIALECT TRACKER_STORE_HOST TRACKER_STORE_PORT \
  TRACKER_STORE_DB TRACKER_STORE_USERNAME TRACKER_STORE_PASSWORD \
  LOCK_STORE_TYPE LOCK_STORE_HOST LOCK_STORE_PORT LOCK_STORE_DB LOCK_STORE_KEY_PREFIX \
  HF_HUB_OFFLINE TRANSFORMERS_OFFLINE RASA_TELEMETRY_ENABLED SQLALCHEMY_SILENCE_UBER_WARNING

# quieter logs: Rasa 3.6's dependencies print many deprecation warnings
: "${PYTHONWARNINGS:=ignore::DeprecationWarning}"
export PYTHONWARNINGS
