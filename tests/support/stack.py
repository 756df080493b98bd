"""Starts the real servers of the assistant for integration tests.

`Stack` launches an action server and a Rasa server (and optionally more
processes) as subprocesses on free loopback ports, waits until they answer,
and stops them again. Logs go to files under the test's temporary folder so
a failing test can show them.
"""
import os
import random
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

import requests

from settings.defaults import read_defaults, resolve

PROJECT_ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent  # the Rasa environment running pytest
MODEL_PATH = PROJECT_ROOT / "models" / "assistant.tar.gz"
_WEBCHAT_SESSION_SECRET = secrets.token_hex(32)


_EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
_LOWEST_PORT = 10_000


def free_port() -> int:
    """A free loopback port below the kernel's ephemeral range: a port the
    kernel hands out (bind to 0) can be taken by any outgoing connection
    before the server meant for it starts, and a session-scoped port waits
    a long time."""
    first_ephemeral = 32768
    if _EPHEMERAL_RANGE.is_file():
        first_ephemeral = int(_EPHEMERAL_RANGE.read_text().split()[0])
    for _ in range(200):
        port = random.randrange(_LOWEST_PORT, max(first_ephemeral, _LOWEST_PORT + 1000))
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(url: str, timeout: float, process: Optional[subprocess.Popen] = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process for {url} exited with {process.returncode}")
        try:
            if requests.get(url, timeout=2).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"{url} did not come up within {timeout} s")


# What a test stack needs unlike a local run; everything else is the local
# default (defaults.env), whatever the environment that runs the tests says.
TEST_SETTINGS = {
    # a stack on the shared Redis never touches a development server's locks
    "LOCK_STORE_KEY_PREFIX": "pinecresttest",
    # nothing listens there: no test reaches the real Slack
    "SLACK_API_BASE_URL": "http://127.0.0.1:9/api/",
    # the socket.io channel needs a secret; scripts/defaults.sh makes one per
    # machine, the tests one per run
    "WEBCHAT_SESSION_SECRET": _WEBCHAT_SESSION_SECRET,
    # no page may connect unless a test names its origin: an origin no page
    # has (an empty value would become the page's origin, settings/environment.py)
    "WEBCHAT_ALLOWED_ORIGINS": "http://no-page.invalid",
    # logs and the shell test's screen show what the tests read, not the
    # dependencies' warnings (the local default only hides deprecations)
    "PYTHONWARNINGS": "ignore",
}


def base_env(**overrides: str) -> Dict[str, str]:
    """The environment of a test stack: this process's environment with every
    setting at its default (defaults.env), then TEST_SETTINGS, then the test's
    own overrides. Defaults that refer to other settings follow the overrides
    (`ACTION_SERVER_PORT` moves `ACTION_ENDPOINT_URL`)."""
    defaults = read_defaults()
    chosen = {**TEST_SETTINGS, **overrides}
    env = {name: value for name, value in os.environ.items() if name not in defaults}
    env.update(resolve(defaults, chosen))
    env.update(chosen)  # exactly as given, also when empty
    if "ACTION_ENDPOINT_URL" not in overrides:
        # each stack runs its own action server (Stack.start names it)
        del env["ACTION_ENDPOINT_URL"]
    return env


@dataclass
class Stack:
    """Action server + Rasa server. Use as a context manager."""

    workdir: Path
    env: Dict[str, str] = field(default_factory=base_env)
    credentials: Path = PROJECT_ROOT / "credentials.yml"
    endpoints: Path = PROJECT_ROOT / "endpoints.yml"
    rasa_args: List[str] = field(default_factory=list)
    model: Path = MODEL_PATH
    action_port: int = field(default_factory=free_port)
    rasa_port: int = field(default_factory=free_port)
    processes: List[subprocess.Popen] = field(default_factory=list)

    @property
    def rasa_url(self) -> str:
        return f"http://127.0.0.1:{self.rasa_port}"

    @property
    def rest_webhook(self) -> str:
        return f"{self.rasa_url}/webhooks/rest/webhook"

    def start(self) -> "Stack":
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.env.setdefault("ACTION_ENDPOINT_URL", f"http://127.0.0.1:{self.action_port}/webhook")
        action_server = self._spawn(
            "action-server",
            [str(VENV_BIN / "rasa"), "run", "actions", "--actions", "actions",
             "--port", str(self.action_port)],
            extra_env={"SANIC_HOST": "127.0.0.1"},
        )
        rasa_server = self._spawn(
            "rasa-server",
            [str(VENV_BIN / "rasa"), "run", "--model", str(self.model),
             "--endpoints", str(self.endpoints), "--credentials", str(self.credentials),
             "--interface", "127.0.0.1", "--port", str(self.rasa_port), *self.rasa_args],
        )
        wait_until_up(f"http://127.0.0.1:{self.action_port}/health", 90, action_server)
        wait_until_up(f"{self.rasa_url}/", 180, rasa_server)
        return self

    def _spawn(self, name: str, command: List[str], extra_env: Optional[Dict[str, str]] = None):
        log = open(self.workdir / f"{name}.log", "wb")
        process = subprocess.Popen(
            command, cwd=PROJECT_ROOT, env={**self.env, **(extra_env or {})},
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        self.processes.append(process)
        return process

    def logs(self) -> str:
        return "\n".join(
            f"--- {path.name} ---\n{path.read_text(errors='replace')[-5000:]}"
            for path in sorted(self.workdir.glob("*.log"))
        )

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        self.processes.clear()

    def __enter__(self) -> "Stack":
        try:
            return self.start()
        except Exception:
            print(self.logs())
            self.stop()
            raise

    def __exit__(self, *exc) -> None:
        self.stop()

    def say(self, sender: str, text: str, timeout: float = 30) -> List[Dict]:
        """Sends one message through the REST channel; returns the bot's messages."""
        response = requests.post(
            self.rest_webhook, json={"sender": sender, "message": text}, timeout=timeout
        )
        response.raise_for_status()
        return response.json()
