"""Hand-off to a human (actions/handoff.py): a ticket with the transcript in
the order database, and what the user is told."""
import re

import pytest

from rasa_sdk.events import SlotSet
from sqlalchemy import select

from actions.handoff import ActionHandoff, transcript
from actions.orders_db import HandoffTicketRow
from tests.conftest import bot_message, load_tracker

TRANSCRIPT = (
    "user: hi\n"
    "bot: Hello and welcome to Pinecrest Outfitters! Ask me about an order, a return, "
    "shipping, our hours or payment options.\n"
    "user: where is my order?\n"
    "bot: Sure, I can check that. What's your order number? It has five digits, like 10023.\n"
    "user: 10002\n"
    "bot: Order #10002 (1x Trail Runner Boots, $129.00) shipped on Fri 27 Nov 2026 with UPS, "
    "tracking number 1Z999AA10123456784. Expected delivery: Tue 1 Dec 2026.\n"
    "user: can I talk to a human please"
)


def handoff_reply(ticket: str) -> dict:
    return bot_message(
        f"I've passed our conversation to the support team, ticket {ticket}. A person from the "
        "team will reply by e-mail within one business day, usually within 4 hours during "
        "customer-service hours (Monday-Friday 8:00-20:00 ET and Saturday 9:00-17:00 ET). You can "
        "also call us on 1-800-555-0142."
    )


def tickets(db_engine):
    with db_engine.connect() as connection:
        rows = connection.execute(
            select(
                HandoffTicketRow.ticket, HandoffTicketRow.sender_id,
                HandoffTicketRow.order_id, HandoffTicketRow.transcript,
            )
        ).all()
    return [tuple(row) for row in rows]


def ticket_in(message: dict) -> str:
    match = re.search(r"ticket (T-[0-9A-F]{6})\.", message["text"])
    assert match, message["text"]
    return match.group(1)


def test_transcript_of_the_conversation():
    assert transcript(load_tracker("handoff_after_order_status")) == TRANSCRIPT


def test_transcript_keeps_the_last_turns():
    assert transcript(load_tracker("handoff_after_order_status"), turns=3) == "\n".join(
        TRANSCRIPT.split("\n")[-3:]
    )


async def test_handoff_records_a_ticket_with_the_transcript(db_engine, dispatcher, domain):
    tracker = load_tracker("handoff_after_order_status")
    events = await ActionHandoff().run(dispatcher, tracker, domain)
    assert events == [SlotSet("order_id", None), SlotSet("suggestion", None)]
    ticket = ticket_in(dispatcher.messages[0])
    assert dispatcher.messages == [handoff_reply(ticket)]
    assert tickets(db_engine) == [
        (ticket, "handoff_after_order_status", None, TRANSCRIPT)
    ]


@pytest.mark.parametrize("verified_orders, recorded", [(["10006"], "10006"), ([], None)])
async def test_handoff_during_a_form_records_the_order_once_verified(
    verified_orders, recorded, db_engine, dispatcher, domain
):
    # an unverified order is not put on the ticket: the team would act on it
    tracker = load_tracker("handoff_during_cancel_form", slots={"verified_orders": verified_orders})
    events = await ActionHandoff().run(dispatcher, tracker, domain)
    assert events == [SlotSet("order_id", None), SlotSet("suggestion", None)]
    ticket = ticket_in(dispatcher.messages[0])
    assert dispatcher.messages == [handoff_reply(ticket)]
    assert tickets(db_engine) == [
        (
            ticket,
            "handoff_during_cancel_form",
            recorded,
            "user: I want to cancel order 10006\n"
            "bot: Order #10006 (1x Ridge 40L Backpack, $159.00) hasn't shipped yet, so I can "
            "still cancel it. Shall I cancel it?\n"
            "user: let me talk to a real person",
        )
    ]


async def test_asking_again_updates_the_same_ticket(db_engine, dispatcher, domain):
    tracker = load_tracker("handoff_after_order_status")
    await ActionHandoff().run(dispatcher, tracker, domain)
    ticket = ticket_in(dispatcher.messages[0])
    again = type(dispatcher)()
    await ActionHandoff().run(again, load_tracker("handoff_during_cancel_form"), domain)
    # another conversation gets its own ticket ...
    assert len(tickets(db_engine)) == 2
    third = type(dispatcher)()
    await ActionHandoff().run(third, tracker, domain)
    # ... the same one keeps its ticket
    assert third.messages[0]["text"].startswith(
        f"Our support team already has this conversation, ticket {ticket}, and I've added your "
        "latest messages."
    )
    assert len(tickets(db_engine)) == 2
