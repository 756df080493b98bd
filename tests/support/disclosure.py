"""What of an order a reply gives away: used by the privacy tests and the
guessing benchmark to count disclosures of order data."""
from typing import Dict, List

from actions.formatting import format_date
from actions.orders_db import Order


def order_facts(order: Order) -> List[str]:
    """What must not reach someone who has not verified the order: its items,
    total, tracking number, dates, and what the order flows say of its state."""
    facts = [item["name"] for item in order.items] + [order.total]
    if order.tracking_number:
        facts.append(order.tracking_number)
    for day in (order.placed_on, order.shipped_on, order.expected_delivery,
                order.delivered_on, order.cancelled_on):
        if day:
            facts.append(format_date(day))
    facts += [f"#{order.order_id} {phrase}" for phrase in (
        "(", "can be returned", "is cancelled", "already shipped", "hasn't shipped",
        "was delivered", "was cancelled", "is still on its way", "stays as it is",
    )] + ["return number"]
    return facts


def disclosed(order: Order, messages: List[Dict]) -> List[str]:
    """The facts of `order` that the bot's messages contain."""
    said = " ".join(m.get("text") or "" for m in messages).lower()
    return [fact for fact in order_facts(order) if fact.lower() in said]
