"""What a user's message means for the order form that is asking a question.

Pure functions with no I/O: the forms' validators (`actions/forms.py`) read the
message and the form's state from the tracker, ask `interpret` what the
message is, and act on the answer. A form always gets the first try at a
message, so the validator must tell an answer from

* a **switch** to another order flow ("actually cancel order 10001 instead"
  while the return form asks for a reason): the form is rejected so that the
  switching rules in `data/rules/forms.yml` run, and the order it named is kept;
* a **correction** ("no sorry, I meant 10003"): the new order replaces the old
  one and the questions about the old one are asked again;
* an **interruption** (a question, a shop fact, a request for a person, "stop"):
  the form is rejected and the rules answer it, then the form asks again.
"""
import re
from dataclasses import dataclass
from enum import Enum
from typing import Iterable, Optional, Tuple

from actions.verification import find_email

# the order flows, by the intent that starts them
FORM_OF_INTENT = {
    "check_order_status": "order_status_form",
    "cancel_order": "cancel_order_form",
    "return_item": "return_form",
}
# intents that are never the answer to a form's question: each has a rule
# for when it interrupts a form (data/rules/forms.yml)
INTERRUPTING_INTENTS = frozenset({
    "human_handoff", "deny", "shipping_info", "store_hours", "payment_methods",
    "bot_challenge", "greet", "thank", "goodbye",
})
FALLBACK_INTENTS = frozenset({"nlu_fallback", "out_of_scope"})
# slots whose answer is free text, which can read like any intent
FREE_TEXT_SLOTS = frozenset({"return_reason", "order_email"})
# a free-text answer is taken for a request of another flow only when the
# classifier is this sure ("the socks are not what I ordered": status, 0.66)
SWITCH_CONFIDENCE = 0.9

_WORD = re.compile(r"[a-z']+")
_WH_WORDS = frozenset({
    "what", "what's", "whats", "when", "where", "where's", "why", "how", "how's", "who", "which",
})
_AUXILIARIES = frozenset({
    "can", "could", "do", "does", "did", "is", "are", "was", "will", "would", "should", "may",
    "shall", "have", "has",
})
_SUBJECTS = frozenset({"i", "you", "we", "it", "they", "this", "that", "there", "my", "the", "he", "she"})
_NEGATIONS = frozenset({
    "not", "don't", "dont", "do not", "never", "no", "keep", "won't", "wont", "shouldn't", "nope",
})
# the words people put around an order number when they only give the number
_ANSWER_FILLER = frozenset({
    "order", "orders", "number", "no", "nr", "num", "it", "it's", "its", "is", "my", "the", "a",
    "that", "this", "one", "ok", "okay", "sure", "yes", "yeah", "yep", "here", "here's", "you",
    "go", "please", "pls", "thanks", "thank", "sorry", "um", "uh", "hmm", "of", "for", "i", "think",
    "believe", "was", "id", "ref", "reference", "and", "with", "oh", "so", "well", "hi", "hey",
})
# what "stop" is made of: a deny that says more ("it does not fit", "wrong
# colour") answers the question instead
_STOP_WORDS = frozenset({
    "no", "nope", "nah", "stop", "never", "mind", "nevermind", "forget", "about", "it", "cancel",
    "that", "this", "actually", "please", "thanks", "thank", "you", "don't", "dont", "do", "not",
    "want", "to", "anymore", "leave", "i", "i'll", "ill", "keep", "wait", "hold", "on", "ok",
    "okay", "sorry", "let's", "lets", "rather", "the", "return", "just", "then", "after", "all",
    "i've", "decided", "my", "need", "quit", "exit", "end", "abort", "skip", "no,",
})
# an explicit yes, before anything irreversible: the classifier also reads
# "hmmmm", "maybe" and "i guess" as `affirm`, with full confidence
_YES_WORDS = frozenset({
    "yes", "yeah", "yea", "ya", "yah", "yep", "yup", "y", "sure", "ok", "okay", "k", "kk",
    "correct", "right", "confirm", "confirmed", "affirmative", "absolutely", "definitely",
    "certainly", "please", "pls", "do", "go", "ahead", "proceed", "cancel", "agreed", "fine",
    "si", "oui", "ja", "yass", "yesss", "yess",
})
_OTHER_ORDER = re.compile(
    r"\b(another|other|different|second|new|separate|older|earlier)\s+(order|one|package|parcel|purchase)\b"
)


