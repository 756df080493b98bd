"""How orders and dates are written in the bot's messages."""
from datetime import date

from actions.orders_db import Order, OrderStatus


def format_date(day: date) -> str:
    return f"{day:%a} {day.day} {day:%b %Y}"  # "Tue 1 Dec 2026"


def describe_order(order: Order) -> str:
    """One sentence with the real status and dates of an order."""
    head = f"Order #{order.order_id} ({order.item_summary}, {order.total})"
    if order.status is OrderStatus.PROCESSING:
        return (
            f"{head} was placed on {format_date(order.placed_on)} and is being "
            "prepared for shipping. You'll get a tracking link by e-mail as soon as it ships."
        )
    if order.status is OrderStatus.SHIPPED:
        return (
            f"{head} shipped on {format_date(order.shipped_on)} with {order.carrier}, "
            f"tracking number {order.tracking_number}. Expected delivery: "
            f"{format_date(order.expected_delivery)}."
        )
    if order.status is OrderStatus.DELIVERED:
        return f"{head} was delivered on {format_date(order.delivered_on)}."
    return (
        f"{head} was cancelled on {format_date(order.cancelled_on)}. "
        "Nothing was charged."
    )
