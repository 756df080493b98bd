"""Customer verification: nobody sees or changes an order without showing
that it is theirs.

The second factor is the e-mail address on the order, compared in constant
time; a reply never says whether the number or the address was wrong, and
an unknown order number fails exactly like a wrong address, so replies do not
tell which order numbers exist. A verified order stays verified for the
conversation (the `verified_orders` slot). A channel that has authenticated
its user (`channels/identity.py`) needs no e-mail for that customer's own
orders.

Guessing is bounded: after `MAX_FAILURES_PER_CONVERSATION` failed attempts a
conversation gets no more, and after `MAX_FAILURES_PER_ORDER` failures within
`ORDER_FAILURE_WINDOW` an order accepts no more attempts from anyone
(counted in Redis when configured, so across action servers, else in memory).
Attempts are logged without the values typed.
"""
import hmac
import logging
import re
import threading
import time
import uuid
from collections import defaultdict, deque
from datetime import timedelta
from typing import Any, Deque, Dict, List, Optional, Text, Tuple

from rasa_sdk import Tracker

from actions.orders_db import Order, OrderRepository
from actions.services import on_orders
from channels.identity import identity_of

logger = logging.getLogger(__name__)

MAX_FAILURES_PER_CONVERSATION = 3
MAX_FAILURES_PER_ORDER = 5
ORDER_FAILURE_WINDOW = timedelta(hours=1)

_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")
# compared against when the order does not exist, so that an unknown number
# costs the same as a wrong address
_NO_SUCH_ADDRESS = "no-such-order@invalid"


def find_email(text: Optional[Text]) -> Optional[Text]:
    """The first e-mail address in a message, or None."""
    match = _EMAIL.search(text or "")
    return match.group(0) if match else None


def same_address(typed: Text, on_record: Text) -> bool:
    """Case-insensitive, constant-time comparison of two e-mail addresses."""
    return hmac.compare_digest(
        typed.strip().lower().encode("utf-8"), on_record.strip().lower().encode("utf-8")
    )


def proves_ownership(order: Optional[Order], typed: Text) -> bool:
    """Whether the typed address is the one on the order (False for no order)."""
    matched = same_address(typed, order.email if order else _NO_SUCH_ADDRESS)
    return matched and order is not None


def is_locked(conversation_failures: int, order_failures: int) -> bool:
    """No more attempts: too many in this conversation or on this order."""
    return (
        conversation_failures >= MAX_FAILURES_PER_CONVERSATION
        or order_failures >= MAX_FAILURES_PER_ORDER
    )


def mismatch_reply(order_id: Text, locked: bool) -> Text:
    """The reply to a failed attempt: it never says which part was wrong."""
    reply = (
        f"Sorry, I couldn't match order #{order_id} with that e-mail address: "
        "either the order number or the address is not the one on the order."
    )
    if locked:
        return reply
    return reply + (
        " Please check both in your order confirmation e-mail and send me the address "
        "again, or the right order number."
    )


LOCKED_REPLY = (
    "For your security I can't check that order here any more: there were too many "
    "attempts that didn't match. If it's your order, a person from our team can help. "
    "Shall I connect you with a person?"
)
NOT_AN_ADDRESS_REPLY = (
    "I need the e-mail address the order was placed with, like name@example.com, "
    "to show you its details. If you can't get to that address, I can connect you with "
    "a person instead: just say \"talk to a person\"."
)


def email_question(order_id: Optional[Text]) -> Text:
    what = f"order #{order_id}" if order_id else "that order"
    return (
        f"For your security, what's the e-mail address on {what}? "
        "I only use it to check that the order is yours."
    )


class OrderFailureCounter:
    """Failed attempts per order within a sliding window, in this process."""

    def __init__(self, window: timedelta = ORDER_FAILURE_WINDOW) -> None:
        self._window = window.total_seconds()
        self._failures: Dict[Text, Deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    async def record(self, order_id: Text) -> None:
        with self._lock:
            self._failures[order_id].append(time.time())

    async def recent(self, order_id: Text) -> int:
        with self._lock:
            failures = self._failures.get(order_id)
            if not failures:
                return 0
            while failures and failures[0] < time.time() - self._window:
                failures.popleft()
            if not failures:
                del self._failures[order_id]
            return len(failures)


class RedisOrderFailureCounter:
    """The same, in a Redis sorted set per order, shared by action servers."""

    KEY_PREFIX = "pine:verification-failures:"

    def __init__(self, url: Text, window: timedelta = ORDER_FAILURE_WINDOW) -> None:
        import redis.asyncio  # only when configured

        self._redis = redis.asyncio.from_url(url)
        self._window = window.total_seconds()

    async def record(self, order_id: Text) -> None:
        now = time.time()
        key = self.KEY_PREFIX + order_id
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.zadd(key, {uuid.uuid4().hex: now})
            pipe.expire(key, int(self._window) + 60)
            await pipe.execute()

    async def recent(self, order_id: Text) -> int:
        now = time.time()
        key = self.KEY_PREFIX + order_id
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.zremrangebyscore(key, "-inf", now - self._window)
            pipe.zcard(key)
            _, count = await pipe.execute()
        return int(count)


_counter: Optional[Any] = None
_counter_lock = threading.Lock()


def order_failures() -> Any:
    """The counter the settings ask for, created on first use."""
    global _counter
    from actions.config import get_settings

    with _counter_lock:
        if _counter is None:
            url = get_settings().verification_redis_url
            _counter = RedisOrderFailureCounter(url) if url else OrderFailureCounter()
        return _counter


def verified_orders(tracker: Tracker) -> List[Text]:
    return list(tracker.get_slot("verified_orders") or [])


def conversation_failures(tracker: Tracker) -> int:
    return int(tracker.get_slot("verification_failures") or 0)


async def owner_address(tracker: Tracker) -> Optional[Text]:
    """The e-mail address of the customer the channel vouches for, if any."""
    identity = identity_of((tracker.latest_message or {}).get("metadata"))
    if identity is None:
        return None
    return await on_orders(OrderRepository.customer_email, identity["channel"], identity["user"])


async def is_verified(tracker: Tracker, order_id: Optional[Text]) -> bool:
    """Whether this conversation may see and change the order."""
    if not order_id:
        return False
    if order_id in verified_orders(tracker):
        return True
    address = await owner_address(tracker)
    if address is None:
        return False
    order = await on_orders(OrderRepository.get_order, order_id)
    return order is not None and same_address(address, order.email)


async def may_try(tracker: Tracker, order_id: Text) -> bool:
    """Whether the user may still try to verify this order."""
    failures = await order_failures().recent(order_id)
    return not is_locked(conversation_failures(tracker), failures)


async def record_failure(tracker: Tracker, order_id: Text) -> Tuple[int, bool]:
    """Counts a failed attempt; returns the conversation's failures so far
    and whether that was the last attempt allowed."""
    counter = order_failures()
    await counter.record(order_id)
    failures = conversation_failures(tracker) + 1
    # no value the user typed: neither the address nor the message
    logger.warning(
        "Verification failed for order %s in conversation %s (%d of %d in this conversation).",
        order_id, tracker.sender_id, failures, MAX_FAILURES_PER_CONVERSATION,
    )
    return failures, is_locked(failures, await counter.recent(order_id))