class TurnKind(Enum):
    ANSWER = "answer"
    SWITCH = "switch"
    CORRECTION = "correction"
    INTERRUPTION = "interruption"
    # nothing the form can use, and nothing the rules answer ("yes" when asked
    # for a number): the form asks its question again
    NO_ANSWER = "no_answer"
    # "is that the one for $189?" at the confirmation: the status of the order
    # under discussion, then the form's question again
    ABOUT_THIS_ORDER = "about_this_order"


@dataclass(frozen=True)
class Turn:
    """The parts of the user's latest message that matter to a form."""

    text: str
    intent: str
    order_ids: Tuple[str, ...] = ()
    confidence: float = 1.0

    @property
    def words(self) -> Tuple[str, ...]:
        return tuple(_WORD.findall(self.text.lower()))


def is_question(text: str) -> bool:
    """A question, not a statement: a question mark, a wh-word first, or an
    auxiliary before its subject ("can I ...", "is it ...")."""
    if "?" in text:
        return True
    words = _WORD.findall(text.lower())
    if not words:
        return False
    if words[0] in _WH_WORDS:
        return True
    if len(words) < 2 or words[0] not in _AUXILIARIES or words[1] not in _SUBJECTS:
        return False
    # "do it", "do that": an imperative
    return not (words[0] == "do" and words[1] in ("it", "that", "this"))


_SELF_WORDS = frozenset({"i", "i'm", "im", "i've", "i'll", "we", "we're", "we've", "my", "our", "me"})
_WISH_WORDS = frozenset({"want", "need", "wanna", "would", "like", "wish", "demand"})


def tells_about_oneself(text: str) -> bool:
    """A statement about the user ("I'm so excited, I'm going backpacking",
    "my dog loves hiking"): no question and no request ("I want ...")."""
    words = _WORD.findall(text.lower())
    if not words or words[0] not in _SELF_WORDS or is_question(text):
        return False
    return not (len(words) > 1 and words[1] in _WISH_WORDS)


def is_negated(text: str) -> bool:
    lowered = f" {text.lower()} "
    return any(f" {word} " in lowered or f" {word}," in lowered for word in _NEGATIONS)


def is_bare_order_number(turn: Turn) -> bool:
    """The message only gives an order number ("it's 10002", "order #10002"),
    whatever intent the classifier read into it."""
    return bool(turn.order_ids) and all(word in _ANSWER_FILLER for word in turn.words)


def is_explicit_yes(turn: Turn) -> bool:
    """"yes", "ok do it", "sure, go ahead", or the yes button (its payload,
    "/affirm"): a yes-word, not only a murmur."""
    if turn.text.startswith("/"):
        return True
    return any(word in _YES_WORDS for word in turn.words) and not is_negated(turn.text)


def is_only_stop(turn: Turn) -> bool:
    """"no, stop", "never mind, I'll keep it": nothing but a wish to stop."""
    return all(word in _STOP_WORDS for word in turn.words)


def names_another_order(text: str) -> bool:
    """"my other order", "a different one": not the order under discussion."""
    return bool(_OTHER_ORDER.search(text.lower()))


def matches_choice(text: str, choices: Iterable[str]) -> Optional[str]:
    """The offered choice (a button's title) the user typed or clicked."""
    typed = " ".join(_WORD.findall(text.lower()))
    for choice in choices:
        if typed == " ".join(_WORD.findall(choice.lower())):
            return choice
    return None


