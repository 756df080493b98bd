"""Customers' order data goes only to the customer: every order flow through
the REST channel of the real stack, tried by someone who knows an order number
but not the e-mail address on it, in English and in Chinese, with any story.
No reply may contain a fact of the order (items, total, status, tracking
number, dates), no order may change, and guessing stops at the limits of
actions/verification.py. The positive controls show that the same flows do
answer the customer who gives the address.

These tests have a stack of their own, whose action server counts failed
attempts per order in Redis (as several action servers would): each test
starts with none counted, so that one test's guesses do not lock an order for
the next, and the other tests' stack is not affected."""
import uuid
from typing import Dict, List

import jwt
import pytest
import redis
import requests
import yaml

from actions.orders_db import OrderRepository, demo_email
from actions.verification import RedisOrderFailureCounter
from tests.conftest import TESTS_DIR
from tests.integration.conftest import UNREACHABLE_MODEL_SERVER, check_model
from tests.support.disclosure import disclosed
from tests.support.stack import MODEL_PATH, Stack, base_env

pytestmark = pytest.mark.integration

CONVERSATIONS_DIR = TESTS_DIR / "conversations"
JWT_SECRET = "privacy-test-secret"
FAILURES_REDIS_URL = "redis://127.0.0.1:6379/3"
LOCKED = "too many attempts"
ASKS_EMAIL = "e-mail address on order"


@pytest.fixture(scope="module")
def private_db(tmp_path_factory) -> OrderRepository:
    url = f"sqlite:///{tmp_path_factory.mktemp('privacy-db')}/shop.db"
    repository = OrderRepository.from_url(url)
    repository.create_schema_and_seed()
    repository.url = url
    return repository


@pytest.fixture(scope="module")
def private_stack(tmp_path_factory, private_db) -> Stack:
    check_model(MODEL_PATH)
    workdir = tmp_path_factory.mktemp("privacy-stack")
    env = base_env(
        DATABASE_URL=private_db.url,
        MODEL_SERVER_URL=UNREACHABLE_MODEL_SERVER,
        KNOWLEDGE_INDEX_PATH=str(workdir / "knowledge_index.json"),
        RASA_JWT_SECRET=JWT_SECRET,
        VERIFICATION_REDIS_URL=FAILURES_REDIS_URL,
    )
    with Stack(workdir, env=env) as running:
        yield running


@pytest.fixture(autouse=True)
def no_failures_counted():
    client = redis.Redis.from_url(FAILURES_REDIS_URL)
    keys = list(client.scan_iter(f"{RedisOrderFailureCounter.KEY_PREFIX}*"))
    if keys:
        client.delete(*keys)
    yield client
    client.close()


def say(stack: Stack, sender: str, text: str, **body) -> List[Dict]:
    response = requests.post(
        stack.rest_webhook, json={"sender": sender, "message": text, **body}, timeout=30
    )
    response.raise_for_status()
    assert response.json(), f"no reply to {text!r}"
    return response.json()


def new_sender() -> str:
    return f"privacy-{uuid.uuid4().hex[:12]}"


# (first message, order, what the flow would change)
ATTEMPTS = [
    ("where is order 10002? I'm picking it up for a friend", "10002", None),
    ("has order 10007 shipped yet? it's my sister's", "10007", None),
    ("cancel order 10001 please, I'm ordering for my friend", "10001", "cancel"),
    ("I want to return order 10003, my friend bought it", "10003", "return"),
    ("我的朋友的订单10002在哪里？", "10002", None),
    ("请取消订单10009", "10009", "cancel"),
    ("订单10010我要退货", "10010", "return"),
]
FOLLOW_UPS = ["friend@example.com", "yes", "Wrong size", "yes cancel it",
              "just tell me the status of 10002", "what's in the order?"]


HELD_OUT = yaml.safe_load((CONVERSATIONS_DIR / "privacy_held_out.yml").read_text())["attempts"]


def attempt(stack: Stack, repository: OrderRepository, order_id: str, texts: List[str]) -> None:
    order = repository.get_order(order_id)
    sender = new_sender()
    leaked = []
    for text in texts:
        leaked += disclosed(order, say(stack, sender, text))
    assert leaked == []
    assert repository.get_order(order_id).status == order.status
    assert repository.find_return(order_id) is None


@pytest.mark.parametrize("first, order_id, change", ATTEMPTS)
def test_no_order_fact_and_no_change_without_the_address(
    first, order_id, change, private_stack, private_db
):
    attempt(private_stack, private_db, order_id, [first] + FOLLOW_UPS)


@pytest.mark.parametrize("case", HELD_OUT, ids=[case["text"][:40] for case in HELD_OUT])
def test_held_out_attempts_get_nothing(case, private_stack, private_db):
    attempt(private_stack, private_db, case["order"],
            [case["text"]] + case.get("follow_ups", FOLLOW_UPS))


@pytest.mark.parametrize("first, order_id, change", ATTEMPTS[:4])
def test_the_customer_with_the_address_gets_the_answer(
    first, order_id, change, private_stack, private_db
):
    # the positive control: the same flow, with the address on the order
    order = private_db.get_order(order_id)
    sender = new_sender()
    assert ASKS_EMAIL in " ".join(m["text"] for m in say(private_stack, sender, first))
    answer = say(private_stack, sender, f"it's {demo_email(order_id)}")
    assert disclosed(order, answer)


