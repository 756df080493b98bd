"""Order status, cancellation, returns and the forms' questions
(actions/order_actions.py), against a seeded SQLite order database.

Dates in the expected messages are computed from the day the database was
seeded, with the bot's own date format."""
import re
from datetime import timedelta

import pytest
from rasa_sdk.events import SlotSet
from sqlalchemy import select

from actions.formatting import format_date
from actions.order_actions import (
    ActionAskCancelConfirm,
    ActionAskOrderEmail,
    ActionAskOrderId,
    ActionAskReturnReason,
    ActionCancelOrder,
    ActionClearOrderSlots,
    ActionOrderStatus,
    ActionSubmitReturn,
)
from actions.orders_db import OrderStatus, ReturnRequestRow
from actions import verification
from tests.conftest import bot_message, load_tracker, verified

NOT_FOUND = bot_message("Sorry, I couldn't find that order any more. Could you check the number?")


def day(today, offset: int) -> str:
    return format_date(today + timedelta(days=offset))


def test_action_names_are_in_the_domain(domain):
    actions = [
        ActionOrderStatus, ActionAskCancelConfirm, ActionCancelOrder, ActionSubmitReturn,
        ActionClearOrderSlots, ActionAskOrderId, ActionAskReturnReason, ActionAskOrderEmail,
    ]
    names = [action().name() for action in actions]
    assert names == [
        "action_order_status", "action_ask_cancel_confirm", "action_cancel_order",
        "action_submit_return", "action_clear_order_slots", "action_ask_order_id",
        "action_ask_return_reason", "action_ask_order_email",
    ]
    assert set(names) <= set(domain["actions"])


# action_order_status --------------------------------------------------------


def expected_status(order_id, today):
    return {
        "10001": "Order #10001 (1x Alpine Shell Jacket, $189.00) was placed on "
        f"{day(today, -1)} and is being prepared for shipping. You'll get a tracking link "
        "by e-mail as soon as it ships.",
        "10002": f"Order #10002 (1x Trail Runner Boots, $129.00) shipped on {day(today, -2)} "
        f"with UPS, tracking number 1Z999AA10123456784. Expected delivery: {day(today, 2)}.",
        "10003": "Order #10003 (2x Merino Base Layer, 3x Wool Hiking Socks, $184.00) was "
        f"delivered on {day(today, -7)}. You can return items until {day(today, 23)}.",
        "10004": f"Order #10004 (1x Summit 2P Tent, $349.00) was cancelled on {day(today, -19)}. "
        "Nothing was charged.",
        # delivered 60 days ago: no return date any more
        "10005": f"Order #10005 (1x Down Sleeping Bag, $279.00) was delivered on {day(today, -60)}.",
        "10007": "Order #10007 (1x Headlamp 400, 1x Trekking Poles, $134.00) shipped on "
        f"{day(today, -1)} with USPS, tracking number 9400111899223344556678. "
        f"Expected delivery: {day(today, 3)}.",
        "10009": "Order #10009 (1x Camp Stove, 2x Fuel Canister, $83.00) was placed on "
        f"{day(today, -1)} and is being prepared for shipping. You'll get a tracking link "
        "by e-mail as soon as it ships.",
        "10010": f"Order #10010 (1x Fleece Hoodie, $85.00) was delivered on {day(today, -20)}. "
        f"You can return items until {day(today, 10)}.",
    }[order_id]


@pytest.mark.parametrize(
    "order_id", ["10001", "10002", "10003", "10004", "10005", "10007", "10009", "10010"]
)
async def test_order_status_tells_the_real_status(order_id, database_url, today, dispatcher, domain):
    tracker = load_tracker("order_status_form_completed", slots=verified(order_id))
    events = await ActionOrderStatus().run(dispatcher, tracker, domain)
    # the order stays under discussion: "cancel it" needs no number
    assert events == [SlotSet("suggestion", None)]
    assert dispatcher.messages == [bot_message(expected_status(order_id, today))]


