"""One Rasa server for all channel tests (starting one takes up to a minute
here): the real `credentials.yml` with every channel, Slack pointed at a local
fake of its Web API, the HTTP API with token and JWT authentication, and CORS
for the web chat page, whose origin is the only one socket.io accepts, and
web chat sessions signed with a secret of the test run. Tests use their own
sender ids, so they don't interfere.

The LLM fallback talks to a model server that is slow on purpose (open-ended
questions get their fixed reply after LLM_DEADLINE_S seconds), unless
CHANNEL_TESTS_MODEL_SERVER_URL names a real one (e.g. http://127.0.0.1:8000/v1
from `make model-server`), which then answers them.
"""
import os

import pytest

from tests.channels.support import credentials
from tests.channels.support.model_server import SlowModelServer
from tests.channels.support.server import webchat_origin
from tests.channels.support.slack import FakeSlackApi
from tests.support.stack import Stack, base_env, free_port


@pytest.fixture(scope="session")
def fake_slack():
    fake = FakeSlackApi().start()
    yield fake
    fake.stop()


@pytest.fixture(scope="session")
def model_server_env():
    """The action server's model server settings."""
    real = os.environ.get("CHANNEL_TESTS_MODEL_SERVER_URL")
    if real:
        yield {"MODEL_SERVER_URL": real}
        return
    slow = SlowModelServer().start()
    yield {"MODEL_SERVER_URL": slow.url, "LLM_DEADLINE_S": "4"}
    slow.stop()


@pytest.fixture(scope="session")
def webchat_port() -> int:
    return free_port()


@pytest.fixture(scope="session")
def channel_stack(tmp_path_factory, fake_slack, model_server_env, webchat_port):
    workdir = tmp_path_factory.mktemp("channel-stack")
    env = base_env(
        SLACK_BOT_TOKEN=credentials.SLACK_BOT_TOKEN,
        SLACK_SIGNING_SECRET=credentials.SLACK_SIGNING_SECRET,
        SLACK_API_BASE_URL=fake_slack.base_url,
        DATABASE_URL=f"sqlite:///{workdir / 'shop.db'}",
        KNOWLEDGE_INDEX_PATH=str(workdir / "knowledge_index.json"),
        WEBCHAT_SESSION_SECRET=credentials.WEBCHAT_SESSION_SECRET,
        WEBCHAT_ALLOWED_ORIGINS=webchat_origin(webchat_port),
        **model_server_env,
    )
    stack = Stack(
        workdir=workdir,
        env=env,
        rasa_args=[
            "--enable-api",
            # "=": a secret may start with "-"
            f"--auth-token={credentials.API_TOKEN}",
            f"--jwt-secret={credentials.JWT_SECRET}", "--jwt-method=HS256",
            "--cors", webchat_origin(webchat_port),
        ],
    )
    with stack:
        yield stack