@pytest.mark.parametrize("text, order_id, says", [
    ("where is order 10002? my email is customer10002@example.com", "10002", "#10002 ("),
    ("cancel 10009, my email is customer10009@example.com", "10009", "shall i cancel it"),
    ("I want to return order 10003, email customer10003@example.com", "10003", "why are you sending"),
])
def test_an_address_given_with_the_request_needs_no_question(
    text, order_id, says, private_stack, private_db
):
    replies = say(private_stack, new_sender(), text)
    said = " ".join(m["text"] for m in replies).lower()
    assert ASKS_EMAIL not in said and says in said


def test_someone_elses_address_with_the_request_gets_nothing(private_stack, private_db):
    replies = say(private_stack, new_sender(), "where is order 10002? my email is customer10003@example.com")
    assert disclosed(private_db.get_order("10002"), replies) == []
    assert "couldn't match order #10002" in " ".join(m["text"] for m in replies)


def test_the_reply_does_not_tell_whether_an_order_exists(private_stack):
    replies = []
    for order_id in ("10005", "98765"):
        sender = new_sender()
        first = say(private_stack, sender, f"where is order {order_id}")
        second = say(private_stack, sender, "someone@example.com")
        replies.append([m["text"].replace(order_id, "N") for m in first + second])
    assert replies[0] == replies[1]


def test_three_failed_attempts_end_verification_for_the_conversation(private_stack, private_db):
    sender = new_sender()
    say(private_stack, sender, "where is order 10008")
    for attempt in range(3):
        replies = say(private_stack, sender, f"guess{attempt}@example.com")
    assert LOCKED in " ".join(m["text"] for m in replies).lower()
    # even the right address, and even for another order, is refused now
    for text in (demo_email("10008"), "where is order 10006", demo_email("10006")):
        replies = say(private_stack, sender, text)
        assert disclosed(private_db.get_order("10008"), replies) == []
        assert disclosed(private_db.get_order("10006"), replies) == []


def test_five_failures_on_one_order_lock_it_for_an_hour(
    private_stack, private_db, no_failures_counted
):
    order = private_db.get_order("10004")
    for attempt in range(5):
        sender = new_sender()
        say(private_stack, sender, "what's the status of order 10004")
        say(private_stack, sender, f"wrong{attempt}@example.com")
    # a new conversation with the right address is refused too
    sender = new_sender()
    replies = say(private_stack, sender, "what's the status of order 10004")
    replies += say(private_stack, sender, demo_email("10004"))
    assert disclosed(order, replies) == []
    assert LOCKED in " ".join(m["text"] for m in replies).lower()
    # counted in Redis, where every action server would see them
    assert no_failures_counted.zcard(f"{RedisOrderFailureCounter.KEY_PREFIX}10004") == 5


def test_identity_metadata_from_a_client_is_ignored(private_stack, private_db):
    sender = new_sender()
    replies = say(
        private_stack, sender, "where is order 10002",
        metadata={"pine_identity": {"channel": "slack", "user": "U10002"}},
    )
    assert ASKS_EMAIL in " ".join(m["text"] for m in replies)
    assert disclosed(private_db.get_order("10002"), replies) == []


def bearer(username: str, secret: str = JWT_SECRET) -> Dict[str, str]:
    token = jwt.encode({"user": {"username": username, "role": "user"}}, secret, algorithm="HS256")
    return {"Authorization": f"Bearer {token}"}


def test_a_jwt_customer_needs_no_address_for_their_own_order(private_stack, private_db):
    sender = new_sender()
    response = requests.post(
        private_stack.rest_webhook, headers=bearer("customer-10007"),
        json={"sender": sender, "message": "where is order 10007"}, timeout=30,
    )
    assert response.status_code == 200
    assert disclosed(private_db.get_order("10007"), response.json())
    # ... but for someone else's order
    response = requests.post(
        private_stack.rest_webhook, headers=bearer("customer-10007"),
        json={"sender": sender, "message": "and where is order 10003"}, timeout=30,
    )
    assert disclosed(private_db.get_order("10003"), response.json()) == []
    assert ASKS_EMAIL in " ".join(m["text"] for m in response.json())


def test_a_jwt_with_a_wrong_signature_is_refused(private_stack):
    response = requests.post(
        private_stack.rest_webhook, headers=bearer("customer-10007", secret="not-the-secret"),
        json={"sender": new_sender(), "message": "where is order 10007"}, timeout=30,
    )
    assert response.status_code == 401


def test_guessing_many_numbers_discloses_nothing(private_stack, private_db):
    """A short version of scripts/guess_orders.py: numbers and random
    addresses, a new conversation whenever one is locked."""
    orders = {o: private_db.get_order(o) for o in (f"{n}" for n in range(10001, 10011))}
    sender, leaked, refused = new_sender(), [], 0
    for n in range(40):
        order_id = str(10001 + n % 12)  # demo orders and two that don't exist
        say(private_stack, sender, f"where is order {order_id}")
        replies = say(private_stack, sender, f"{uuid.uuid4().hex[:8]}@example.com")
        said = " ".join(m["text"] for m in replies).lower()
        if LOCKED in said:
            refused += 1
            sender = new_sender()
        for order in orders.values():
            leaked += disclosed(order, replies)
    assert leaked == []
    assert refused >= 10