@pytest.mark.parametrize("order_id", ["99999", None, "1234"])
async def test_order_status_of_a_missing_order(order_id, database_url, dispatcher, domain):
    tracker = load_tracker("order_status_form_completed", slots=verified(order_id))
    events = await ActionOrderStatus().run(dispatcher, tracker, domain)
    assert events == [SlotSet("order_id", None), SlotSet("suggestion", None)]
    assert dispatcher.messages == [NOT_FOUND]


async def test_order_status_reads_the_current_row(database_url, repository, today, dispatcher, domain):
    # a cancellation made elsewhere shows at once
    assert repository.cancel_order("10001", today)
    tracker = load_tracker("order_status_form_completed", slots=verified("10001"))
    await ActionOrderStatus().run(dispatcher, tracker, domain)
    assert dispatcher.messages == [
        bot_message(
            f"Order #10001 (1x Alpine Shell Jacket, $189.00) was cancelled on {day(today, 0)}. "
            "Nothing was charged."
        )
    ]


# verification ----------------------------------------------------------------


LOCKED = bot_message(verification.LOCKED_REPLY)


@pytest.mark.parametrize(
    "action, saved",
    [
        (ActionOrderStatus, "order_status_form_completed"),
        (ActionCancelOrder, "cancel_order_form_completed"),
        (ActionSubmitReturn, "return_form_completed"),
    ],
)
@pytest.mark.parametrize("order_id", ["10001", "10003", "10009"])
async def test_nothing_about_an_unverified_order_is_said_or_changed(
    action, saved, order_id, database_url, repository, dispatcher, domain
):
    # the conversation verified another order, not this one
    tracker = load_tracker(saved, slots={"order_id": order_id, "verified_orders": ["10002"]})
    events = await action().run(dispatcher, tracker, domain)
    assert dispatcher.messages == [LOCKED]
    assert SlotSet("suggestion", "human_handoff") in events
    assert SlotSet("order_id", None) in events
    assert repository.get_order("10009").status.value == "processing"
    assert repository.find_return(order_id) is None


async def test_ask_cancel_confirm_names_no_unverified_order(database_url, dispatcher, domain):
    tracker = load_tracker("cancel_order_form_confirm", slots={"verified_orders": []})
    await ActionAskCancelConfirm().run(dispatcher, tracker, domain)
    text = dispatcher.messages[0]["text"]
    assert "10009" not in text and "Camp Stove" not in text and "$" not in text


async def test_ask_order_email_names_the_order(database_url, dispatcher, domain):
    tracker = load_tracker("order_status_form_asked", slots={"order_id": "10002"})
    assert await ActionAskOrderEmail().run(dispatcher, tracker, domain) == []
    assert dispatcher.messages == [bot_message(
        "For your security, what's the e-mail address on order #10002? "
        "I only use it to check that the order is yours."
    )]


# the forms' questions -------------------------------------------------------


QUESTIONS = {
    "order_status_form":
        "Sure, I can check that. What's your order number? It has five digits, like 10023.",
    "cancel_order_form":
        "I can help with that. An order can be cancelled while it is still processing; your card "
        "is only charged when the order ships. Once it has shipped it can't be cancelled, but you "
        "can return it instead. Which order is it? Please give me the five-digit order number.",
    "return_form":
        "Items can be returned within 30 days of delivery, unworn and unused with tags attached; "
        "US return labels are free, and the refund goes to your original payment method within "
        "5-7 business days after the return arrives. Let's start your return: what's the order "
        "number? It's the five-digit number in your confirmation e-mail.",
}


@pytest.mark.parametrize("form", QUESTIONS)
async def test_ask_order_id_per_form(form, dispatcher, domain):
    tracker = load_tracker(f"{form}_asked")
    assert await ActionAskOrderId().run(dispatcher, tracker, domain) == []
    assert dispatcher.messages == [bot_message(QUESTIONS[form])]


