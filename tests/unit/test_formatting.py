"""How dates and orders are written in the bot's messages (actions/formatting.py)."""
from datetime import date

from actions.formatting import describe_order, format_date
from actions.orders_db import Order, OrderStatus


def test_format_date():
    assert format_date(date(2026, 12, 1)) == "Tue 1 Dec 2026"
    assert format_date(date(2027, 1, 31)) == "Sun 31 Jan 2027"


def test_order_summary_and_total():
    order = Order(
        order_id="10042", email="customer10042@example.com", status=OrderStatus.PROCESSING,
        items=[
            {"name": "Summit 2P Tent", "qty": 3, "price_cents": 34900},
            {"name": "Camp Stove", "qty": 1, "price_cents": 6900},
        ],
        total_cents=111600, placed_on=date(2026, 12, 1), shipped_on=None, expected_delivery=None,
        delivered_on=None, cancelled_on=None, carrier=None, tracking_number=None,
    )
    assert order.item_summary == "3x Summit 2P Tent, 1x Camp Stove"
    assert order.total == "$1,116.00"
    assert describe_order(order) == (
        "Order #10042 (3x Summit 2P Tent, 1x Camp Stove, $1,116.00) was placed on Tue 1 Dec 2026 "
        "and is being prepared for shipping. You'll get a tracking link by e-mail as soon as it ships."
    )
