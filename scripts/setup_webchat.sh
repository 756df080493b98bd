#!/usr/bin/env bash
# Installs the web chat widget from the npm registry (webchat/package-lock.json)
# and copies its browser bundle to webchat/static/vendor/, from where the page
# serves it (no CDN at run time). Idempotent: does nothing when the lock file
# has not changed since the last install.
set -euo pipefail
cd "$(dirname "$0")/../webchat"
vendor=static/vendor
stamp=$vendor/.installed
wanted=$(sha256sum package-lock.json | cut -d' ' -f1)
if [[ -f $stamp && $(cat "$stamp") == "$wanted" && -f $vendor/rasa-webchat.js ]]; then
  exit 0
fi
command -v npm >/dev/null || { echo "npm is missing: install Node.js 18 or later" >&2; exit 1; }
echo "==> installing the web chat widget (rasa-webchat) with npm"
npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
mkdir -p "$vendor"
cp node_modules/rasa-webchat/lib/index.js "$vendor/rasa-webchat.js"
cp node_modules/rasa-webchat/LICENSE "$vendor/rasa-webchat.LICENSE"
echo "$wanted" > "$stamp"