async def test_ask_order_id_without_a_form(dispatcher, domain):
    tracker = load_tracker("handoff_after_order_status")
    assert await ActionAskOrderId().run(dispatcher, tracker, domain) == []
    assert dispatcher.messages == [bot_message("What's your five-digit order number?")]


async def test_ask_return_reason_names_the_order(dispatcher, domain):
    tracker = load_tracker("return_form_reason")
    assert await ActionAskReturnReason().run(dispatcher, tracker, domain) == []
    assert dispatcher.messages == [
        bot_message(
            "Order #10003 can be returned. Why are you sending it back? For example: wrong "
            "size, damaged, not as described, or changed my mind.",
            buttons=[
                {"title": "Wrong size", "payload": "Wrong size"},
                {"title": "Damaged", "payload": "Damaged"},
                {"title": "Not as described", "payload": "Not as described"},
                {"title": "Changed my mind", "payload": "Changed my mind"},
            ],
        )
    ]


CONFIRM_BUTTONS = [
    {"title": "Yes, cancel it", "payload": "/affirm"},
    {"title": "No, keep it", "payload": "/deny"},
]


async def test_ask_cancel_confirm_names_the_order(database_url, dispatcher, domain):
    tracker = load_tracker("cancel_order_form_confirm")
    assert await ActionAskCancelConfirm().run(dispatcher, tracker, domain) == []
    assert dispatcher.messages == [
        bot_message(
            "Order #10009 (1x Camp Stove, 2x Fuel Canister, $83.00) hasn't shipped yet, so I "
            "can still cancel it. Shall I cancel it?",
            buttons=CONFIRM_BUTTONS,
        )
    ]


async def test_ask_cancel_confirm_without_the_order(database_url, dispatcher, domain):
    tracker = load_tracker("cancel_order_form_confirm", slots=verified("99999"))
    assert await ActionAskCancelConfirm().run(dispatcher, tracker, domain) == []
    assert dispatcher.messages == [
        bot_message(
            "This order hasn't shipped yet, so I can still cancel it. Shall I cancel it?",
            buttons=CONFIRM_BUTTONS,
        )
    ]


# action_cancel_order --------------------------------------------------------

# the order stays under discussion; the answer and the suggestion are cleared
CLEARED_CANCEL_SLOTS = [SlotSet("cancel_confirm", None), SlotSet("suggestion", None)]
FORGOTTEN_CANCEL_SLOTS = [
    SlotSet("cancel_confirm", None), SlotSet("order_id", None), SlotSet("suggestion", None)
]


async def test_cancel_order_cancels_the_row(database_url, repository, today, dispatcher, domain):
    tracker = load_tracker("cancel_order_form_completed")  # 10009, confirmed
    events = await ActionCancelOrder().run(dispatcher, tracker, domain)
    assert events == CLEARED_CANCEL_SLOTS
    assert dispatcher.messages == [
        bot_message(
            "Done: order #10009 is cancelled. You haven't been charged, because we only charge "
            "your card when an order ships. A confirmation e-mail is on its way."
        )
    ]
    order = repository.get_order("10009")
    assert (order.status, order.cancelled_on) == (OrderStatus.CANCELLED, today)
    # nothing else changed
    assert repository.get_order("10001").status is OrderStatus.PROCESSING
    assert repository.get_order("10006").status is OrderStatus.PROCESSING


async def test_cancel_order_declined_changes_nothing(database_url, repository, dispatcher, domain):
    tracker = load_tracker("cancel_order_form_completed", slots={"cancel_confirm": False})
    events = await ActionCancelOrder().run(dispatcher, tracker, domain)
    assert events == CLEARED_CANCEL_SLOTS
    assert dispatcher.messages == [
        bot_message("Okay, I haven't cancelled anything. Order #10009 stays as it is.")
    ]
    order = repository.get_order("10009")
    assert (order.status, order.cancelled_on) == (OrderStatus.PROCESSING, None)


