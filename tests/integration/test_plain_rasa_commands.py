"""Plain Rasa commands, typed in the project folder without our scripts, get
defaults.env's settings: the start-up hook that scripts/setup_rasa_env.sh
puts into .venv/rasa (settings/environment.py). Without it endpoints.yml
names variables nobody set, and `rasa run` stops with "Error when trying to
expand the environment variables in '${ACTION_ENDPOINT_URL}'"."""
import os
import secrets
import signal
import subprocess
from pathlib import Path
from typing import Dict

import pytest
import requests

from settings.defaults import read_defaults
from tests.integration.conftest import check_model
from tests.support.stack import MODEL_PATH, PROJECT_ROOT, free_port, wait_until_up

pytestmark = pytest.mark.integration

RASA = PROJECT_ROOT / ".venv" / "rasa" / "bin" / "rasa"


def plain_environment() -> Dict[str, str]:
    """A user's shell: none of the settings exported (PATH, HOME, ... kept)."""
    names = set(read_defaults()) | {"PROJECT_ROOT"}
    return {name: value for name, value in os.environ.items() if name not in names}


def test_rasa_run_serves_on_the_defaults(tmp_path: Path):
    check_model(MODEL_PATH)  # fails, with what to do, when the model is missing
    port, token = free_port(), secrets.token_hex(16)
    log_path = tmp_path / "rasa-run.log"
    with open(log_path, "wb") as log:
        server = subprocess.Popen(
            [str(RASA), "run", "--enable-api", "--auth-token", token, "--interface", "127.0.0.1",
             "--port", str(port)],
            cwd=PROJECT_ROOT, env=plain_environment(), stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        try:
            wait_until_up(f"{url}/", 180, server)
        except (RuntimeError, TimeoutError) as error:
            pytest.fail(f"plain `rasa run` did not start ({error}):\n{log_path.read_text(errors='replace')[-4000:]}")

        assert requests.get(f"{url}/", timeout=10).text.startswith("Hello from Rasa")
        status = requests.get(f"{url}/status", params={"token": token}, timeout=10)
        assert status.status_code == 200 and status.json()["model_file"].endswith(".tar.gz")

        reply = requests.post(f"{url}/webhooks/rest/webhook",
                              json={"sender": f"plain-{token[:8]}", "message": "hi"}, timeout=60)
        assert reply.status_code == 200
        assert "Pinecrest Outfitters" in " ".join(m.get("text", "") for m in reply.json()), reply.json()

        # the derived defaults reached Rasa too: the web chat page's own
        # origin may open the chat (WEBCHAT_ALLOWED_ORIGINS, with the secret)
        for origin, allowed in [("http://localhost:8080", True), ("http://evil.example", False)]:
            polling = requests.get(f"{url}/socket.io/", params={"EIO": "4", "transport": "polling"},
                                   headers={"Origin": origin}, timeout=10)
            assert (polling.status_code == 200) is allowed, (origin, polling.status_code)
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()

    assert "Error when trying to expand" not in log_path.read_text(errors="replace")


def test_rasa_data_validate_passes_on_the_defaults():
    validated = subprocess.run(
        [str(RASA), "data", "validate", "--domain", "domain"], cwd=PROJECT_ROOT, env=plain_environment(),
        capture_output=True, text=True, timeout=600,
    )
    assert validated.returncode == 0, validated.stdout[-3000:] + validated.stderr[-3000:]
    assert "pinecrest settings: warning" not in validated.stderr
