"""Scaling out the Rasa way, and the faults it meets: two Rasa servers (each
with its own action server) share a PostgreSQL tracker store, a Redis lock
store and a PostgreSQL order database. A conversation started on one server
continues on the other (an order verified on one server is verified on the
other), concurrent messages of one conversation are processed one at a time,
a Slack retry that reaches the other server is recognised there, and a REST
message sent again to the other server is processed once.

The second server reaches the tracker store, the lock store and its action
server through TCP proxies that the fault tests break
(tests/support/tcp_proxy.py): a store outage is told to the customer and
loses nothing, a hung action server costs its time limit and not Rasa's
300 s, and /metrics counts it all. Limits that do not nest stop a server at
start."""
import json
import re
import secrets
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import psycopg2
import pytest
import redis
import requests

from actions.orders_db import OrderRepository, OrderStatus, demo_email
from actions.verification import email_question
from rasa_server.bounded_actions import ACTION_FAILED_REPLY
from rasa_server.unavailable import UNAVAILABLE_REPLY
from tests.channels.support import credentials
from tests.channels.support.slack import FakeSlackApi, message_event, signed_headers
from tests.integration.conftest import UNREACHABLE_MODEL_SERVER, check_model
from tests.support.stack import MODEL_PATH, PROJECT_ROOT, VENV_BIN, Stack, base_env, free_port
from tests.support.tcp_proxy import TcpProxy

pytestmark = [pytest.mark.integration, pytest.mark.postgres]

SERVER = dict(host="127.0.0.1", port=5432, user="postgres", dbname="postgres")
# short limits that nest, so that a hung action server is quick to test
LIMITS = dict(LLM_DEADLINE_S="2", ACTION_SERVER_TIMEOUT_S="4", TICKET_LOCK_LIFETIME="8")


@pytest.fixture(scope="module")
def databases():
    """Throwaway PostgreSQL databases for the tracker store and the orders."""
    names = [f"pinecrest_trackers_{secrets.token_hex(4)}", f"pinecrest_orders_{secrets.token_hex(4)}"]
    admin = psycopg2.connect(**SERVER)
    admin.autocommit = True
    with admin.cursor() as cursor:
        for name in names:
            cursor.execute(f'CREATE DATABASE "{name}"')
    try:
        yield names
    finally:
        with admin.cursor() as cursor:
            for name in names:
                cursor.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture(scope="module")
def fake_slack():
    fake = FakeSlackApi().start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def proxies():
    """What the second server's tracker store, lock store and action server
    are reached through."""
    found = {"postgres": TcpProxy(5432).start(), "redis": TcpProxy(6379).start(),
             "actions": TcpProxy(free_port()).start()}
    yield found
    for proxy in found.values():
        proxy.stop()


@pytest.fixture(scope="module")
def two_servers(databases, fake_slack, proxies, tmp_path_factory):
    check_model(MODEL_PATH)
    redis.Redis(host="127.0.0.1", port=6379).ping()  # the lock store must be there
    tracker_db, orders_db = databases
    orders_url = f"postgresql+psycopg2://postgres@127.0.0.1:5432/{orders_db}"
    OrderRepository.from_url(orders_url).create_schema_and_seed()
    env = dict(
        LIMITS,
        DATABASE_URL=orders_url,
        MODEL_SERVER_URL=UNREACHABLE_MODEL_SERVER,
        TRACKER_STORE_TYPE="sql",
        TRACKER_STORE_DIALECT="postgresql",
        TRACKER_STORE_DB=tracker_db,
        # what scripts/defaults.sh makes of LOCK_STORE_TYPE=redis
        LOCK_STORE_TYPE="lock_stores.atomic_redis.AtomicRedisLockStore",
        LOCK_STORE_KEY_PREFIX=f"pinecresttest{secrets.token_hex(4)}",  # alphanumeric, or Rasa ignores it
        SLACK_BOT_TOKEN=credentials.SLACK_BOT_TOKEN,
        SLACK_SIGNING_SECRET=credentials.SLACK_SIGNING_SECRET,
        SLACK_API_BASE_URL=fake_slack.base_url,
        SLACK_SEEN_EVENTS_REDIS_URL="redis://127.0.0.1:6379/2",
    )
    proxied = dict(
        TRACKER_STORE_PORT=str(proxies["postgres"].port),
        LOCK_STORE_PORT=str(proxies["redis"].port),
        ACTION_ENDPOINT_URL=f"http://127.0.0.1:{proxies['actions'].port}/webhook",
    )
    stacks = [Stack(tmp_path_factory.mktemp("server-1"), env=base_env(**env)),
              Stack(tmp_path_factory.mktemp("server-2"), env=base_env(**env, **proxied),
                    action_port=proxies["actions"].target[1])]
    try:
        for stack in stacks:
            stack.__enter__()
        yield stacks, OrderRepository.from_url(orders_url)
    finally:
        for stack in stacks:
            stack.stop()