def expected_cancel_refusal(order_id, today):
    return {
        "10002": f"Order #10002 already shipped on {day(today, -2)}, so it can't be cancelled "
        "any more. Once it arrives you can return it within 30 days for a refund.",
        "10003": f"Order #10003 was delivered on {day(today, -7)}, so it can't be cancelled, "
        "but you can return it within 30 days of delivery. Just say \"I want to return it\".",
        "10004": f"Order #10004 was already cancelled on {day(today, -19)}.",
    }[order_id]


@pytest.mark.parametrize("order_id", ["10002", "10003", "10004"])
async def test_cancel_order_refuses_what_cannot_be_cancelled(
    order_id, database_url, repository, today, dispatcher, domain
):
    before = repository.get_order(order_id)
    # even when the user said yes
    tracker = load_tracker("cancel_order_form_completed", slots=verified(order_id))
    events = await ActionCancelOrder().run(dispatcher, tracker, domain)
    # a delivered order can be returned: "yes" starts the return
    suggestion = "return_item" if order_id == "10003" else None
    assert events == [SlotSet("cancel_confirm", None), SlotSet("suggestion", suggestion)]
    assert dispatcher.messages == [bot_message(expected_cancel_refusal(order_id, today))]
    assert repository.get_order(order_id) == before


async def test_cancel_order_twice_tells_it_is_already_cancelled(
    database_url, today, dispatcher, domain
):
    tracker = load_tracker("cancel_order_form_completed")
    await ActionCancelOrder().run(dispatcher, tracker, domain)
    second = type(dispatcher)()
    await ActionCancelOrder().run(second, load_tracker("cancel_order_form_completed"), domain)
    assert second.messages == [
        bot_message(f"Order #10009 was already cancelled on {day(today, 0)}.")
    ]


async def test_cancel_order_of_a_missing_order(database_url, dispatcher, domain):
    tracker = load_tracker("cancel_order_form_completed", slots=verified("99999"))
    events = await ActionCancelOrder().run(dispatcher, tracker, domain)
    assert events == FORGOTTEN_CANCEL_SLOTS
    assert dispatcher.messages == [NOT_FOUND]


# action_submit_return -------------------------------------------------------

CLEARED_RETURN_SLOTS = [SlotSet("return_reason", None), SlotSet("suggestion", None)]
FORGOTTEN_RETURN_SLOTS = [
    SlotSet("return_reason", None), SlotSet("order_id", None), SlotSet("suggestion", None)
]


def registered(order_id: str, rma: str) -> dict:
    return bot_message(
        f"Your return for order #{order_id} is registered, return number {rma}. We've e-mailed "
        "you a free return label. Please send the items unworn with their tags; the refund "
        "goes to your original payment method within 5-7 business days after the return arrives."
    )


def rma_in(message: dict) -> str:
    match = re.search(r"return number (R-[0-9A-F]{6})\.", message["text"])
    assert match, message["text"]
    return match.group(1)


def return_rows(db_engine) -> list:
    with db_engine.connect() as connection:
        rows = connection.execute(
            select(ReturnRequestRow.rma, ReturnRequestRow.order_id, ReturnRequestRow.reason)
        ).all()
    return [tuple(row) for row in rows]


@pytest.mark.parametrize("order_id", ["10003", "10010"])
async def test_submit_return_registers_it(order_id, db_engine, dispatcher, domain):
    tracker = load_tracker("return_form_completed", slots=verified(order_id))
    events = await ActionSubmitReturn().run(dispatcher, tracker, domain)
    assert events == CLEARED_RETURN_SLOTS
    rma = rma_in(dispatcher.messages[0])
    assert dispatcher.messages == [registered(order_id, rma)]
    assert return_rows(db_engine) == [(rma, order_id, "wrong size")]


