"""What a message means for the form that asked a question
(actions/dialogue.py): pure functions, no server."""
import pytest

from actions.dialogue import (
    Turn,
    TurnKind,
    confirmation,
    flow_of_an_address,
    interpret,
    is_bare_order_number,
    is_explicit_yes,
    is_question,
    names_another_order,
    tells_about_oneself,
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
    # the e-mail question: an address is the answer, whatever the intent read
    (turn("customer10002@example.com", "check_order_status", confidence=0.95), CANCEL, "order_email", "10002", TurnKind.ANSWER),
    (turn("it's jane@example.com", "give_email"), STATUS, "order_email", "10002", TurnKind.ANSWER),
    # ... with another order number: the address is for that order
    (turn("sorry it's 10005, customer10005@example.com", "give_email", "10005"), STATUS, "order_email", "10002", TurnKind.CORRECTION),
    (turn("oh wait, it's order 10003", "return_item", "10003"), RETURN, "order_email", "10002", TurnKind.CORRECTION),
    # no address: the validator explains what it needs, without counting a failure
    (turn("I don't have access to that email any more", "deny"), CANCEL, "order_email", "10002", TurnKind.ANSWER),
    (turn("it was my old work address", "nlu_fallback"), STATUS, "order_email", "10002", TurnKind.ANSWER),
    # questions and "stop" still go to the rules
    (turn("why do you need my email?", "nlu_fallback"), STATUS, "order_email", "10002", TurnKind.INTERRUPTION),
    (turn("no, stop", "deny"), CANCEL, "order_email", "10002", TurnKind.INTERRUPTION),
    (turn("I want to talk to a human", "human_handoff"), STATUS, "order_email", "10002", TurnKind.INTERRUPTION),
    (turn("yes", "affirm"), STATUS, "order_email", "10002", TurnKind.NO_ANSWER),
    # a free-text answer read as small talk, unsure: an answer; sure: small talk
    (turn("it's too long", "goodbye", confidence=0.6), RETURN, "return_reason", "10008", TurnKind.ANSWER),
    (turn("thanks!", "thank", confidence=0.99), RETURN, "return_reason", "10008", TurnKind.INTERRUPTION),
    (turn("it doesn't fit", "shipping_info", confidence=0.7), RETURN, "return_reason", "10008", TurnKind.ANSWER),
    (turn("no, stop", "deny", confidence=0.6), RETURN, "return_reason", "10008", TurnKind.INTERRUPTION),
    (turn("how long does shipping take?", "shipping_info", confidence=0.7), RETURN, "return_reason", "10008", TurnKind.INTERRUPTION),
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


@pytest.mark.parametrize("text, expected", [
    ("I'm so excited, I'm going backpacking next weekend!", True),
    ("my dog loves hiking", True),
    ("I'm bored", True),
    ("I want to know who won the game", False),  # a request
    ("can I return boots?", False),
    ("I wonder, do you sell tents?", False),
    ("write me a poem", False),
    ("who won the game last night?", False),
])
def test_tells_about_oneself(text, expected):
    assert tells_about_oneself(text) is expected


@pytest.mark.parametrize("ranking, names_an_order, form", [
    ([("give_email", 0.62), ("cancel_order", 0.33)], True, "cancel_order_form"),
    ([("give_email", 0.82), ("check_order_status", 0.15)], True, "order_status_form"),
    ([("give_email", 0.7), ("human_handoff", 0.2), ("return_item", 0.1)], False, "return_form"),
    ([("give_email", 0.99), ("return_item", 0.004)], True, "order_status_form"),  # "order 10002, x@y.com"
    ([("give_email", 1.0), ("deny", 0.0)], False, None),  # just an address
])
def test_flow_of_an_address(ranking, names_an_order, form):
    assert flow_of_an_address(ranking, names_an_order) == form
