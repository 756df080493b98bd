"""Puts every setting's local default into the environment: the one
implementation of the rules that turn `defaults.env` into environment
variables, for the scripts and for plain Rasa commands alike.

- `apply_defaults(environ)`: each setting of `defaults.env` that is unset or
  empty gets its default (references follow overrides, settings.defaults),
  then the settings computed from others (`derived_settings`).
- `python3 -m settings.environment export`: the same as shell-quoted
  `export NAME=value` lines, which `scripts/defaults.sh` evaluates.
- `python -m settings.environment install-hook`: writes a `.pth` file into
  the running interpreter's site-packages (scripts/setup_rasa_env.sh does so
  for `.venv/rasa`), so that every interpreter start there calls
  `startup_hook()`: a bare `rasa run` sees the same settings as the scripts.

Standard library only, nothing done at import time, Python 3.10+: the hook
imports this module on every start of the Rasa environment's interpreter.
"""
import os
import secrets
import sys
import tempfile
from contextlib import suppress
from pathlib import Path
from typing import Dict, List, Mapping, MutableMapping, Optional

from settings.defaults import PROJECT_ROOT, read_defaults, resolve

# "redis" means our lock store: Rasa's own RedisLockStore lets two Rasa
# servers take the same ticket (see lock_stores/atomic_redis.py)
LOCK_STORE_ALIASES = {"redis": "lock_stores.atomic_redis.AtomicRedisLockStore"}
# signs web chat sessions when WEBCHAT_SESSION_SECRET is empty; never committed
SECRET_FILE = Path("var") / "webchat_session_secret"
HOOK_FILE_NAME = "pinecrest_settings.pth"
HOOK_MODULE = "_pinecrest_settings_hook"
WARNING_PREFIX = "pinecrest settings: warning:"


def _warn(message: str) -> None:
    if sys.stderr is not None:  # pythonw and daemons may have no stderr
        print(f"{WARNING_PREFIX} {message}", file=sys.stderr)


def apply_defaults(
    environ: MutableMapping[str, str] = os.environ, project_root: Path = PROJECT_ROOT
) -> Dict[str, str]:
    """Sets in `environ` every setting that is unset or empty there to its
    default and returns the settings' values (all of them)."""
    values = resolve(read_defaults(project_root / "defaults.env"), environ, project_root)
    values.update(derived_settings(values, project_root))
    for name, value in values.items():
        if environ.get(name) != value:
            environ[name] = value
    return values


def derived_settings(values: Mapping[str, str], project_root: Path = PROJECT_ROOT) -> Dict[str, str]:
    """The settings computed from the others, where defaults.env leaves them
    empty or names them by a short alias."""
    derived = {}
    lock_store = values["LOCK_STORE_TYPE"]
    derived["LOCK_STORE_TYPE"] = LOCK_STORE_ALIASES.get(lock_store, lock_store)
    if not values["WEBCHAT_SESSION_SECRET"]:
        derived["WEBCHAT_SESSION_SECRET"] = machine_secret(project_root / SECRET_FILE)
    if not values["WEBCHAT_ALLOWED_ORIGINS"]:
        derived["WEBCHAT_ALLOWED_ORIGINS"] = page_origins(values["WEBCHAT_HOST"], values["WEBCHAT_PORT"])
    return derived


def page_origins(host: str, port: str) -> str:
    """The web chat page's own origin, and localhost when it is on loopback
    (a browser may name either)."""
    origins = [f"http://{host}:{port}"]
    if host == "127.0.0.1":
        origins.append(f"http://localhost:{port}")
    return " ".join(origins)


def machine_secret(path: Path) -> str:
    """The secret kept in `path`, made (0600) when missing. A failure to read
    or write it leaves the secret empty, with a warning (the socket.io
    channel says what is missing when it starts)."""
    try:
        return _read_secret(path) or _make_secret(path)
    except OSError as error:
        _warn(f"cannot make the web chat secret in {path} ({error}): WEBCHAT_SESSION_SECRET stays empty")
        return ""


