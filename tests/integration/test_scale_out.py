"""Scaling out the Rasa way: two Rasa servers (each with its own action
server) share a PostgreSQL tracker store, a Redis lock store and a PostgreSQL
order database. A conversation started on one server continues on the other
(an order verified on one server is verified on the other), concurrent
messages of one conversation are processed one at a time, and a Slack retry
that reaches the other server is recognised there."""
import json
import secrets
import time
from concurrent.futures import ThreadPoolExecutor

import psycopg2
import pytest
import redis
import requests

from actions.orders_db import OrderRepository, OrderStatus, demo_email
from actions.verification import email_question
from tests.channels.support import credentials
from tests.channels.support.slack import FakeSlackApi, message_event, signed_headers
from tests.integration.conftest import UNREACHABLE_MODEL_SERVER, check_model
from tests.support.stack import MODEL_PATH, Stack, base_env

pytestmark = [pytest.mark.integration, pytest.mark.postgres]

SERVER = dict(host="127.0.0.1", port=5432, user="postgres", dbname="postgres")


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
def two_servers(databases, fake_slack, tmp_path_factory):
    check_model(MODEL_PATH)
    redis.Redis(host="127.0.0.1", port=6379).ping()  # the lock store must be there
    tracker_db, orders_db = databases
    orders_url = f"postgresql+psycopg2://postgres@127.0.0.1:5432/{orders_db}"
    OrderRepository.from_url(orders_url).create_schema_and_seed()
    env = dict(
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
    stacks = [Stack(tmp_path_factory.mktemp(f"server-{i}"), env=base_env(**env)) for i in (1, 2)]
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
