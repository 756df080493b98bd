"""Whole conversations through the REST channel of the real stack: trained
model, Rasa server, action server and order database. The customer answers
the e-mail question of verification with the address on the order."""
import re
from datetime import timedelta

import pytest

from actions.formatting import format_date
from actions.orders_db import OrderStatus, demo_email
from actions.verification import email_question
from tests.integration.conftest import bot

pytestmark = pytest.mark.integration

GREETINGS = [
    "Hi! I'm Pine, the Pinecrest Outfitters assistant. I can check an order, cancel it, start a "
    "return, or answer questions about shipping, hours and payment. How can I help?",
    "Hello and welcome to Pinecrest Outfitters! Ask me about an order, a return, shipping, our "
    "hours or payment options.",
]
ASK_STATUS_ORDER = "Sure, I can check that. What's your order number? It has five digits, like 10023."
ASK_CANCEL_ORDER = (
    "I can help with that. An order can be cancelled while it is still processing; your card is "
    "only charged when the order ships. Once it has shipped it can't be cancelled, but you can "
    "return it instead. Which order is it? Please give me the five-digit order number."
)
ASK_RETURN_ORDER = (
    "Items can be returned within 30 days of delivery, unworn and unused with tags attached; US "
    "return labels are free, and the refund goes to your original payment method within 5-7 "
    "business days after the return arrives. Let's start your return: what's the order number? "
    "It's the five-digit number in your confirmation e-mail."
)
CONFIRM_BUTTONS = [
    {"title": "Yes, cancel it", "payload": "/affirm"},
    {"title": "No, keep it", "payload": "/deny"},
]


def day(today, offset):
    return format_date(today + timedelta(days=offset))


def ask_reason(sender, order_id):
    return bot(
        sender,
        f"Order #{order_id} can be returned. Why are you sending it back? For example: wrong "
        "size, damaged, not as described, or changed my mind.",
        buttons=[
            {"title": reason, "payload": reason}
            for reason in ("Wrong size", "Damaged", "Not as described", "Changed my mind")
        ],
    )


def test_order_status_conversation(stack, today):
    sender = "it-order-status"
    assert stack.say(sender, "hi") in [[bot(sender, text)] for text in GREETINGS]
    assert stack.say(sender, "where is my order?") == [bot(sender, ASK_STATUS_ORDER)]
    assert stack.say(sender, "10002") == [bot(sender, email_question("10002"))]
    assert stack.say(sender, demo_email("10002")) == [
        bot(
            sender,
            f"Order #10002 (1x Trail Runner Boots, $129.00) shipped on {day(today, -2)} with UPS, "
            f"tracking number 1Z999AA10123456784. Expected delivery: {day(today, 2)}.",
        )
    ]


def test_order_number_in_the_question(stack, today):
    sender = "it-order-status-direct"
    assert stack.say(sender, "has order #10005 arrived?") == [bot(sender, email_question("10005"))]
    assert stack.say(sender, demo_email("10005")) == [
        bot(
            sender,
            f"Order #10005 (1x Down Sleeping Bag, $279.00) was delivered on {day(today, -60)}.",
        )
    ]


def test_cancellation_conversation(stack, shop_db, today):
    sender = "it-cancel"
    assert stack.say(sender, "I want to cancel order 10001") == [bot(sender, email_question("10001"))]
    assert shop_db.get_order("10001").status is OrderStatus.PROCESSING
    assert stack.say(sender, demo_email("10001")) == [
        bot(
            sender,
            "Order #10001 (1x Alpine Shell Jacket, $189.00) hasn't shipped yet, so I can still "
            "cancel it. Shall I cancel it?",
            buttons=CONFIRM_BUTTONS,
        )
    ]
    assert shop_db.get_order("10001").status is OrderStatus.PROCESSING
    assert stack.say(sender, "yes") == [
        bot(
            sender,
            "Done: order #10001 is cancelled. You haven't been charged, because we only charge "
            "your card when an order ships. A confirmation e-mail is on its way.",
        )
    ]
    order = shop_db.get_order("10001")
    assert (order.status, order.cancelled_on) == (OrderStatus.CANCELLED, today)
    # the status answer comes from the same database; the order was verified
    # in this conversation, so no second e-mail question
    assert stack.say(sender, "what's the status of order 10001?") == [
        bot(
            sender,
            f"Order #10001 (1x Alpine Shell Jacket, $189.00) was cancelled on {day(today, 0)}. "
            "Nothing was charged.",
        )
    ]


