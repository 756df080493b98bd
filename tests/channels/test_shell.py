"""`rasa shell` as `make shell` starts it (scripts/run_assistant.sh shell),
driven through a pseudo-terminal: a question typed in, the reply read out."""
import fcntl
import os
import pty
import re
import select
import signal
import struct
import subprocess
import termios
import time

import pytest

from tests.channels.support.server import TRACKING_NUMBER_10002
from tests.support.stack import PROJECT_ROOT, base_env, free_port

pytestmark = pytest.mark.integration

ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[()][0-9A-B]|\x1b[=>]|\r")
CURSOR_POSITION_REQUEST = "\x1b[6n"  # prompt_toolkit asks; a terminal answers


class Terminal:
    """A process on a pseudo-terminal, with what it printed so far."""

    def __init__(self, command, env, cwd):
        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        self.process = subprocess.Popen(command, stdin=slave, stdout=slave, stderr=slave, env=env,
                                        cwd=cwd, start_new_session=True)
        os.close(slave)
        self.raw = ""

    @property
    def text(self) -> str:
        return ANSI.sub("", self.raw)

    def read_until(self, pattern: str, timeout: float) -> str:
        """Reads until `pattern` (a regex) appears in the output after ANSI
        codes are removed; returns that output."""
        deadline = time.monotonic() + timeout
        while not re.search(pattern, self.text):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no {pattern!r} in:\n{self.text[-3000:]}")
            ready, _, _ = select.select([self.master], [], [], min(remaining, 1))
            if ready:
                try:
                    chunk = os.read(self.master, 65536).decode(errors="replace")
                except OSError:  # the process closed the terminal
                    raise TimeoutError(f"terminal closed before {pattern!r}:\n{self.text[-3000:]}")
                if CURSOR_POSITION_REQUEST in chunk:
                    os.write(self.master, b"\x1b[1;1R")
                self.raw += chunk
        return self.text

    def type(self, line: str) -> None:
        os.write(self.master, line.encode() + b"\r")

    def close(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
        os.close(self.master)


def test_rasa_shell_answers_a_question_typed_into_the_terminal(tmp_path):
    action_port, rasa_port = free_port(), free_port()
    env = base_env(
        TERM="xterm-256color",
        ACTION_SERVER_PORT=str(action_port),
        ACTION_ENDPOINT_URL=f"http://127.0.0.1:{action_port}/webhook",
        RASA_PORT=str(rasa_port),
        DATABASE_URL=f"sqlite:///{tmp_path / 'shop.db'}",
        NO_MODEL_SERVER="1",  # the order question needs no language model
        MODEL_SERVER_URL=f"http://127.0.0.1:{free_port()}/v1",
    )
    terminal = Terminal(
        ["bash", "scripts/run_assistant.sh", "shell", "--interface", "127.0.0.1",
         "--conversation-id", "shell-test"],
        env, PROJECT_ROOT,
    )
    try:
        terminal.read_until(r"Your input ->", timeout=300)
        terminal.type("where is order 10002?")
        asked = terminal.read_until(r"e-mail address on order #10002[\s\S]*Your input ->", timeout=60)
        terminal.type("customer10002@example.com")
        output = terminal.read_until(TRACKING_NUMBER_10002 + r"[\s\S]*Your input ->", timeout=60)
        reply = output[output.rindex("customer10002@example.com"):]
        terminal.type("/stop")
        terminal.process.wait(60)
    finally:
        terminal.close()

    # nothing about the order before the address
    assert TRACKING_NUMBER_10002 not in asked
    assert "UPS" in reply and TRACKING_NUMBER_10002 in reply
    assert terminal.process.returncode == 0
