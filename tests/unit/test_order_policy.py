"""The shop's cancellation and return rules (actions/order_policy.py)."""
from datetime import date, timedelta
from typing import Optional

import pytest

from actions.order_policy import ReturnDecision, can_cancel, return_deadline, return_decision
from actions.orders_db import Order, OrderStatus

TODAY = date(2026, 3, 15)


def order(status: OrderStatus, delivered_days_ago: Optional[int] = None) -> Order:
    delivered = None if delivered_days_ago is None else TODAY - timedelta(days=delivered_days_ago)
    return Order(
        order_id="10001", email="customer10001@example.com", status=status, items=[{"name": "Rain Pants", "qty": 1, "price_cents": 7900}],
        total_cents=7900, placed_on=TODAY - timedelta(days=40), shipped_on=None,
        expected_delivery=None, delivered_on=delivered, cancelled_on=None, carrier=None,
        tracking_number=None,
    )


@pytest.mark.parametrize(
    "status, allowed",
    [
        (OrderStatus.PROCESSING, True),
        (OrderStatus.SHIPPED, False),
        (OrderStatus.DELIVERED, False),
        (OrderStatus.CANCELLED, False),
    ],
)
def test_only_orders_not_yet_shipped_can_be_cancelled(status, allowed):
    assert can_cancel(order(status)) is allowed


def test_return_deadline_counts_from_delivery():
    assert return_deadline(order(OrderStatus.DELIVERED, 7), 30) == date(2026, 4, 7)
    assert return_deadline(order(OrderStatus.DELIVERED, 0), 14) == date(2026, 3, 29)


@pytest.mark.parametrize("status", [OrderStatus.PROCESSING, OrderStatus.SHIPPED, OrderStatus.CANCELLED])
def test_no_return_deadline_before_delivery(status):
    assert return_deadline(order(status), 30) is None


@pytest.mark.parametrize(
    "status, delivered_days_ago, decision",
    [
        (OrderStatus.PROCESSING, None, ReturnDecision.NOT_SHIPPED),
        (OrderStatus.SHIPPED, None, ReturnDecision.IN_TRANSIT),
        (OrderStatus.CANCELLED, None, ReturnDecision.CANCELLED),
        (OrderStatus.DELIVERED, 0, ReturnDecision.ALLOWED),
        (OrderStatus.DELIVERED, 29, ReturnDecision.ALLOWED),
        # the last day of the window still counts
        (OrderStatus.DELIVERED, 30, ReturnDecision.ALLOWED),
        (OrderStatus.DELIVERED, 31, ReturnDecision.WINDOW_CLOSED),
        (OrderStatus.DELIVERED, 60, ReturnDecision.WINDOW_CLOSED),
    ],
)
def test_return_decision(status, delivered_days_ago, decision):
    assert return_decision(order(status, delivered_days_ago), TODAY, 30) is decision


def test_return_decision_follows_the_window_length():
    delivered_week_ago = order(OrderStatus.DELIVERED, 7)
    assert return_decision(delivered_week_ago, TODAY, 7) is ReturnDecision.ALLOWED
    assert return_decision(delivered_week_ago, TODAY, 6) is ReturnDecision.WINDOW_CLOSED
