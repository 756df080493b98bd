"""Scaling out the Rasa way: two Rasa servers (each with its own action
server) share a PostgreSQL tracker store, a Redis lock store and a PostgreSQL
order database. A conversation started on one server continues on the other,
and concurrent messages of one conversation are processed one at a time."""
import secrets
from concurrent.futures import ThreadPoolExecutor

import psycopg2
import pytest
import redis

from actions.orders_db import OrderRepository, OrderStatus
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
def two_servers(databases, tmp_path_factory):
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
        LOCK_STORE_TYPE="redis",
        LOCK_STORE_KEY_PREFIX=f"pinecrest-test-{secrets.token_hex(4)}",
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
    reply = texts(second.say(sender, "10002"))
    assert "Order #10002" in reply and "1Z999AA10123456784" in reply


def test_a_cancellation_across_servers_is_written_once(two_servers):
    (first, second), orders = two_servers
    sender = f"scale-{secrets.token_hex(4)}"
    assert "Shall I cancel it?" in texts(first.say(sender, "please cancel order 10009"))
    assert "Done: order #10009 is cancelled" in texts(second.say(sender, "yes"))
    assert orders.get_order("10009").status is OrderStatus.CANCELLED


def test_concurrent_messages_of_one_conversation_are_serialised(two_servers, databases):
    (first, second), _ = two_servers
    sender = f"scale-{secrets.token_hex(4)}"
    messages = ["hi", "what are your opening hours?", "do you take paypal?", "how much is shipping?"]
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