def _read_secret(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8").rstrip("\n")
    except FileNotFoundError:
        return ""


def _make_secret(path: Path) -> str:
    """Several processes may start at once: each writes its own candidate and
    links it into place, so the first one made is the one all of them read."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, candidate = tempfile.mkstemp(dir=path.parent, prefix=f"{path.name}.")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(secrets.token_hex(32))
        try:
            os.link(candidate, path)  # never replaces a secret already there
        except FileExistsError:
            if path.stat().st_size == 0:  # an empty file is no secret
                os.replace(candidate, path)
    finally:
        with suppress(FileNotFoundError):
            os.unlink(candidate)
    return _read_secret(path)


def export_lines(values: Mapping[str, str]) -> str:
    """Shell-quoted `export NAME=value` lines: bash reads each value back
    exactly, and nothing in a value (`$(...)`, quotes) ever runs. The first
    line, a comment, names them all (scripts/defaults.sh exports those the
    shell has set as mere shell variables, and asks again)."""
    import shlex  # only the scripts need it, not every interpreter start

    names = f"# settings: {' '.join(values)}\n"
    return names + "".join(f"export {name}={shlex.quote(value)}\n" for name, value in values.items())


def startup_hook(environ: MutableMapping[str, str] = os.environ) -> None:
    """What the .pth file calls on each interpreter start: the defaults, and
    on any error one warning line instead of a broken interpreter."""
    try:
        apply_defaults(environ)
    except (Exception, SystemExit) as error:  # noqa: BLE001 - an interpreter start must not fail
        _warn(f"the project's defaults (defaults.env) were not applied: {type(error).__name__}: {error}")


def hook_line(project_root: Path = PROJECT_ROOT) -> str:
    """The .pth file's one line. site.py runs lines that start with `import`
    and prints a traceback for an exception, so the line catches everything,
    also a project that moved or a broken module. It loads this file under a
    name of its own: as `settings.environment` in sys.modules it would make
    `python -m settings.environment` warn that the module is already there."""
    root = str(project_root)
    code = (
        "try:\n"
        f"    if {root!r} not in sys.path:\n"
        f"        sys.path.append({root!r})\n"
        "    import importlib.util\n"
        f"    spec = importlib.util.spec_from_file_location({HOOK_MODULE!r}, {root!r} + '/settings/environment.py')\n"
        "    hook = importlib.util.module_from_spec(spec)\n"
        "    spec.loader.exec_module(hook)\n"
        "except (Exception, SystemExit) as error:\n"
        f"    print({WARNING_PREFIX!r}, 'the defaults.env hook did not load:', error, file=sys.stderr)\n"
        "else:\n"
        "    hook.startup_hook()\n"
    )
    return f"import sys; exec({code!r})\n"


def hook_path(site_packages: Optional[Path] = None) -> Path:
    if site_packages is None:
        import sysconfig

        site_packages = Path(sysconfig.get_paths()["purelib"])
    return site_packages / HOOK_FILE_NAME


def install_hook(site_packages: Optional[Path] = None, project_root: Path = PROJECT_ROOT) -> Path:
    """Writes the .pth file when it is missing or differs (idempotent)."""
    path = hook_path(site_packages)
    wanted = hook_line(project_root)
    with suppress(FileNotFoundError):
        if path.read_text(encoding="utf-8") == wanted:
            return path
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(wanted, encoding="utf-8")
    os.replace(temporary, path)  # an interpreter starting meanwhile reads all or nothing
    return path


def main(arguments: List[str]) -> int:
    command = arguments[0] if len(arguments) == 1 else ""
    if command == "export":
        sys.stdout.write(export_lines(apply_defaults(dict(os.environ))))
    elif command == "install-hook":
        print(f"settings hook: {install_hook()}")
    elif command == "uninstall-hook":
        with suppress(FileNotFoundError):
            hook_path().unlink()
    else:
        print("usage: python -m settings.environment export|install-hook|uninstall-hook", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
