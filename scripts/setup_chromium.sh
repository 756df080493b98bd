#!/usr/bin/env bash
# Makes sure Debian's Chromium is installed (/usr/bin/chromium, or CHROMIUM_PATH):
# the browser tests of the web chat drive it with Playwright, whose own
# browser download does not work here.
set -euo pipefail
browser=${CHROMIUM_PATH:-/usr/bin/chromium}
if [[ -x $browser ]]; then
  exit 0
fi
if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null; then
  echo "Chromium is missing at $browser: install Debian's 'chromium' package" \
    "(or set CHROMIUM_PATH)" >&2
  exit 1
fi
echo "==> installing Chromium (apt-get install chromium)"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium > /dev/null
