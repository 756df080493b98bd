"""The settings' defaults, kept in one file: `defaults.env` at the project root.

Each setting is an environment variable; `defaults.env` gives its local
default as a `KEY=value` line. `scripts/defaults.sh` exports them for the
scripts, the action server reads them through `setting()` (actions/config.py),
and the test stacks start from them (tests/support/stack.py).

The format is deliberately small, so that the shell and Python read it alike:
`KEY=value` lines, whole-line `#` comments, no quoting (the value is
everything after the first `=`, trimmed), and `${NAME}` references to settings
defined above or to `PROJECT_ROOT`, the folder of `defaults.env`. An empty
environment variable counts as unset, as `${NAME:=default}` does in the shell.

Standard library only: the Rasa server, the action server, the web chat page
server and the tests all import this.
"""
import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Dict, Mapping, Optional

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULTS_FILE = PROJECT_ROOT / "defaults.env"

NAME = re.compile(r"[A-Z_][A-Z0-9_]*")
REFERENCE = re.compile(r"\$\{([^}]*)\}")


class DefaultsError(ValueError):
    """defaults.env has a line the shell and Python would read differently."""


def parse_defaults(text: str, source: str = "defaults.env") -> Dict[str, str]:
    """The `KEY=value` pairs of a defaults file, in file order, references
    left unexpanded (`resolve` expands them)."""
    defaults: Dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, equals, value = line.partition("=")
        name = name.strip()
        if not equals or not NAME.fullmatch(name):
            raise DefaultsError(f"{source}:{number}: expected KEY=value, got {line!r}")
        if name in defaults:
            raise DefaultsError(f"{source}:{number}: {name} is defined twice")
        references = REFERENCE.findall(value)
        if value.count("$") != len(references):
            raise DefaultsError(f"{source}:{number}: {name}: a '$' other than ${{NAME}}")
        for reference in references:
            # only names defined above: the shell reads the file top to bottom
            if reference != "PROJECT_ROOT" and reference not in defaults:
                raise DefaultsError(
                    f"{source}:{number}: {name} refers to ${{{reference}}}, "
                    "which is not defined above it"
                )
        defaults[name] = value.strip()
    return defaults


def resolve(
    defaults: Mapping[str, str], environ: Mapping[str, str], project_root: Path = PROJECT_ROOT
) -> Dict[str, str]:
    """The value of every setting: the environment's when set and not empty,
    else the default with its references expanded (to the values resolved so
    far, so `MODEL_SERVER_PORT=9000` also moves `MODEL_SERVER_URL`)."""
    values: Dict[str, str] = {"PROJECT_ROOT": str(project_root)}
    for name, default in defaults.items():
        values[name] = environ.get(name) or REFERENCE.sub(lambda m: values[m.group(1)], default)
    del values["PROJECT_ROOT"]
    return values


@lru_cache(maxsize=None)
def read_defaults(path: Path = DEFAULTS_FILE) -> Dict[str, str]:
    """The defaults file, parsed (once per process: it is part of the code)."""
    return parse_defaults(path.read_text(encoding="utf-8"), source=str(path))


def setting(name: str, environ: Optional[Mapping[str, str]] = None) -> str:
    """One setting's value now: the environment's, else its default."""
    environ = os.environ if environ is None else environ
    defaults = read_defaults()
    if name not in defaults:
        raise KeyError(f"{name} has no default in {DEFAULTS_FILE.name}: add it there")
    return resolve(defaults, environ)[name]
