"""The bot's own suggestions lead where they say: every button and every
"just say ..." phrase in the domain and the actions, clicked or typed right
after the message that offers it, through REST against the real stack, judged
by the order database. A suggestion added to the code without a walk here
fails `test_every_suggestion_is_walked`. Where the bot asks for the e-mail
address on an order (verification), the customer gives the right one, as in
the setups below, unless a walk is about not giving it."""
import re
import uuid

import pytest
import yaml

from actions.forms import RETURN_REASONS
from actions.fallback_decision import CANNED_UNAVAILABLE, CANNED_UNKNOWN
from actions.orders_db import demo_email
from actions.verification import LOCKED_REPLY
from tests.conftest import PROJECT_ROOT
from tests.integration.test_conversation_outcomes import outcome, reseed, say_as_customer

pytestmark = pytest.mark.integration


def verified(message, order_id):
    """A message that starts an order flow, then the answer to the e-mail question."""
    return [message, demo_email(order_id)]


# three wrong addresses use up the conversation's attempts; on a number that
# is no order, so that the shared stack's per-order count locks no demo order
THREE_WRONG_ADDRESSES = ["where is order 99998"] + [f"{n}@example.com" for n in ("one", "two", "three")]
OFFER_AFTER_LOCK = "Shall I connect you with a person?"
assert LOCKED_REPLY.endswith(OFFER_AFTER_LOCK)

# phrase or button title -> (what makes the bot offer it, what to send, what must follow)
WALKS = {
    # "just say ..." phrases, typed as the bot wrote them
    'I want to return it': (verified("cancel order 10003", "10003"), "I want to return it", {"asks": "why are you sending it back"}),
    'cancel my order': (verified("I want to return order 10001", "10001"), "cancel my order", {"asks": "shall i cancel it"}),
    'human': ("are you a bot?", "human", {"tickets": 1}),
    'check order': ("give me a discount code", "check order 10002", {"asks": "1z999aa10123456784"}),
    # the customer who does not know the address on the order
    'talk to a person': (["where is order 10002", "I don't know it"], "talk to a person", {"tickets": 1}),
    # buttons, clicked (their payload is sent)
    'Yes, cancel it': (verified("cancel order 10006", "10006"), None, {"cancelled": "10006"}),
    'No, keep it': (verified("cancel order 10006", "10006"), None, {"kept": "10006"}),
    **{reason: (verified("return order 10003", "10003"), None, {"reason": ("10003", reason)}) for reason in RETURN_REASONS},
    'Yes, a person please': (["tell me a joke", "write me a poem", "what is the meaning of life"], None, {"tickets": 1}),
    'No, thanks': (["tell me a joke", "write me a poem", "what is the meaning of life"], None, {"asks": "anything else"}),
    # a "yes" offer, neither a button nor a phrase (not found by the scan below)
    OFFER_AFTER_LOCK: (THREE_WRONG_ADDRESSES, "yes", {"tickets": 1}),
}

SAY_PHRASE = re.compile(r'\bsay \\?"(\w[^"\\\n]*)\\?"', re.IGNORECASE)
BUTTON_TITLE = re.compile(r'"title":\s*"([^"]+)"')


def phrases_and_buttons_in_the_code():
    sources = [p.read_text() for p in sorted((PROJECT_ROOT / "actions").glob("*.py"))]
    domain = [p.read_text() for p in sorted((PROJECT_ROOT / "domain").glob("*.yml"))]
    found = set()
    for text in sources + domain:
        found |= set(SAY_PHRASE.findall(text)) | set(BUTTON_TITLE.findall(text))
    for text in domain:
        for response in (yaml.safe_load(text).get("responses") or {}).values():
            for variant in response:
                found |= {b["title"] for b in variant.get("buttons", [])}
    return found | set(RETURN_REASONS)


def test_every_suggestion_is_walked():
    found = phrases_and_buttons_in_the_code()
    assert found, "the scan found nothing: its patterns are out of date"
    assert found <= set(WALKS), f"not walked: {sorted(found - set(WALKS))}"


@pytest.mark.parametrize("label", sorted(WALKS))
def test_suggestion_leads_where_it_says(label, stack, shop_db):
    setup, typed, expect = WALKS[label]
    reseed(shop_db)
    sender = f"walk-{uuid.uuid4().hex[:12]}"
    for message in [setup] if isinstance(setup, str) else setup:
        offered = stack.say(sender, message)
    said = " ".join(m.get("text") or "" for m in offered)
    if typed is None:
        buttons = [b for m in offered for b in m.get("buttons", [])]
        (button,) = [b for b in buttons if b["title"] == label]
        typed = button["payload"]
    else:
        assert label.lower() in said.lower(), said
    # with the address on the order if the bot asks for it ("check order 10002")
    replies = say_as_customer(stack, sender, typed)
    reply = " ".join(m.get("text") or "" for m in replies).lower()
    found = outcome(shop_db, sender)
    # where the suggestion leads, and nothing else in that turn (no fallback after it)
    assert CANNED_UNAVAILABLE.lower() not in reply and CANNED_UNKNOWN.lower() not in reply, reply
    if "asks" in expect:
        assert expect["asks"] in reply, reply
    if "tickets" in expect:
        assert len(found["tickets"]) == expect["tickets"], reply
    if "cancelled" in expect:
        assert found["orders"][expect["cancelled"]] == "cancelled", reply
    if "kept" in expect:
        assert found["orders"][expect["kept"]] == "processing", reply
    if "reason" in expect:
        order_id, reason = expect["reason"]
        assert found["returns"] == {order_id: reason}, reply
    reseed(shop_db)
