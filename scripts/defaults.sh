# Local defaults for every setting: defaults.env at the project root, one
# KEY=value line each. Sourced by the other scripts: each variable that is
# unset or empty gets its default, and all of them are exported. The rules
# (references, the defaults computed from others) live in one place,
# settings/environment.py, which also serves plain Rasa commands (README,
# "Configuration"); the shell only evaluates its shell-quoted exports, so
# nothing in defaults.env ever runs.
# shellcheck shell=bash

_load_settings() {
  local root python=python3 exports names name shell_only=""
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  # any Python 3.10+ will do; a machine with pyenv only has the project's ones
  command -v python3 >/dev/null || python=$("$root/scripts/find_python.sh" 3.10) || return 1
  exports=$(cd "$root" && "$python" -m settings.environment export) || return 1
  # a setting set as a mere shell variable wins too, but Python sees only
  # exported ones: export those and ask again (the first line names them all)
  names=${exports%%$'\n'*}; names=${names#\# settings: }
  for name in $names; do
    if [[ -n ${!name-} && ${!name@a} != *x* ]]; then export "${name?}"; shell_only=1; fi
  done
  if [[ -n $shell_only ]]; then exports=$(cd "$root" && "$python" -m settings.environment export) || return 1; fi
  eval "$exports"
}
if ! _load_settings; then
  echo "scripts/defaults.sh: no settings: settings/environment.py failed (see above)" >&2
  unset -f _load_settings
  return 1
fi
unset -f _load_settings
