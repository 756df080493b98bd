#!/usr/bin/env bash
# Initialises an empty data volume (databases rasa and pinecrest, password
# from the secret file), then runs PostgreSQL in the foreground.
set -euo pipefail
password_file=${POSTGRES_PASSWORD_FILE:-/run/secrets/TRACKER_STORE_PASSWORD}
if [[ ! -s $PGDATA/PG_VERSION ]]; then
  [[ -s $password_file ]] || { echo "postgres: no password in $password_file" >&2; exit 1; }
  initdb --username=postgres --pwfile="$password_file" --auth-local=trust \
    --auth-host=scram-sha-256 --encoding=UTF8 > /dev/null
  echo "host all all 0.0.0.0/0 scram-sha-256" >> "$PGDATA/pg_hba.conf"
  pg_ctl -w -o "-c listen_addresses=''" start > /dev/null
  for database in rasa pinecrest; do createdb "$database"; done
  pg_ctl -w stop > /dev/null
fi
exec postgres -c listen_addresses='*'
