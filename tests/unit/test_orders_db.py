"""The order database (actions/orders_db.py). These tests take the database
from the `database_url` fixture; tests/integration/test_postgres.py runs them
again against PostgreSQL."""
import re
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta

from sqlalchemy import create_engine, func, select

from actions.orders_db import (
    HandoffTicketRow,
    OrderRepository,
    OrderRow,
    OrderStatus,
    ReturnRequest,
    get_repository,
)

DEMO_STATUSES = {
    "10001": OrderStatus.PROCESSING,
    "10002": OrderStatus.SHIPPED,
    "10003": OrderStatus.DELIVERED,
    "10004": OrderStatus.CANCELLED,
    "10005": OrderStatus.DELIVERED,
    "10006": OrderStatus.PROCESSING,
    "10007": OrderStatus.SHIPPED,
    "10008": OrderStatus.DELIVERED,
    "10009": OrderStatus.PROCESSING,
    "10010": OrderStatus.DELIVERED,
}


def count_rows(db_engine, table) -> int:
    with db_engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(table)).scalar_one()


def test_demo_orders_in_every_status(repository):
    statuses = {order_id: repository.get_order(order_id).status for order_id in DEMO_STATUSES}
    assert statuses == DEMO_STATUSES


def test_seeding_is_idempotent(repository, db_engine):
    # the fixture seeded it already
    assert repository.create_schema_and_seed() == 0
    assert count_rows(db_engine, OrderRow) == 10


def test_seeding_adds_demo_identities_once(repository, db_engine):
    from actions.orders_db import CustomerIdentityRow

    assert count_rows(db_engine, CustomerIdentityRow) == 30
    repository.create_schema_and_seed()
    assert count_rows(db_engine, CustomerIdentityRow) == 30
    assert repository.customer_email("slack", "U10003") == "customer10003@example.com"
    assert repository.customer_email("slack", "U12345") is None


def test_seeding_an_empty_database_adds_the_demo_orders(tmp_path):
    url = f"sqlite:///{tmp_path}/new/shop.db"  # the folder is created too
    repository = OrderRepository.from_url(url)
    assert repository.create_schema_and_seed(date(2026, 3, 15)) == 10
    assert repository.create_schema_and_seed(date(2026, 3, 16)) == 0
    # dated relative to the day of seeding
    order = repository.get_order("10003")
    assert (order.placed_on, order.shipped_on, order.delivered_on) == (
        date(2026, 3, 3), date(2026, 3, 5), date(2026, 3, 8),
    )


def test_order_fields_round_trip(repository, today):
    order = repository.get_order("10007")
    assert order.items == [
        {"name": "Headlamp 400", "qty": 1, "price_cents": 4500},
        {"name": "Trekking Poles", "qty": 1, "price_cents": 8900},
    ]
    assert (order.total_cents, order.carrier, order.tracking_number) == (
        13400, "USPS", "9400111899223344556678",
    )
    assert (order.placed_on, order.shipped_on, order.expected_delivery) == (
        today - timedelta(days=3), today - timedelta(days=1), today + timedelta(days=3),
    )
    assert (order.delivered_on, order.cancelled_on) == (None, None)
    assert order.email == "customer10007@example.com"


def test_unknown_order(repository):
    assert repository.get_order("99999") is None


def test_cancel_order_once(repository, today):
    assert repository.cancel_order("10001", today) is True
    order = repository.get_order("10001")
    assert (order.status, order.cancelled_on) == (OrderStatus.CANCELLED, today)
    # the second cancellation finds nothing to cancel
    assert repository.cancel_order("10001", today + timedelta(days=1)) is False
    assert repository.get_order("10001").cancelled_on == today


def test_cancel_order_leaves_shipped_delivered_and_cancelled_orders(repository, today):
    for order_id in ["10002", "10003", "10004", "99999"]:
        before = repository.get_order(order_id)
        assert repository.cancel_order(order_id, today) is False
        assert repository.get_order(order_id) == before


def test_concurrent_cancellations_cancel_once(database_url, repository, today):
    # separate connection pools, as for several action servers
    engines = [create_engine(database_url, future=True) for _ in range(6)]
    try:
        with ThreadPoolExecutor(max_workers=6) as pool:
            results = list(
                pool.map(lambda engine: OrderRepository(engine).cancel_order("10006", today), engines)
            )
    finally:
        for engine in engines:
            engine.dispose()
    assert sorted(results) == [False] * 5 + [True]
    assert repository.get_order("10006").status is OrderStatus.CANCELLED


def test_returns(repository):
    assert repository.find_return("10003") is None
    created = repository.create_return("10003", "wrong size")
    assert re.fullmatch(r"R-[0-9A-F]{6}", created.rma)
    assert created == ReturnRequest(created.rma, "10003", "wrong size")
    assert repository.find_return("10003") == created
    assert repository.find_return("10010") is None


def test_handoff_tickets(db_engine, repository):
    ticket = repository.create_handoff_ticket("alice", "user: hi\nbot: hello", "10002")
    assert re.fullmatch(r"T-[0-9A-F]{6}", ticket)
    repository.create_handoff_ticket("alice", "user: still there?")
    assert repository.count_handoff_tickets("alice") == 2
    assert repository.count_handoff_tickets("bob") == 0
    with db_engine.connect() as connection:
        row = connection.execute(
            select(HandoffTicketRow.sender_id, HandoffTicketRow.order_id, HandoffTicketRow.transcript)
            .where(HandoffTicketRow.ticket == ticket)
        ).one()
    assert tuple(row) == ("alice", "10002", "user: hi\nbot: hello")


def test_one_repository_per_url(database_url):
    assert get_repository(database_url) is get_repository(database_url)
