"""Every setting's default in one file, defaults.env, read alike by the
scripts (scripts/defaults.sh, through settings/environment.py), the action
server (actions/config.py via settings/defaults.py) and the test stacks
(tests/support/stack.py)."""
import os
import subprocess
from dataclasses import fields
from pathlib import Path

import pytest

from actions.config import ENVIRONMENT_VARIABLE, Settings, get_settings
from settings.defaults import (
    PROJECT_ROOT,
    DefaultsError,
    parse_defaults,
    read_defaults,
    resolve,
    setting,
)

# computed from an empty default (settings/environment.py, for the scripts
# and plain Rasa commands alike), not by resolve()
COMPUTED_FROM_EMPTY_DEFAULTS = {"WEBCHAT_SESSION_SECRET", "WEBCHAT_ALLOWED_ORIGINS"}


# the parser -------------------------------------------------------------------

def test_the_parser_reads_keys_and_values_in_order():
    text = """
# a comment
FIRST=one
  EMPTY=
URL = http://${FIRST}:80/a=b   
"""
    assert list(parse_defaults(text).items()) == [
        ("FIRST", "one"), ("EMPTY", ""), ("URL", "http://${FIRST}:80/a=b"),
    ]


@pytest.mark.parametrize(
    "text, problem",
    [
        ("NO_EQUALS\n", "expected KEY=value"),
        ("lower=case\n", "expected KEY=value"),
        ("export A=1\n", "expected KEY=value"),
        ("A=1\nA=2\n", "defined twice"),
        ("A=${B}\nB=1\n", "not defined above"),
        ("A=$HOME\n", "other than ${NAME}"),
        ("A=$(whoami)\n", "other than ${NAME}"),
    ],
)
def test_the_parser_refuses_what_the_shell_would_read_differently(text, problem):
    with pytest.raises(DefaultsError, match=problem.replace("$", r"\$").replace("{", r"\{")):
        parse_defaults(text, "defaults.env")


def test_the_environment_wins_and_references_follow_it():
    defaults = parse_defaults("HOST=127.0.0.1\nPORT=8000\nURL=http://${HOST}:${PORT}/v1\nDB=${PROJECT_ROOT}/x.db\n")
    assert resolve(defaults, {}, Path("/srv/pine")) == {
        "HOST": "127.0.0.1", "PORT": "8000", "URL": "http://127.0.0.1:8000/v1", "DB": "/srv/pine/x.db",
    }
    moved = resolve(defaults, {"PORT": "9000", "HOST": ""}, Path("/srv/pine"))
    # empty counts as unset, as ${NAME:=default} in the shell
    assert (moved["HOST"], moved["URL"]) == ("127.0.0.1", "http://127.0.0.1:9000/v1")
    assert resolve(defaults, {"URL": "http://model:8000/v1"})["URL"] == "http://model:8000/v1"


def test_a_setting_without_default_is_an_error():
    with pytest.raises(KeyError, match="defaults.env"):
        setting("NOT_A_SETTING", {})


# the file ---------------------------------------------------------------------------

def test_every_action_server_setting_has_its_default_in_the_file():
    variables = [field.metadata[ENVIRONMENT_VARIABLE] for field in fields(Settings)]
    assert len(variables) == len(fields(Settings))
    assert sorted(set(variables) - set(read_defaults())) == []


def test_the_action_server_runs_on_the_defaults(monkeypatch):
    for name in read_defaults():
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    try:
        settings = get_settings()
    finally:
        get_settings.cache_clear()
    assert settings.database_url == f"sqlite:///{PROJECT_ROOT}/var/shop.db"
    assert settings.model_server_url == "http://127.0.0.1:8000/v1"
    assert (settings.return_window_days, settings.llm_deadline_s, settings.llm_max_tokens) == (30, 12.0, 80)
    assert settings.knowledge_base_dir == PROJECT_ROOT / "knowledge_base"
    assert settings.knowledge_index_path == PROJECT_ROOT / "var" / "knowledge_index.json"
    assert (settings.verification_redis_url, settings.llm_canary) == ("", "")


def shell_settings(**environment: str) -> dict:
    """What scripts/defaults.sh exports, from a clean environment."""
    names = " ".join(read_defaults())
    script = f'source scripts/defaults.sh && for n in {names}; do printf "%s=%s\\0" "$n" "${{!n}}"; done'
    clean = {"PATH": os.environ["PATH"], "WEBCHAT_SESSION_SECRET": "s" * 64, **environment}
    output = subprocess.run(
        ["bash", "-c", script], cwd=PROJECT_ROOT, env=clean, capture_output=True, text=True, check=True
    ).stdout
    return dict(item.split("=", 1) for item in output.split("\0") if item)


@pytest.mark.parametrize("environment", [{}, {"MODEL_SERVER_PORT": "9000", "RASA_HOST": "", "LLM_CANARY": "x"}])
def test_the_scripts_read_the_file_as_python_does(environment):
    from_python = resolve(read_defaults(), environment)
    from_shell = shell_settings(**environment)
    for name in COMPUTED_FROM_EMPTY_DEFAULTS:
        from_python.pop(name), from_shell.pop(name)
    assert from_shell == from_python


def test_the_scripts_compute_what_is_left_empty():
    exported = shell_settings(LOCK_STORE_TYPE="redis", WEBCHAT_PORT="8090")
    assert exported["LOCK_STORE_TYPE"] == "lock_stores.atomic_redis.AtomicRedisLockStore"
    assert exported["WEBCHAT_ALLOWED_ORIGINS"] == "http://127.0.0.1:8090 http://localhost:8090"


def test_the_channels_fall_back_to_the_same_defaults():
    # channels use these when credentials.yml leaves a value out
    from channels import limits, slack
    from channels.safe_output import DEFAULT_SLACK_LINK_ALLOWLIST, parse_allowlist

    defaults = read_defaults()
    assert str(limits.DEFAULT_MAX_MESSAGE_CHARS) == defaults["CHANNEL_MAX_MESSAGE_CHARS"]
    assert str(limits.DEFAULT_MAX_REQUEST_BYTES) == defaults["CHANNEL_MAX_REQUEST_BYTES"]
    assert slack.DEFAULT_API_BASE_URL == defaults["SLACK_API_BASE_URL"]
    assert DEFAULT_SLACK_LINK_ALLOWLIST == parse_allowlist(defaults["SLACK_LINK_ALLOWLIST"])


# the test stacks ----------------------------------------------------------------------

def test_test_stacks_start_from_the_defaults(monkeypatch):
    from tests.support.stack import TEST_SETTINGS, base_env

    # a developer's own settings do not leak into a test stack
    monkeypatch.setenv("TRACKER_STORE_TYPE", "sql")
    monkeypatch.setenv("ACTION_ENDPOINT_URL", "http://127.0.0.1:5055/webhook")
    env = base_env(RASA_PORT="5999", DATABASE_URL="sqlite:///t.db")
    expected = resolve(read_defaults(), {**TEST_SETTINGS, "RASA_PORT": "5999", "DATABASE_URL": "sqlite:///t.db"})
    del expected["ACTION_ENDPOINT_URL"]  # each stack names its own action server
    assert {name: env[name] for name in expected if name in env} == {**expected, **TEST_SETTINGS}
    assert "ACTION_ENDPOINT_URL" not in env
    assert env["WEBCHAT_SOCKET_URL"] == "http://127.0.0.1:5999"
    assert env["PATH"] == os.environ["PATH"]
