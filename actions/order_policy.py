"""The shop's rules for orders, in one place: what can be cancelled or
returned, and until when. Pure functions, easy to test."""
from datetime import date, timedelta
from enum import Enum
from typing import Optional

from actions.orders_db import Order, OrderStatus


class ReturnDecision(str, Enum):
    ALLOWED = "allowed"
    NOT_SHIPPED = "not_shipped"
    IN_TRANSIT = "in_transit"
    CANCELLED = "cancelled"
    WINDOW_CLOSED = "window_closed"


def can_cancel(order: Order) -> bool:
    # only orders that have not left the warehouse
    return order.status is OrderStatus.PROCESSING


def return_deadline(order: Order, window_days: int) -> Optional[date]:
    if order.delivered_on is None:
        return None
    return order.delivered_on + timedelta(days=window_days)


def return_decision(order: Order, today: date, window_days: int) -> ReturnDecision:
    if order.status is OrderStatus.PROCESSING:
        return ReturnDecision.NOT_SHIPPED
    if order.status is OrderStatus.SHIPPED:
        return ReturnDecision.IN_TRANSIT
    if order.status is OrderStatus.CANCELLED:
        return ReturnDecision.CANCELLED
    if today > return_deadline(order, window_days):
        return ReturnDecision.WINDOW_CLOSED
    return ReturnDecision.ALLOWED
