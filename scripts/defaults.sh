# Local defaults for every setting: defaults.env at the project root, one
# KEY=value line each (settings/defaults.py reads the same file for Python).
# Sourced by the other scripts: each variable that is unset or empty gets its
# default, and all of them are exported. Below: the defaults computed here.
# shellcheck shell=bash

_project_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# Expands ${NAME} references into $_expanded. Nothing else is expanded: the
# file is data, so a $(...) in it must never run.
_expand_references() {
  local text=$1 name
  _expanded=""
  while [[ $text == *'${'* ]]; do
    _expanded+=${text%%'${'*}
    text=${text#*'${'}
    name=${text%%\}*}
    text=${text#*\}}
    if [[ $name == PROJECT_ROOT ]]; then _expanded+=$_project_root; else _expanded+=${!name-}; fi
  done
  _expanded+=$text
}

while IFS= read -r _line || [[ -n $_line ]]; do
  _line="${_line#"${_line%%[![:space:]]*}"}"
  [[ -z $_line || $_line == \#* ]] && continue
  _name="${_line%%=*}"; _name="${_name%"${_name##*[![:space:]]}"}"
  _value="${_line#*=}"
  _value="${_value#"${_value%%[![:space:]]*}"}"; _value="${_value%"${_value##*[![:space:]]}"}"
  if [[ ! $_name =~ ^[A-Z_][A-Z0-9_]*$ || $_line != *=* ]]; then
    echo "defaults.env: expected KEY=value, got: $_line" >&2
    return 1
  fi
  if [[ -z ${!_name:-} ]]; then
    _expand_references "$_value"
    printf -v "$_name" '%s' "$_expanded"
  fi
  export "${_name?}"
done < "$_project_root/defaults.env"
unset _line _name _value _expanded
unset -f _expand_references

# "redis" means our lock_stores.atomic_redis.AtomicRedisLockStore: Rasa's own
# RedisLockStore lets two Rasa servers take the same ticket (see that module)
if [ "$LOCK_STORE_TYPE" = redis ]; then
  LOCK_STORE_TYPE=lock_stores.atomic_redis.AtomicRedisLockStore
fi

# web chat sessions: empty secret means one made for this machine, kept in
# var/webchat_session_secret (never committed)
if [ -z "$WEBCHAT_SESSION_SECRET" ]; then
  _secret_file="$_project_root/var/webchat_session_secret"
  if [ ! -s "$_secret_file" ]; then
    mkdir -p "$(dirname "$_secret_file")"
    _secret_tmp=$(umask 077 && mktemp "$_secret_file.XXXXXX")
    od -An -tx1 -N32 /dev/urandom | tr -d ' \n' > "$_secret_tmp"
    mv -n "$_secret_tmp" "$_secret_file"; rm -f "$_secret_tmp"
  fi
  WEBCHAT_SESSION_SECRET=$(cat "$_secret_file")
  unset _secret_file _secret_tmp
fi

# pages that may open the chat: empty means the page's own origin (and
# localhost when it is served on loopback)
if [ -z "$WEBCHAT_ALLOWED_ORIGINS" ]; then
  WEBCHAT_ALLOWED_ORIGINS="http://${WEBCHAT_HOST}:${WEBCHAT_PORT}"
  [ "$WEBCHAT_HOST" = 127.0.0.1 ] && WEBCHAT_ALLOWED_ORIGINS+=" http://localhost:${WEBCHAT_PORT}"
fi
unset _project_root
