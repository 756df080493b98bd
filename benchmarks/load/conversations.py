"""What the simulated customers say: whole conversations, the traffic mixes
that weigh them, and how a customer reacts to the bot's replies.

Pure: no I/O, no Locust. The locustfile walks a `Conversation` one message at
a time; `next_message` decides the next one from what the bot said, the way
tests/integration/test_conversation_outcomes.py does (a customer asked for the
e-mail address on an order gives it).

The flows are those of tests/conversations/outcomes.yml with the demo orders of
actions/orders_db.py. They leave the order database as seeded, so that every
phase (and any later test of the stack) meets the same orders: the cancellation
is declined at the confirmation ("no, don't cancel it"), and a return of a
delivered order is registered once, after which the same form answers "There's
already a return" (same turns, same actions).
"""
import itertools
import re
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

EMAIL_QUESTION = re.compile(r"e-mail address on order #(\d{5})")
TRACKING_10002 = "1Z999AA10123456784"  # demo order 10002 (actions/orders_db.py)


def demo_email(order_id: str) -> str:
    """The e-mail address on a demo order (actions/orders_db.demo_email)."""
    return f"customer{order_id}@example.com"


@dataclass(frozen=True)
class Step:
    """One user message: the Locust request name (`kind`), the text, and words
    one of the bot's replies should contain (case-insensitive; "" = any)."""
    kind: str
    text: str
    expect: Tuple[str, ...] = ()


# order numbers rotate so that conversations touch different rows
PROCESSING_ORDERS = ("10001", "10006", "10009")   # cancellable
RETURNABLE_ORDERS = ("10003", "10008", "10010")   # delivered within the window
# each reached action_llm_fallback on the stack (a question about the weather would
# not: a guard answers it)
OPEN_QUESTIONS = (
    "which tent is good for rainy weekends?",
    "what should I pack for a two-day hike in the mountains?",
    "how do I choose trekking poles?",
    "can I wash a down sleeping bag in a machine?",
    "are your rain jackets good for cycling to work?",
    "how do I care for a waterproof jacket?",
    "what's the warranty on backpacks?",
)
SHOP_FACTS = (
    ("what are your opening hours?", ("8:00-20:00",)),
    ("how much is shipping?", ("shipping",)),
    ("do you ship to Canada?", ("canada",)),
    ("what payment methods do you accept", ("",)),
)


def greeting(n: int) -> List[Step]:
    return [Step("greeting", "hi", ("",)), Step("goodbye", "thanks, bye", ("",))]


def order_status(n: int) -> List[Step]:
    return [
        Step("order_status", "where is my order?", ("order number",)),
        Step("order_number", "10002", ("e-mail",)),
        Step("email", demo_email("10002"), (TRACKING_10002,)),
    ]


def cancellation(n: int) -> List[Step]:
    order = PROCESSING_ORDERS[n % len(PROCESSING_ORDERS)]
    return [
        Step("cancel", f"I want to cancel order {order}", (order,)),
        # after the e-mail (when asked): "Shall I cancel it?"
        Step("cancel_decline", "no, don't cancel it", ("haven't cancelled",)),
    ]


def return_item(n: int) -> List[Step]:
    order = RETURNABLE_ORDERS[n % len(RETURNABLE_ORDERS)]
    return [
        Step("return", f"I want to return order {order}", (order,)),
        Step("return_reason", "wrong size", ("return",)),
    ]


def shop_fact(n: int) -> List[Step]:
    first, second = SHOP_FACTS[n % len(SHOP_FACTS)], SHOP_FACTS[(n + 1) % len(SHOP_FACTS)]
    return [Step("shop_fact", text, expect) for text, expect in (first, second)]


def open_question(n: int) -> List[Step]:
    """A question only the LLM fallback answers (action_llm_fallback)."""
    return [
        Step("greeting", "hello", ("",)),
        Step("open_question", OPEN_QUESTIONS[n % len(OPEN_QUESTIONS)], ("",)),
    ]


CONVERSATIONS = {
    "greeting": greeting,
    "order_status": order_status,
    "cancellation": cancellation,
    "return": return_item,
    "shop_fact": shop_fact,
    "open_question": open_question,
}

# The traffic mixes, in one table: conversation -> weight. `structured` never
# reaches the LLM fallback; `mixed` adds open-ended questions (about 1 message in
# 10); `light` a few (1 in 36: the short CI run, where fallbacks on 2 cores would
# leave too few messages).
MIXES: Dict[str, Dict[str, int]] = {
    "structured": {"greeting": 2, "order_status": 4, "cancellation": 2, "return": 2,
                   "shop_fact": 3, "open_question": 0},
    "mixed":      {"greeting": 1, "order_status": 3, "cancellation": 2, "return": 2,
                   "shop_fact": 2, "open_question": 3},
    "light":      {"greeting": 2, "order_status": 4, "cancellation": 2, "return": 2,
                   "shop_fact": 3, "open_question": 1},
}


def schedule(mix: str) -> List[str]:
    """One round of conversation names, each as often as its weight, spread
    out (round-robin) rather than in runs."""
    weights = MIXES[mix]
    rounds = [[name] * w for name, w in weights.items() if w > 0]
    return [name for group in itertools.zip_longest(*rounds) for name in group if name]


def pick(mix: str, n: int) -> str:
    """The n-th conversation of a mix: deterministic, so runs are comparable."""
    names = schedule(mix)
    return names[n % len(names)]


@dataclass
class Conversation:
    """One customer's conversation: a new sender id, its script, and where it is."""
    sender: str
    name: str
    script: List[Step]
    seq: int = 0                       # messages sent so far
    pending: List[Step] = field(default_factory=list)  # inserted by a reply

    @property
    def done(self) -> bool:
        return not self.pending and not self.script


def start(mix: str, run_id: str, n: int) -> Conversation:
    name = pick(mix, n)
    return Conversation(sender=f"load-{run_id}-{n}", name=name, script=CONVERSATIONS[name](n))


def next_message(conversation: Conversation) -> Optional[Step]:
    """The next step, or None when the conversation is over. Mutates it."""
    if conversation.pending:
        return conversation.pending.pop(0)
    if conversation.script:
        return conversation.script.pop(0)
    return None


def react(conversation: Conversation, step: Step, replies: Sequence[str]) -> None:
    """A customer asked for the e-mail address on an order gives it next
    (order status asks it by script; cancellations and returns ask it first)."""
    if step.kind == "order_number":
        return  # the script's next step is that e-mail
    asked = EMAIL_QUESTION.search(" ".join(replies))
    if asked:
        conversation.pending.append(Step("email", demo_email(asked.group(1)), ("",)))


def abandon(conversation: Conversation) -> None:
    """The customer gives up: the rest of the script is not sent (it would only
    be answered as a reply to the message that went unanswered)."""
    conversation.script.clear()
    conversation.pending.clear()


def message_body(sender: str, text: str, seq: int, run_id: str) -> Dict:
    """The REST body. `message_id` is the idempotency key: a retry resends the
    same body, and the server processes one message_id at most once."""
    return {
        "sender": sender,
        "message": text,
        "metadata": {"message_id": f"{sender}:{seq}", "seq": seq, "load_run": run_id},
    }


def reply_matches(step: Step, replies: Sequence[str]) -> bool:
    """Did the replies say what this step expects (any one of its words)?"""
    if not step.expect:
        return True
    said = " ".join(replies).lower()
    return any(word.lower() in said for word in step.expect)
