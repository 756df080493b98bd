#!/usr/bin/env bash
# The Python tiers' entry point: every setting the environment leaves unset
# gets its default from defaults.env (scripts/defaults.sh), and each Docker or
# Kubernetes secret mounted as /run/secrets/<SETTING_NAME> becomes that
# setting, so no secret sits in an environment block of the stack file.
set -euo pipefail
for secret in /run/secrets/*; do
  [[ -f $secret ]] || continue
  name=$(basename "$secret")
  [[ $name =~ ^[A-Z_][A-Z0-9_]*$ ]] || continue
  export "$name=$(cat "$secret")"
done
source /app/scripts/defaults.sh
exec "$@"