def test_cancellation_declined_with_the_button(stack, shop_db):
    sender = "it-cancel-declined"
    assert stack.say(sender, "cancel my order") == [bot(sender, ASK_CANCEL_ORDER)]
    assert stack.say(sender, "10006") == [bot(sender, email_question("10006"))]
    assert stack.say(sender, demo_email("10006")) == [
        bot(
            sender,
            "Order #10006 (1x Ridge 40L Backpack, $159.00) hasn't shipped yet, so I can still "
            "cancel it. Shall I cancel it?",
            buttons=CONFIRM_BUTTONS,
        )
    ]
    assert stack.say(sender, "/deny") == [
        bot(sender, "Okay, I haven't cancelled anything. Order #10006 stays as it is.")
    ]
    assert shop_db.get_order("10006").status is OrderStatus.PROCESSING


def test_cancelling_a_shipped_order_is_refused_at_once(stack, shop_db, today):
    sender = "it-cancel-shipped"
    assert stack.say(sender, "please cancel order 10007") == [bot(sender, email_question("10007"))]
    assert stack.say(sender, demo_email("10007")) == [
        bot(
            sender,
            f"Order #10007 already shipped on {day(today, -1)}, so it can't be cancelled any "
            "more. Once it arrives you can return it within 30 days for a refund.",
        )
    ]
    assert shop_db.get_order("10007").status is OrderStatus.SHIPPED


def test_return_conversation(stack, shop_db):
    sender = "it-return"
    assert stack.say(sender, "I want to return something") == [bot(sender, ASK_RETURN_ORDER)]
    assert stack.say(sender, "10003") == [bot(sender, email_question("10003"))]
    assert stack.say(sender, demo_email("10003")) == [ask_reason(sender, "10003")]
    messages = stack.say(sender, "Wrong size")  # the button's payload
    request = shop_db.find_return("10003")
    assert request is not None and re.fullmatch(r"R-[0-9A-F]{6}", request.rma)
    assert (request.order_id, request.reason) == ("10003", "Wrong size")
    assert messages == [
        bot(
            sender,
            f"Your return for order #10003 is registered, return number {request.rma}. We've "
            "e-mailed you a free return label. Please send the items unworn with their tags; the "
            "refund goes to your original payment method within 5-7 business days after the "
            "return arrives.",
        )
    ]


def test_return_outside_the_window_is_refused(stack, shop_db, today):
    sender = "it-return-late"
    assert stack.say(sender, "I want to return order 10005") == [bot(sender, email_question("10005"))]
    assert stack.say(sender, demo_email("10005")) == [
        bot(
            sender,
            f"Order #10005 was delivered on {day(today, -60)}, more than 30 days ago, so it's "
            "outside our return window. If an item is faulty, our 2-year warranty may cover it: "
            "ask for a human and we'll look into it.",
        )
    ]
    assert shop_db.find_return("10005") is None


def test_handoff_conversation(stack, shop_db):
    sender = "it-handoff"
    messages = stack.say(sender, "I'd like to talk to a human please")
    ticket = re.search(r"ticket (T-[0-9A-F]{6})\.", messages[0]["text"]).group(1)
    assert messages == [
        bot(
            sender,
            f"I've passed our conversation to the support team, ticket {ticket}. A person from "
            "the team will reply by e-mail within one business day, usually within 4 hours during "
            "customer-service hours (Monday-Friday 8:00-20:00 ET and Saturday 9:00-17:00 ET). You can "
            "also call us on 1-800-555-0142.",
        )
    ]
    assert shop_db.count_handoff_tickets(sender) == 1


def test_return_with_a_reason_in_own_words(stack, shop_db):
    sender = "it-return-own-words"
    assert stack.say(sender, "I want to return order 10010") == [bot(sender, email_question("10010"))]
    assert stack.say(sender, demo_email("10010")) == [ask_reason(sender, "10010")]
    messages = stack.say(sender, "the zipper broke   after one hike")
    request = shop_db.find_return("10010")
    assert (request.order_id, request.reason) == ("10010", "the zipper broke after one hike")
    assert messages == [
        bot(
            sender,
            f"Your return for order #10010 is registered, return number {request.rma}. We've "
            "e-mailed you a free return label. Please send the items unworn with their tags; the "
            "refund goes to your original payment method within 5-7 business days after the "
            "return arrives.",
        )
    ]
