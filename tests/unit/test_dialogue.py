"""What a message means for the form that asked a question
(actions/dialogue.py): pure functions, no server."""
import pytest

from actions.dialogue import (
    Turn,
    TurnKind,
    confirmation,
    interpret,
    is_bare_order_number,
    is_explicit_yes,
    is_question,
    names_another_order,
)
from actions.forms import RETURN_REASONS

RETURN, CANCEL, STATUS = "return_form", "cancel_order_form", "order_status_form"


def turn(text, intent, *orders, confidence=1.0):
    return Turn(text=text, intent=intent, order_ids=tuple(orders), confidence=confidence)


@pytest.mark.parametrize("message, form, asked, order, kind", [
    # another flow with an order: a switch, whatever the form asked
    (turn("actually cancel order 10006 instead", "cancel_order", "10006"), RETURN, "return_reason", "10003", TurnKind.SWITCH),
    (turn("no wait, I want to return 10003 instead", "return_item", "10003"), CANCEL, "cancel_confirm", "10001", TurnKind.SWITCH),
    (turn("where is 10002 right now?", "check_order_status", "10002"), CANCEL, "order_id", None, TurnKind.SWITCH),
    (turn("I want to cancel it instead", "cancel_order"), RETURN, "return_reason", "10003", TurnKind.SWITCH),
    # a reason that reads a little like another flow is still a reason
    (turn("the socks are not what I ordered", "check_order_status", confidence=0.66), RETURN, "return_reason", "10003", TurnKind.ANSWER),
    (turn("where is it now?", "check_order_status"), RETURN, "return_reason", "10003", TurnKind.ABOUT_THIS_ORDER),
    (turn("the box was not what I expected", "cancel_order", confidence=0.66), RETURN, "return_reason", "10003", TurnKind.ANSWER),
    # the status of the order under discussion, mid-form: answered in place
    (turn("is that the one for $189?", "check_order_status"), CANCEL, "cancel_confirm", "10001", TurnKind.ABOUT_THIS_ORDER),
    # only a number, whatever the classifier read into it: an answer
    (turn("order number 10008", "check_order_status", "10008"), RETURN, "order_id", None, TurnKind.ANSWER),
    (turn("it's 10002", "cancel_order", "10002"), STATUS, "order_id", None, TurnKind.ANSWER),
    # another number for the same flow after the order was named: a correction
    (turn("no sorry, I meant 10006", "deny", "10006"), CANCEL, "cancel_confirm", "10001", TurnKind.CORRECTION),
    (turn("oops, I meant 10008", "return_item", "10008"), RETURN, "return_reason", "10003", TurnKind.CORRECTION),
    # ... but while the number is asked, the answer
    (turn("no, 10003", "deny", "10003"), CANCEL, "order_id", None, TurnKind.ANSWER),
    # questions, requests for a person and "stop" are for the rules
    (turn("how long does the refund take?", "return_item"), RETURN, "return_reason", "10003", TurnKind.INTERRUPTION),
    (turn("can I talk to a person", "human_handoff"), RETURN, "return_reason", "10003", TurnKind.INTERRUPTION),
    (turn("I want a human about 10003", "human_handoff", "10003"), CANCEL, "cancel_confirm", "10001", TurnKind.INTERRUPTION),
    (turn("what are your opening hours", "store_hours"), CANCEL, "cancel_confirm", "10001", TurnKind.INTERRUPTION),
    (turn("actually, stop", "deny"), RETURN, "return_reason", "10003", TurnKind.INTERRUPTION),
    (turn("never mind, I'll keep it", "deny"), RETURN, "return_reason", "10003", TurnKind.INTERRUPTION),
    (turn("lol", "nlu_fallback"), CANCEL, "cancel_confirm", "10001", TurnKind.INTERRUPTION),
    # a reason is a statement, even one that reads like "no" or like nothing known
    (turn("it does not fit", "deny"), RETURN, "return_reason", "10003", TurnKind.ANSWER),
    (turn("wrong colour", "deny"), RETURN, "return_reason", "10003", TurnKind.ANSWER),
    (turn("the zipper broke after a day", "nlu_fallback"), RETURN, "return_reason", "10003", TurnKind.ANSWER),
    (turn("Changed my mind", "deny"), RETURN, "return_reason", "10003", TurnKind.ANSWER),
    # yes and no at the confirmation
    (turn("yes cancel it", "cancel_order"), CANCEL, "cancel_confirm", "10001", TurnKind.ANSWER),
    (turn("no", "deny"), CANCEL, "cancel_confirm", "10001", TurnKind.ANSWER),
    # nothing usable and nothing the rules answer: ask again
    (turn("hmmmm", "affirm"), CANCEL, "cancel_confirm", "10001", TurnKind.NO_ANSWER),
    (turn("yes", "affirm"), STATUS, "order_id", None, TurnKind.NO_ANSWER),
    # a malformed number, unlike any training example: the validator explains
    (turn("1234", "nlu_fallback"), STATUS, "order_id", None, TurnKind.ANSWER),
    (turn("yes", "affirm"), RETURN, "return_reason", "10003", TurnKind.NO_ANSWER),
])
def test_interpret(message, form, asked, order, kind):
    choices = RETURN_REASONS if asked == "return_reason" else ()
    has_candidates = bool(message.order_ids) or asked != "order_id" or message.text == "1234"
    assert interpret(message, form, asked, order, choices, has_candidates) is kind


@pytest.mark.parametrize("message, answer", [
    (turn("yes", "affirm"), True),
    (turn("ok do it", "affirm"), True),
    (turn("yes cancel it", "cancel_order"), True),
    (turn("go ahead and cancel", "cancel_order"), True),
    (turn("no", "deny"), False),
    (turn("don't cancel it", "cancel_order"), False),
    (turn("no, keep it", "deny"), False),
    # not an answer to an irreversible question
    (turn("hmmmm", "affirm"), None),
    (turn("maybe", "affirm"), None),
    (turn("will I be charged if I cancel?", "cancel_order"), None),
    (turn("what are your hours", "store_hours"), None),
])
def test_confirmation(message, answer):
    assert confirmation(message) is answer


@pytest.mark.parametrize("text, expected", [
    ("how long does it take", True), ("can I return it", True), ("is it free", True),
    ("do you ship to canada", True), ("refund time?", True),
    ("does not fit me", False), ("it's too small", False), ("do it", False), ("wrong size", False),
])
def test_is_question(text, expected):
    assert is_question(text) is expected


def test_is_bare_order_number():
    assert is_bare_order_number(turn("it's order #10002, thanks", "thank", "10002"))
    assert not is_bare_order_number(turn("cancel 10002", "cancel_order", "10002"))
    assert not is_bare_order_number(turn("thanks", "thank"))


def test_is_explicit_yes():
    assert is_explicit_yes(turn("yep", "affirm"))
    assert is_explicit_yes(turn("/affirm", "affirm"))  # the button
    assert not is_explicit_yes(turn("mm-hmm", "affirm"))
    assert not is_explicit_yes(turn("yes, but don't", "affirm"))


@pytest.mark.parametrize("text, expected", [
    ("and where is my other order?", True), ("check a different order", True),
    ("where is my order", False), ("cancel it", False),
])
def test_names_another_order(text, expected):
    assert names_another_order(text) is expected
