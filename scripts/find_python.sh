#!/usr/bin/env bash
# Prints the path of a working Python interpreter of the given version
# (e.g. 3.10): from pyenv if it has one, else from PATH.
set -euo pipefail
version=$1
candidates=()
if command -v pyenv >/dev/null 2>&1; then
  candidates+=("$(pyenv root)"/versions/"$version".*/bin/python)
fi
candidates+=("python$version")
for candidate in "${candidates[@]}"; do
  # a pyenv shim exists even when the version is not selected: run it to be sure
  if "$candidate" -c "import sys; assert sys.version.startswith('$version')" >/dev/null 2>&1; then
    command -v "$candidate"; exit 0
  fi
done
echo "Python $version not found: install it (e.g. 'pyenv install $version') and retry" >&2
exit 1
