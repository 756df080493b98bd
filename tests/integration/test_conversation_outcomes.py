"""Whole conversations as customers type them, through the REST channel of the
real stack, each judged by what it did in the order database: order cancelled
or not, return registered or not (with which reason), hand-off ticket created
or not. The conversations are in tests/conversations/: `outcomes.yml` (the
set the dialogue was developed on) and `held_out.yml` (never tuned on).

Every turn must be answered, with at most three bot messages. When the bot
asks for the e-mail address on an order (verification), the customer gives
it, as a real one would: the conversations say what the customer wants, not
how the shop checks who they are."""
import re
import uuid
from pathlib import Path
from typing import Dict, List

import pytest
import yaml
from sqlalchemy import delete, select

from actions.orders_db import (
    HandoffTicketRow, OrderRepository, OrderRow, ReturnRequestRow, demo_email,
)
from tests.conftest import TESTS_DIR

pytestmark = pytest.mark.integration

CONVERSATIONS_DIR = TESTS_DIR / "conversations"
MAX_BOT_MESSAGES_PER_TURN = 3
EMAIL_QUESTION = re.compile(r"e-mail address on order #(\d{5})")
KINDS = {
    "topic_switch", "correction", "mid_form_question", "suggestion", "runaway",
    "other_number", "context",
}


def load_conversations(path: Path) -> List[Dict]:
    return yaml.safe_load(path.read_text())["conversations"]


def cases(file_name: str):
    return [
        pytest.param(conversation, id=re.sub(r"\W+", "-", conversation["name"]).strip("-"))
        for conversation in load_conversations(CONVERSATIONS_DIR / file_name)
    ]


def reseed(repository: OrderRepository) -> None:
    """Every conversation starts from the demo orders as seeded."""
    with repository._sessions.begin() as session:
        for table in (ReturnRequestRow, HandoffTicketRow, OrderRow):
            session.execute(delete(table))
    repository.create_schema_and_seed()


def outcome(repository: OrderRepository, sender: str) -> Dict:
    with repository._sessions() as session:
        statuses = dict(session.execute(select(OrderRow.order_id, OrderRow.status)).all())
        returns = dict(session.execute(select(ReturnRequestRow.order_id, ReturnRequestRow.reason)).all())
        tickets = session.execute(
            select(HandoffTicketRow.order_id).where(HandoffTicketRow.sender_id == sender)
        ).scalars().all()
    return {"orders": statuses, "returns": returns, "tickets": list(tickets)}


def say_as_customer(stack, sender: str, text: str) -> List[Dict]:
    """The bot's replies to the message, and to the e-mail address on the
    order when the bot asks for it (at most once per message)."""
    replies = stack.say(sender, text)
    assert 1 <= len(replies) <= MAX_BOT_MESSAGES_PER_TURN, (text, replies)
    asked = EMAIL_QUESTION.search(replies[-1].get("text") or "")
    if asked:
        answers = stack.say(sender, demo_email(asked.group(1)))
        assert 1 <= len(answers) <= MAX_BOT_MESSAGES_PER_TURN, (text, answers)
        replies = replies + answers
    return replies


def check_turn(turn: Dict, messages: List[Dict]) -> None:
    said = " ".join(m.get("text") or "" for m in messages).lower()
    for words in turn.get("says", []):
        assert words.lower() in said, (turn["user"], words, said)
    for words in turn.get("not_says", []):
        assert words.lower() not in said, (turn["user"], words, said)


def check_outcome(expect: Dict, found: Dict) -> None:
    for order_id, status in expect.get("orders", {}).items():
        assert found["orders"][order_id] == status, (order_id, found["orders"][order_id])
    if "returns" in expect:
        assert sorted(found["returns"]) == sorted(expect["returns"]), found["returns"]
    for order_id, reason in expect.get("reasons", {}).items():
        assert found["returns"].get(order_id) == reason, found["returns"]
    if "tickets" in expect:
        assert len(found["tickets"]) == expect["tickets"], found["tickets"]
    if "ticket_orders" in expect:
        assert sorted(found["tickets"]) == sorted(expect["ticket_orders"]), found["tickets"]


def hold(conversation: Dict, stack, shop_db: OrderRepository) -> None:
    reseed(shop_db)
    sender = f"outcome-{uuid.uuid4().hex[:12]}"
    for turn in conversation["turns"]:
        assert isinstance(turn["user"], str), f"quote {turn['user']!r} in the YAML file"
        check_turn(turn, say_as_customer(stack, sender, turn["user"]))
    check_outcome(conversation["expect"], outcome(shop_db, sender))


@pytest.fixture
def seeded_afterwards(shop_db):
    # the other integration tests expect the demo orders as seeded
    yield shop_db
    reseed(shop_db)


@pytest.mark.parametrize("conversation", cases("outcomes.yml"))
def test_conversation_ends_as_the_customer_meant(conversation, stack, seeded_afterwards):
    hold(conversation, stack, seeded_afterwards)


@pytest.mark.parametrize("conversation", cases("held_out.yml"))
def test_held_out_conversation_ends_as_the_customer_meant(conversation, stack, seeded_afterwards):
    hold(conversation, stack, seeded_afterwards)


def test_the_sets_cover_every_kind_with_enough_conversations():
    own = load_conversations(CONVERSATIONS_DIR / "outcomes.yml")
    held_out = load_conversations(CONVERSATIONS_DIR / "held_out.yml")
    assert len(own) >= 40
    for conversations in (own, held_out):
        assert {c["kind"] for c in conversations} == KINDS
    names = [c["name"] for c in own + held_out]
    assert len(names) == len(set(names))
