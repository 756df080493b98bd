"""No personal data in the logs: a customer types the e-mail addresses and
names of demo orders (actions/orders_db.py: customer100NN@example.com, "Demo
Customer 100NN") into order conversations and into an open-ended question
that the LLM fallback sends to the real model server; afterwards no log of
any service (Rasa server, action server, model server) holds one of them.

At the log levels the services run with (INFO: Rasa's, the action server's
and the model server's defaults). DEBUG logs do carry messages and slots
(Rasa logs every parsed message at DEBUG): `LOG_LEVEL=DEBUG pytest ...` makes
this test fail, which shows that it reads what the services write.
"""
import subprocess
import uuid

import pytest
import requests

from actions.orders_db import demo_email
from tests.integration.conftest import check_model
from tests.support.stack import (
    MODEL_PATH, PROJECT_ROOT, Stack, base_env, free_port, wait_until_up,
)

pytestmark = pytest.mark.integration

API_TOKEN = uuid.uuid4().hex
ORDERS = ["10002", "10003", "10004", "10005"]
EMAILS = [demo_email(order_id) for order_id in ORDERS]
NAMES = [f"Demo Customer {order_id}" for order_id in ORDERS]
CONVERSATION = [
    "hi",
    # open-ended: the LLM fallback, with the model server
    "Demo Customer 10005 here. What would you pack for a rainy weekend of camping with kids?",
    "where is my order 10002",
    "my email is customer10002@example.com",
    "I'm Demo Customer 10003, can I return order 10003? My e-mail is customer10003@example.com",
    "customer10003@example.com",
    "cancel order 10004 please, I am Demo Customer 10004",
    "the email on it is customer10004@example.com",
]


@pytest.fixture(scope="module")
def services(tmp_path_factory):
    """The real model server, action server and Rasa server, each logging to
    a file in one folder."""
    check_model(MODEL_PATH)
    workdir = tmp_path_factory.mktemp("pii-stack")
    model_port = free_port()
    model_log = open(workdir / "model-server.log", "wb")
    model_server = subprocess.Popen(
        [str(PROJECT_ROOT / ".venv" / "llm" / "bin" / "python"), "-m", "model_server",
         "--host", "127.0.0.1", "--port", str(model_port)],
        cwd=PROJECT_ROOT, env=base_env(), stdout=model_log, stderr=subprocess.STDOUT,
    )
    try:
        wait_until_up(f"http://127.0.0.1:{model_port}/health", 600, model_server)
        env = base_env(
            DATABASE_URL=f"sqlite:///{workdir / 'shop.db'}",
            KNOWLEDGE_INDEX_PATH=str(workdir / "knowledge_index.json"),
            MODEL_SERVER_URL=f"http://127.0.0.1:{model_port}/v1",
            LLM_DEADLINE_S="30",  # a loaded machine is slow; the answer is not what is tested
            ACTION_SERVER_TIMEOUT_S="35", TICKET_LOCK_LIFETIME="60",  # which the limits must nest in
        )
        with Stack(workdir, env=env, rasa_args=["--enable-api", f"--auth-token={API_TOKEN}"]) as stack:
            yield stack
    finally:
        model_server.terminate()
        model_server.wait(timeout=30)
        model_log.close()


def test_no_email_address_or_name_reaches_a_log(services):
    sender = f"pii-{uuid.uuid4().hex[:8]}"
    replies = [services.say(sender, text, timeout=60) for text in CONVERSATION]
    for text, reply in zip(CONVERSATION, replies):  # shown when the test fails
        print(f"user: {text}\n  bot: {[message.get('text') for message in reply]}")

    # the conversation happened, as typed, and the last message reached the model
    assert all(replies), replies
    tracker = requests.get(f"{services.rasa_url}/conversations/{sender}/tracker",
                           params={"token": API_TOKEN}, timeout=10).json()
    assert [e["text"] for e in tracker["events"] if e["event"] == "user"] == CONVERSATION
    fallbacks = [e["metadata"]["llm_fallback"] for e in tracker["events"]
                 if e["event"] == "bot" and "llm_fallback" in (e.get("metadata") or {})]
    assert fallbacks and "generation_budget_ms" in fallbacks[0], fallbacks
    # ... and the services wrote logs: the check below reads something
    logs = {path.name: path.read_text(errors="replace") for path in services.workdir.glob("*.log")}
    assert set(logs) >= {"rasa-server.log", "action-server.log", "model-server.log"}, logs.keys()
    assert all(text.strip() for text in logs.values()), {k: len(v) for k, v in logs.items()}

    leaks = [
        f"{name}:{number}: {line.strip()[:300]}"
        for name, text in logs.items()
        for number, line in enumerate(text.splitlines(), 1)
        if any(value.lower() in line.lower() for value in EMAILS + NAMES)
    ]
    assert leaks == []