def interpret(
    turn: Turn,
    form: str,
    requested_slot: Optional[str],
    order_id: Optional[str],
    choices: Iterable[str] = (),
    has_candidates: bool = True,
) -> TurnKind:
    """What the user's message is for `form`, which asked for
    `requested_slot` about `order_id` (None: no order yet);
    `has_candidates`: the slot mappings extracted something from it."""
    if matches_choice(turn.text, choices):
        return TurnKind.ANSWER
    new_order = next((o for o in turn.order_ids if o != order_id), None)
    if requested_slot == "order_email" and find_email(turn.text):
        # "10005, jane@example.com": the address, for another order
        return TurnKind.CORRECTION if new_order else TurnKind.ANSWER
    switch = _another_flow(turn, form, requested_slot, order_id, new_order)
    if switch is not None:
        return switch
    if turn.intent == "human_handoff":
        return TurnKind.INTERRUPTION
    if new_order:
        # "no sorry, I meant 10003"; while the number is asked, an answer
        return TurnKind.CORRECTION if order_id and requested_slot != "order_id" else TurnKind.ANSWER
    if requested_slot == "cancel_confirm" and confirmation(turn) is not None:
        return TurnKind.ANSWER
    if requested_slot in FREE_TEXT_SLOTS and turn.intent == "deny" and not is_only_stop(turn):
        # "it does not fit", "I don't have that address any more": an answer,
        # though it reads like a no
        return TurnKind.ANSWER
    if (requested_slot in FREE_TEXT_SLOTS and turn.intent in INTERRUPTING_INTENTS
            and turn.intent != "deny" and turn.confidence < SWITCH_CONFIDENCE
            and not is_question(turn.text)):
        # "it's too long" read as `goodbye`, "it doesn't fit" as
        # `shipping_info`, both unsure: a reason (a shop-fact question is asked
        # as a question; "stop" and a person were handled above)
        return TurnKind.ANSWER
    if turn.intent in INTERRUPTING_INTENTS or is_question(turn.text):
        # "how long does a refund take?" during the return form
        return TurnKind.INTERRUPTION
    if requested_slot in FREE_TEXT_SLOTS and turn.intent != "affirm":
        # a free-text answer is a statement, often unlike any training example
        return TurnKind.ANSWER
    if requested_slot == "order_id" and has_candidates:
        # "1234": the validator says what is wrong with it
        return TurnKind.ANSWER
    if turn.intent in FALLBACK_INTENTS:
        return TurnKind.INTERRUPTION
    return TurnKind.NO_ANSWER


def _another_flow(
    turn: Turn, form: str, requested_slot: Optional[str], order_id: Optional[str],
    new_order: Optional[str],
) -> Optional[TurnKind]:
    """SWITCH for a request of another order flow, ABOUT_THIS_ORDER for the
    status of the order under discussion, None for neither."""
    other_form = FORM_OF_INTENT.get(turn.intent)
    if not other_form or other_form == form or is_bare_order_number(turn):
        return None
    sure = bool(turn.order_ids) or turn.confidence >= SWITCH_CONFIDENCE or is_question(turn.text)
    if not sure and requested_slot in FREE_TEXT_SLOTS:
        return None
    if other_form == "order_status_form" and order_id and not new_order:
        return TurnKind.ABOUT_THIS_ORDER
    return TurnKind.SWITCH


# a request read as `give_email` when it carries an address ("cancel 10009,
# my email is ...") still ranks its flow second, at least this high
RUNNER_UP_CONFIDENCE = 0.1


def flow_of_an_address(ranking: Iterable[Tuple[str, float]], names_an_order: bool) -> Optional[str]:
    """The form for a message read as `give_email` while no form asked for
    an address: the flow ranked next when there is one, the order status
    for "order 10002, jane@example.com", else None (just an address)."""
    for intent, confidence in list(ranking)[1:3]:
        if intent in FORM_OF_INTENT and confidence >= RUNNER_UP_CONFIDENCE:
            return FORM_OF_INTENT[intent]
    return "order_status_form" if names_an_order else None


def confirmation(turn: Turn) -> Optional[bool]:
    """Yes or no to "Shall I cancel it?": "yes", "yes cancel it" and "go
    ahead and cancel" are yes; "no", "don't cancel", "keep it" are no;
    anything else ("hmmmm", "maybe") is no answer (None): the form asks again."""
    if turn.intent == "deny":
        return False
    if turn.intent == "affirm":
        return True if is_explicit_yes(turn) else None
    if turn.intent == "cancel_order" and not is_question(turn.text):
        # "yes, cancel it" is often read as a new cancellation request
        return not is_negated(turn.text)
    return None