def texts(messages):
    return " ".join(m.get("text", "") for m in messages)


def test_a_form_started_on_one_server_is_finished_on_the_other(two_servers):
    (first, second), orders = two_servers
    sender = f"scale-{secrets.token_hex(4)}"
    assert "What's your order number?" in texts(first.say(sender, "where is my order?"))
    assert texts(second.say(sender, "10002")) == email_question("10002")
    reply = texts(first.say(sender, demo_email("10002")))
    assert "Order #10002" in reply and "1Z999AA10123456784" in reply


def test_a_cancellation_across_servers_is_written_once(two_servers):
    (first, second), orders = two_servers
    sender = f"scale-{secrets.token_hex(4)}"
    assert texts(first.say(sender, "please cancel order 10009")) == email_question("10009")
    assert "Shall I cancel it?" in texts(second.say(sender, demo_email("10009")))
    assert "Done: order #10009 is cancelled" in texts(first.say(sender, "yes"))
    assert orders.get_order("10009").status is OrderStatus.CANCELLED


def test_concurrent_messages_of_one_conversation_are_serialised(two_servers, databases):
    (first, second), _ = two_servers
    sender = f"scale-{secrets.token_hex(4)}"
    messages = [
        "hi", "what are your opening hours?", "do you take paypal?", "how much is shipping?",
        "thanks", "are you a bot?",
    ]
    with ThreadPoolExecutor(len(messages)) as pool:
        replies = list(pool.map(
            lambda pair: pair[0].say(sender, pair[1]),
            [((first, second)[i % 2], text) for i, text in enumerate(messages)],
        ))
    assert all(replies), replies

    # read the shared tracker store: with the Redis lock, each message was
    # processed as a whole before the next, so no event was lost or interleaved
    connection = psycopg2.connect(**{**SERVER, "dbname": databases[0]})
    with connection, connection.cursor() as cursor:
        cursor.execute(
            "SELECT type_name FROM events WHERE sender_id = %s ORDER BY id", (sender,)
        )
        kinds = [row[0] for row in cursor.fetchall()]
    connection.close()
    turns = [kind for kind in kinds if kind in ("user", "bot")]
    assert turns.count("user") == len(messages)
    assert turns == ["user", "bot"] * len(messages)


def test_a_slack_retry_that_reaches_the_other_server_is_not_answered_again(
    two_servers, databases, fake_slack
):
    (first, second), _ = two_servers
    channel, user = f"D-{secrets.token_hex(4)}", f"U-{secrets.token_hex(4)}"
    event = message_event(f"Ev-{secrets.token_hex(6)}", user, channel,
                          "what are your opening hours?", f"{time.time():.6f}")
    body = json.dumps(event).encode()

    def deliver(stack, **retry_headers):
        headers = {**signed_headers(body, credentials.SLACK_SIGNING_SECRET), **retry_headers}
        return requests.post(f"{stack.rasa_url}/webhooks/slack/webhook", data=body,
                             headers=headers, timeout=10)

    delivered = deliver(first)
    retried = deliver(second, **{"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"})
    fake_slack.wait_for_posts(channel, count=1, timeout=60)
    time.sleep(3)  # time for a second reply to arrive, if any

    assert delivered.status_code == 200 and retried.status_code == 200
    assert retried.headers.get("X-Slack-No-Retry") == "1"
    assert len(fake_slack.posts_to(channel)) == 1
    connection = psycopg2.connect(**{**SERVER, "dbname": databases[0]})
    with connection, connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM events WHERE sender_id = %s AND type_name = 'user'",
                       (user,))
        assert cursor.fetchone()[0] == 1
    connection.close()


def post(stack, sender, text, message_id, timeout=30):
    return requests.post(stack.rest_webhook, timeout=timeout, json={
        "sender": sender, "message": text, "metadata": {"message_id": message_id}})


def reply_texts(response):
    return [m.get("text", "") for m in response.json()]


def stored(tracker_db, sender):
    """(type, text, message_id) of the conversation's user and bot events, in order."""
    connection = psycopg2.connect(**{**SERVER, "dbname": tracker_db})
    with connection, connection.cursor() as cursor:
        cursor.execute("SELECT type_name, data FROM events WHERE sender_id = %s "
                       "AND type_name IN ('user', 'bot') ORDER BY id", (sender,))
        rows = [(kind, json.loads(data)) for kind, data in cursor.fetchall()]
    connection.close()
    return [(kind, data.get("text"), (data.get("metadata") or {}).get("message_id"))
            for kind, data in rows]


