"""settings/environment.py: the one implementation of "defaults.env into the
environment", for scripts/defaults.sh (its `export` output) and for plain Rasa
commands (the .pth start-up hook in .venv/rasa)."""
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from settings import environment
from settings.defaults import DEFAULTS_FILE, PROJECT_ROOT, read_defaults
from settings.environment import apply_defaults, export_lines, hook_line, install_hook, startup_hook

ATOMIC_REDIS = "lock_stores.atomic_redis.AtomicRedisLockStore"
# what a value must survive on its way through the shell; none of it may run
AWKWARD_VALUES = [
    "two words", "  padded  ", "it's", 'say "hi"', "$(touch {sentinel})", "`touch {sentinel}`",
    "${{HOME}} $HOME", "back\\slash", "semi;colon && echo no", "first line\nsecond line", "żółw ☃", "-n",
]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project folder of its own, so that the web chat secret lands there."""
    shutil.copy(DEFAULTS_FILE, tmp_path / "defaults.env")
    return tmp_path


def defaults_of(project: Path, **environ: str) -> dict:
    return apply_defaults(dict(environ), project_root=project)


# the defaults ---------------------------------------------------------------------------

def test_unset_and_empty_variables_get_their_defaults(project):
    environ = {"RASA_PORT": "", "UNRELATED": "kept"}
    apply_defaults(environ, project_root=project)
    assert set(read_defaults()) <= set(environ)
    assert environ["RASA_PORT"] == "5005"
    assert environ["ACTION_ENDPOINT_URL"] == "http://127.0.0.1:5055/webhook"
    assert environ["DATABASE_URL"] == f"sqlite:///{project}/var/shop.db"
    assert environ["UNRELATED"] == "kept"


def test_set_variables_win_and_references_follow_them(project):
    values = defaults_of(project, RASA_PORT="6000", ACTION_SERVER_HOST="actions", MODEL_SERVER_URL="http://m/v1")
    assert values["RASA_PORT"] == "6000"
    assert values["WEBCHAT_SOCKET_URL"] == "http://127.0.0.1:6000"
    assert values["ACTION_ENDPOINT_URL"] == "http://actions:5055/webhook"
    assert values["MODEL_SERVER_URL"] == "http://m/v1"
    # empty by default: actions/config.py reads it as "MODEL_SERVER_URL's server"
    assert values["EMBEDDING_SERVER_URL"] == ""


def test_applying_twice_changes_nothing(project):
    environ = {"LOCK_STORE_TYPE": "redis"}
    apply_defaults(environ, project_root=project)
    once = dict(environ)
    apply_defaults(environ, project_root=project)
    assert environ == once


# the derived settings ---------------------------------------------------------------------

@pytest.mark.parametrize("given, expected", [
    ("", "in_memory"),
    ("in_memory", "in_memory"),
    ("redis", ATOMIC_REDIS),
    (ATOMIC_REDIS, ATOMIC_REDIS),
    ("rasa.core.lock_store.RedisLockStore", "rasa.core.lock_store.RedisLockStore"),  # named: as asked
])
def test_redis_means_our_lock_store(project, given, expected):
    assert defaults_of(project, LOCK_STORE_TYPE=given)["LOCK_STORE_TYPE"] == expected


@pytest.mark.parametrize("environ, expected", [
    ({}, "http://127.0.0.1:8080 http://localhost:8080"),
    ({"WEBCHAT_PORT": "8090"}, "http://127.0.0.1:8090 http://localhost:8090"),
    ({"WEBCHAT_HOST": "chat.example"}, "http://chat.example:8080"),
    ({"WEBCHAT_ALLOWED_ORIGINS": "https://shop.example"}, "https://shop.example"),
])
def test_an_empty_origin_list_means_the_pages_own_origin(project, environ, expected):
    assert defaults_of(project, **environ)["WEBCHAT_ALLOWED_ORIGINS"] == expected


def test_an_empty_secret_is_made_once_per_machine(project):
    secret_file = project / "var" / "webchat_session_secret"
    first = defaults_of(project)["WEBCHAT_SESSION_SECRET"]
    assert len(first) == 64 and int(first, 16) >= 0
    assert secret_file.read_text() == first
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    assert defaults_of(project, WEBCHAT_SESSION_SECRET="")["WEBCHAT_SESSION_SECRET"] == first
    assert [p.name for p in secret_file.parent.iterdir()] == [secret_file.name]  # no leftovers


def test_a_given_secret_wins_and_writes_nothing(project):
    assert defaults_of(project, WEBCHAT_SESSION_SECRET="s" * 64)["WEBCHAT_SESSION_SECRET"] == "s" * 64
    assert not (project / "var").exists()


def test_an_existing_secret_is_kept_and_an_empty_file_replaced(project):
    secret_file = project / "var" / "webchat_session_secret"
    secret_file.parent.mkdir()
    secret_file.write_text("")
    made = defaults_of(project)["WEBCHAT_SESSION_SECRET"]
    assert len(made) == 64 and secret_file.read_text() == made
    secret_file.write_text("kept-from-before\n")
    assert defaults_of(project)["WEBCHAT_SESSION_SECRET"] == "kept-from-before"


def test_processes_starting_together_share_one_secret(project):
    code = (
        "import sys; from pathlib import Path; from settings.environment import apply_defaults;"
        "print(apply_defaults({}, project_root=Path(sys.argv[1]))['WEBCHAT_SESSION_SECRET'])"
    )
    starts = [
        subprocess.Popen([sys.executable, "-S", "-c", code, str(project)], cwd=PROJECT_ROOT,
                         stdout=subprocess.PIPE, text=True, env={"PATH": os.environ["PATH"]})
        for _ in range(8)
    ]
    secrets = {start.communicate(timeout=60)[0].strip() for start in starts}
    assert secrets == {(project / "var" / "webchat_session_secret").read_text()}


def test_a_secret_made_meanwhile_by_another_process_is_never_replaced(project, monkeypatch):
    secret_file = project / "var" / "webchat_session_secret"
    secret_file.parent.mkdir()
    secret_file.write_text("made-by-the-other-process")
    looked_too_early = iter([""])  # the other process wrote it right after this one looked
    read = environment._read_secret
    monkeypatch.setattr(environment, "_read_secret", lambda path: next(looked_too_early, None) or read(path))
    assert defaults_of(project)["WEBCHAT_SESSION_SECRET"] == "made-by-the-other-process"
    assert secret_file.read_text() == "made-by-the-other-process"


def test_a_secret_that_cannot_be_written_stays_empty_with_a_warning(project, capsys):
    (project / "var").write_text("a file where the folder should be")
    assert defaults_of(project)["WEBCHAT_SESSION_SECRET"] == ""
    warning = capsys.readouterr().err
    assert warning.count("\n") == 1 and "WEBCHAT_SESSION_SECRET stays empty" in warning


# the shell's view: export lines and scripts/defaults.sh ------------------------------------------

def bash(script: str, cwd: Path = PROJECT_ROOT, **environ: str) -> str:
    clean = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), **environ}
    return subprocess.run(["bash", "-c", script], cwd=cwd, env=clean, capture_output=True,
                          text=True, check=True).stdout


def exported(script_before: str, names, **environ: str) -> dict:
    """NAME=value pairs that bash has after running `script_before`."""
    show = f'for n in {" ".join(names)}; do printf "%s=%s\\0" "$n" "${{!n}}"; done'
    output = bash(f"{script_before}\n{show}", **environ)
    return dict(item.split("=", 1) for item in output.split("\0") if item)


def test_export_lines_round_trip_through_bash_and_never_run(tmp_path):
    sentinel = tmp_path / "ran"
    values = {f"VALUE_{i}": text.format(sentinel=sentinel) for i, text in enumerate(AWKWARD_VALUES)}
    (tmp_path / "exports").write_text(export_lines(values))
    assert exported(f'eval "$(cat {tmp_path}/exports)"', values) == values
    assert not sentinel.exists()


def test_the_scripts_export_awkward_values_exactly_and_never_run_them(tmp_path):
    sentinel = tmp_path / "ran"
    given = {
        "LLM_CANARY": f"$(touch {sentinel})", "SLACK_CHANNEL": f"`touch {sentinel}`; echo no",
        "TRACKER_STORE_PASSWORD": "it's \"quoted\"\nand two lines", "RASA_HOST": "  padded host  ",
    }
    shell = exported("source scripts/defaults.sh", read_defaults(), WEBCHAT_SESSION_SECRET="s" * 64, **given)
    assert {name: shell[name] for name in given} == given
    assert shell["WEBCHAT_SOCKET_URL"] == "http://  padded host  :5005"  # references follow
    assert shell == apply_defaults({"WEBCHAT_SESSION_SECRET": "s" * 64, **given})
    assert not sentinel.exists()


def test_the_scripts_honour_a_setting_that_is_only_a_shell_variable():
    shell = exported("RASA_PORT=6001; LOCK_STORE_TYPE=redis; source scripts/defaults.sh; "
                     "RASA_PORT_IN_ENV=$(printenv RASA_PORT)", ["RASA_PORT_IN_ENV", "WEBCHAT_SOCKET_URL",
                                                               "LOCK_STORE_TYPE"], WEBCHAT_SESSION_SECRET="s" * 64)
    assert shell == {"RASA_PORT_IN_ENV": "6001", "WEBCHAT_SOCKET_URL": "http://127.0.0.1:6001",
                     "LOCK_STORE_TYPE": ATOMIC_REDIS}


def copy_of_the_settings_code(root: Path, defaults_text: str) -> Path:
    (root / "scripts").mkdir(parents=True)
    shutil.copy(PROJECT_ROOT / "scripts" / "defaults.sh", root / "scripts")
    shutil.copytree(PROJECT_ROOT / "settings", root / "settings", ignore=shutil.ignore_patterns("__pycache__"))
    (root / "defaults.env").write_text(defaults_text)
    return root


def test_the_scripts_stop_at_a_broken_file_and_run_nothing_of_it(tmp_path):
    sentinel = tmp_path / "ran"
    root = copy_of_the_settings_code(tmp_path / "project", f"GOOD=1\nBAD=$(touch {sentinel})\n")
    output = subprocess.run(
        ["bash", "-c", "source scripts/defaults.sh || echo refused; echo GOOD=${GOOD-unset}"], cwd=root,
        env={"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp")}, capture_output=True, text=True,
    )
    assert output.stdout.split() == ["refused", "GOOD=unset"]
    assert "a '$' other than ${NAME}" in output.stderr
    assert not sentinel.exists()


# the start-up hook ----------------------------------------------------------------------------

def test_the_hook_swallows_every_error(monkeypatch, capsys):
    def broken(environ):
        raise RuntimeError("defaults.env is unreadable")

    monkeypatch.setattr(environment, "apply_defaults", broken)
    startup_hook({})
    warning = capsys.readouterr().err
    assert warning.count("\n") == 1 and "RuntimeError: defaults.env is unreadable" in warning


def start_interpreter_with_hook(site_dir: Path, project_root: Path, code: str, **environ: str):
    """A fresh interpreter (without the Rasa environment's own hook) that
    processes a .pth file for `project_root`, as site.py does at start-up."""
    site_dir.mkdir(parents=True, exist_ok=True)
    install_hook(site_dir, project_root)
    return subprocess.run(
        [sys.executable, "-S", "-c", f"import site; site.addsitedir({str(site_dir)!r}); {code}"],
        cwd="/", env={"PATH": os.environ["PATH"], **environ}, capture_output=True, text=True, timeout=60,
    )


def test_the_hook_gives_a_fresh_interpreter_the_defaults(tmp_path):
    started = start_interpreter_with_hook(
        tmp_path, PROJECT_ROOT,
        "import os; print(os.environ['ACTION_ENDPOINT_URL'], os.environ['LOCK_STORE_TYPE'], os.environ['RASA_PORT'])",
        LOCK_STORE_TYPE="redis", RASA_PORT="6002", WEBCHAT_SESSION_SECRET="s" * 64,
    )
    assert (started.returncode, started.stderr) == (0, "")
    assert started.stdout.split() == ["http://127.0.0.1:5055/webhook", ATOMIC_REDIS, "6002"]


@pytest.mark.parametrize("broken", ["a project that moved", "a broken defaults.env", "a broken module",
                                    "a module that exits"])
def test_a_broken_hook_never_breaks_the_interpreter(tmp_path, broken):
    root = tmp_path / "project"
    if broken == "a broken defaults.env":
        copy_of_the_settings_code(root, "NOT A SETTING\n")
    elif broken in ("a broken module", "a module that exits"):
        copy_of_the_settings_code(root, "A=1\n")
        fault = "1 / 0\n" if broken == "a broken module" else "raise SystemExit('no')\n"
        (root / "settings" / "environment.py").write_text(fault)
    started = start_interpreter_with_hook(tmp_path / "site", root, "print('started')")
    assert started.returncode == 0 and started.stdout == "started\n"
    assert started.stderr.count("\n") == 1 and started.stderr.startswith("pinecrest settings: warning:")


def test_installing_the_hook_is_idempotent(tmp_path):
    path = install_hook(tmp_path, PROJECT_ROOT)
    assert path.read_text() == hook_line(PROJECT_ROOT) and path.read_text().count("\n") == 1
    os.utime(path, (0, 0))
    install_hook(tmp_path, PROJECT_ROOT)
    assert path.stat().st_mtime == 0  # unchanged: not written again
    install_hook(tmp_path, tmp_path / "moved")
    assert path.read_text() == hook_line(tmp_path / "moved")
    assert [p.name for p in tmp_path.iterdir()] == [path.name]