async def test_submit_return_once_per_order(db_engine, dispatcher, domain):
    await ActionSubmitReturn().run(dispatcher, load_tracker("return_form_completed"), domain)
    rma = rma_in(dispatcher.messages[0])
    again = type(dispatcher)()
    tracker = load_tracker("return_form_completed", slots={"return_reason": "damaged"})
    events = await ActionSubmitReturn().run(again, tracker, domain)
    assert events == CLEARED_RETURN_SLOTS
    assert again.messages == [
        bot_message(
            f"There's already a return for order #10003 (return number {rma}). "
            "The label is in your e-mail."
        )
    ]
    assert return_rows(db_engine) == [(rma, "10003", "wrong size")]


def expected_return_refusal(order_id, today, window=30):
    return {
        "10001": "Order #10001 hasn't shipped yet, so there's nothing to return. I can cancel "
        "it instead: just say \"cancel my order\".",
        "10002": f"Order #10002 is still on its way (expected {day(today, 2)}). Once it's "
        "delivered you have 30 days to return it.",
        "10004": "Order #10004 was cancelled, so there's nothing to return.",
        "10005": f"Order #10005 was delivered on {day(today, -60)}, more than 30 days ago, so "
        "it's outside our return window. If an item is faulty, our 2-year warranty may cover "
        "it: ask for a human and we'll look into it.",
        "10003": f"Order #10003 was delivered on {day(today, -7)}, more than {window} days ago, "
        "so it's outside our return window. If an item is faulty, our 2-year warranty may "
        "cover it: ask for a human and we'll look into it.",
    }[order_id]


@pytest.mark.parametrize("order_id", ["10001", "10002", "10004", "10005"])
async def test_submit_return_refuses_what_cannot_be_returned(
    order_id, db_engine, today, dispatcher, domain
):
    tracker = load_tracker("return_form_completed", slots=verified(order_id))
    events = await ActionSubmitReturn().run(dispatcher, tracker, domain)
    # what the refusal offers is what "yes" starts
    suggestion = {"10001": "cancel_order", "10005": "human_handoff"}.get(order_id)
    assert events == [SlotSet("return_reason", None), SlotSet("suggestion", suggestion)]
    assert dispatcher.messages == [bot_message(expected_return_refusal(order_id, today))]
    assert return_rows(db_engine) == []


async def test_submit_return_follows_the_configured_window(
    db_engine, today, dispatcher, domain, monkeypatch
):
    from actions.config import get_settings

    monkeypatch.setenv("RETURN_WINDOW_DAYS", "5")
    get_settings.cache_clear()
    tracker = load_tracker("return_form_completed")  # 10003, delivered 7 days ago
    await ActionSubmitReturn().run(dispatcher, tracker, domain)
    assert dispatcher.messages == [bot_message(expected_return_refusal("10003", today, window=5))]
    assert return_rows(db_engine) == []


async def test_submit_return_of_a_missing_order(database_url, dispatcher, domain):
    tracker = load_tracker("return_form_completed", slots=verified("99999"))
    events = await ActionSubmitReturn().run(dispatcher, tracker, domain)
    assert events == FORGOTTEN_RETURN_SLOTS
    assert dispatcher.messages == [NOT_FOUND]


# action_clear_order_slots ---------------------------------------------------


async def test_clear_order_slots_forgets_the_form(dispatcher, domain):
    tracker = load_tracker("return_form_stopped")
    assert tracker.get_slot("order_id") == "10003"
    events = await ActionClearOrderSlots().run(dispatcher, tracker, domain)
    # verified orders stay verified for the conversation
    assert events == [
        SlotSet("order_id", None), SlotSet("order_email", None), SlotSet("cancel_confirm", None),
        SlotSet("return_reason", None), SlotSet("suggestion", None),
    ]
    assert dispatcher.messages == []