def test_a_message_sent_again_to_the_other_server_is_processed_once(two_servers, databases):
    (first, second), _ = two_servers
    sender = f"scale-{secrets.token_hex(4)}"
    once = post(first, sender, "where is my order?", "m1")
    again = post(second, sender, "where is my order?", "m1")
    assert once.status_code == again.status_code == 200
    assert again.headers.get("X-Pine-Replayed") == "1"
    assert reply_texts(again) == reply_texts(once) and reply_texts(once)
    # the same message on both servers at once: still one turn
    with ThreadPoolExecutor(2) as pool:
        replies = list(pool.map(lambda stack: post(stack, sender, "10002", "m2"), (first, second)))
    assert [reply_texts(r) for r in replies] == [[email_question("10002")]] * 2
    users = [row for row in stored(databases[0], sender) if row[0] == "user"]
    assert [row[2] for row in users] == ["m1", "m2"]


def test_a_tracker_store_outage_is_told_and_the_conversation_resumes(two_servers, proxies,
                                                                     databases):
    (_, second), _ = two_servers
    sender = f"scale-{secrets.token_hex(4)}"
    assert post(second, sender, "where is my order?", "s1").status_code == 200
    proxies["postgres"].cut()
    try:
        down = post(second, sender, "10002", "s2")
    finally:
        proxies["postgres"].restore()
    assert down.status_code == 503 and down.headers["Retry-After"]
    assert reply_texts(down) == [UNAVAILABLE_REPLY]
    assert down.json()[0]["custom"]["pine_status"] == "unavailable"
    # sent again once the store is back: the form goes on where it was (it
    # did not restart empty), and the message is stored once
    again = post(second, sender, "10002", "s2")
    assert again.status_code == 200 and reply_texts(again) == [email_question("10002")]
    assert [row[2] for row in stored(databases[0], sender) if row[0] == "user"] == ["s1", "s2"]


def test_a_lock_store_outage_is_told_too(two_servers, proxies):
    (_, second), _ = two_servers
    sender = f"scale-{secrets.token_hex(4)}"
    proxies["redis"].cut()
    try:
        down = post(second, sender, "hi", "l1")
    finally:
        proxies["redis"].restore()
    assert down.status_code == 503 and reply_texts(down) == [UNAVAILABLE_REPLY]
    assert post(second, sender, "hi", "l1").status_code == 200


def test_a_hung_action_server_costs_its_limit_and_the_apology_is_stored(two_servers, proxies,
                                                                       databases):
    (_, second), _ = two_servers
    sender = f"scale-{secrets.token_hex(4)}"
    proxies["actions"].hang()
    try:
        started = time.monotonic()
        reply = post(second, sender, "which tent would you take for a rainy weekend?", "h1")
        took = time.monotonic() - started
    finally:
        proxies["actions"].restore()
    assert reply.status_code == 200 and ACTION_FAILED_REPLY in reply_texts(reply)
    assert took < float(LIMITS["ACTION_SERVER_TIMEOUT_S"]) + 5, took
    assert ("bot", ACTION_FAILED_REPLY, None) in stored(databases[0], sender)


def test_metrics_count_the_turns_by_outcome(two_servers):
    (_, second), _ = two_servers
    body = requests.get(f"{second.rasa_url}/metrics", timeout=10).text
    for outcome in ("replied", "replayed", "unavailable"):
        line = next(line for line in body.splitlines() if line.startswith(
            f'pine_messages_total{{channel="rest",outcome="{outcome}"}}'))
        assert float(line.split()[-1]) >= 1, line
    assert "pine_turn_seconds_bucket" in body
    assert 'pine_action_call_failures_total{reason="timeout"}' in body


def test_the_action_server_counts_its_calls_by_action_and_outcome(two_servers):
    (first, _), _ = two_servers
    before = action_runs(first)
    sender = f"scale-{secrets.token_hex(4)}"
    assert reply_texts(post(first, sender, "where is my order 10002?", "m1"))
    after = action_runs(first)
    assert sum(after.values()) > sum(before.values()), (before, after)
    assert {outcome for _, outcome in after} <= {"ok", "rejected", "not_found", "error"}
    assert any(outcome == "ok" and count > before.get((action, outcome), 0)
               for (action, outcome), count in after.items()), (before, after)


def action_runs(stack) -> dict:
    """pine_action_runs_total of a stack's action server, by (action, outcome)."""
    body = requests.get(f"http://127.0.0.1:{stack.action_port}/metrics", timeout=10).text
    runs = {}
    for line in body.splitlines():
        match = re.match(r'pine_action_runs_total\{action="([^"]+)",outcome="([^"]+)"\} (\S+)', line)
        if match:
            runs[(match[1], match[2])] = float(match[3])
    return runs


def test_limits_that_do_not_nest_stop_the_server_at_start():
    env = base_env(TICKET_LOCK_LIFETIME="10", ACTION_SERVER_TIMEOUT_S="15")
    result = subprocess.run(
        [str(VENV_BIN / "rasa"), "run", "--model", str(MODEL_PATH), "--port", str(free_port()),
         "--interface", "127.0.0.1", "--credentials", str(PROJECT_ROOT / "credentials.yml"),
         "--endpoints", str(PROJECT_ROOT / "endpoints.yml")],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode != 0
    assert "TICKET_LOCK_LIFETIME" in result.stdout + result.stderr
