"""The order database: tables, demo data and the queries the actions need.

SQLAlchemy keeps it portable: an SQLite file by default, PostgreSQL when
`DATABASE_URL` says so. Writes (cancellations, returns, hand-off tickets)
are committed at once so that a restart loses nothing.
"""
import json
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from enum import Enum
from pathlib import Path
from threading import Lock
from typing import Dict, List, Optional

from sqlalchemy import (
    Column,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    create_engine,
    func,
    select,
    update,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, declarative_base, sessionmaker

Base = declarative_base()


class OrderStatus(str, Enum):
    PROCESSING = "processing"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"


class OrderRow(Base):
    __tablename__ = "orders"

    order_id = Column(String(5), primary_key=True)
    customer_name = Column(String(100), nullable=False)
    email = Column(String(200), nullable=False)
    status = Column(String(20), nullable=False)
    items_json = Column(Text, nullable=False)  # [{"name": ..., "qty": ..., "price": ...}]
    total_cents = Column(Integer, nullable=False)
    placed_on = Column(Date, nullable=False)
    shipped_on = Column(Date)
    expected_delivery = Column(Date)
    delivered_on = Column(Date)
    cancelled_on = Column(Date)
    carrier = Column(String(20))
    tracking_number = Column(String(40))


class ReturnRequestRow(Base):
    __tablename__ = "return_requests"

    id = Column(Integer, primary_key=True, autoincrement=True)
    rma = Column(String(12), unique=True, nullable=False)
    order_id = Column(String(5), ForeignKey("orders.order_id"), nullable=False)
    reason = Column(Text, nullable=False)
    created_at = Column(DateTime(timezone=True), nullable=False)


class CustomerIdentityRow(Base):
    """A user a channel has authenticated (a Slack user, a logged-in web shop
    customer, a JWT subject), mapped to the customer's e-mail address."""

    __tablename__ = "customer_identities"

    channel = Column(String(40), primary_key=True)
    external_id = Column(String(200), primary_key=True)
    email = Column(String(200), nullable=False)


class HandoffTicketRow(Base):
    __tablename__ = "handoff_tickets"

    id = Column(Integer, primary_key=True, autoincrement=True)
    ticket = Column(String(12), unique=True, nullable=False)
    sender_id = Column(String(200), nullable=False)
    order_id = Column(String(5))
    transcript = Column(Text, nullable=False)
    created_at = Column(DateTime(timezone=True), nullable=False)


@dataclass(frozen=True)
class Order:
    order_id: str
    # the second factor of verification (actions/verification.py); never shown
    email: str
    status: OrderStatus
    items: List[Dict]
    total_cents: int
    placed_on: date
    shipped_on: Optional[date]
    expected_delivery: Optional[date]
    delivered_on: Optional[date]
    cancelled_on: Optional[date]
    carrier: Optional[str]
    tracking_number: Optional[str]

    @property
    def item_summary(self) -> str:
        return ", ".join(f"{item['qty']}x {item['name']}" for item in self.items)

    @property
    def total(self) -> str:
        return f"${self.total_cents / 100:,.2f}"


@dataclass(frozen=True)
class ReturnRequest:
    rma: str
    order_id: str
    reason: str


def _to_order(row: OrderRow) -> Order:
    return Order(
        order_id=row.order_id,
        email=row.email,
        status=OrderStatus(row.status),
        items=json.loads(row.items_json),
        total_cents=row.total_cents,
        placed_on=row.placed_on,
        shipped_on=row.shipped_on,
        expected_delivery=row.expected_delivery,
        delivered_on=row.delivered_on,
        cancelled_on=row.cancelled_on,
        carrier=row.carrier,
        tracking_number=row.tracking_number,
    )


class OrderRepository:
    """All reads and writes of the order database. Methods are blocking:
    async callers run them in a worker thread."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._sessions = sessionmaker(bind=engine, future=True, expire_on_commit=False)

    @classmethod
    def from_url(cls, url: str) -> "OrderRepository":
        if url.startswith("sqlite:///"):
            Path(url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
        return cls(create_engine(url, future=True, pool_pre_ping=True))

    def create_schema_and_seed(self, today: Optional[date] = None) -> int:
        """Creates missing tables; seeds demo orders into an empty database
        (and demo channel identities into an empty identity table). Returns
        the number of orders added (0 when already seeded)."""
        Base.metadata.create_all(self._engine)
        with self._sessions.begin() as session:
            if not session.scalar(select(func.count()).select_from(CustomerIdentityRow)):
                session.add_all(demo_identities())
            if session.scalar(select(func.count()).select_from(OrderRow)):
                return 0
            rows = demo_orders(today or date.today())
            session.add_all(rows)
            return len(rows)

    def get_order(self, order_id: str) -> Optional[Order]:
        with self._sessions() as session:
            row = session.get(OrderRow, order_id)
            return _to_order(row) if row else None

    def customer_email(self, channel: str, external_id: str) -> Optional[str]:
        """The e-mail address of the customer a channel's user is, if known."""
        with self._sessions() as session:
            row = session.get(CustomerIdentityRow, (channel, external_id))
            return row.email if row else None

    def cancel_order(self, order_id: str, today: date) -> bool:
        """Cancels an order that has not shipped yet. The status check and the
        write are one statement, so two conversations cannot both cancel."""
        with self._sessions.begin() as session:
            result = session.execute(
                update(OrderRow)
                .where(
                    OrderRow.order_id == order_id,
                    OrderRow.status == OrderStatus.PROCESSING.value,
                )
                .values(status=OrderStatus.CANCELLED.value, cancelled_on=today)
            )
            return result.rowcount == 1

    def find_return(self, order_id: str) -> Optional[ReturnRequest]:
        with self._sessions() as session:
            row = session.scalars(
                select(ReturnRequestRow).where(ReturnRequestRow.order_id == order_id)
            ).first()
            return ReturnRequest(row.rma, row.order_id, row.reason) if row else None

    def create_return(self, order_id: str, reason: str) -> ReturnRequest:
        rma = f"R-{secrets.token_hex(3).upper()}"
        with self._sessions.begin() as session:
            session.add(
                ReturnRequestRow(
                    rma=rma,
                    order_id=order_id,
                    reason=reason,
                    created_at=datetime.now(timezone.utc),
                )
            )
        return ReturnRequest(rma, order_id, reason)

    def create_handoff_ticket(
        self, sender_id: str, transcript: str, order_id: Optional[str] = None
    ) -> str:
        ticket = f"T-{secrets.token_hex(3).upper()}"
        with self._sessions.begin() as session:
            session.add(
                HandoffTicketRow(
                    ticket=ticket,
                    sender_id=sender_id,
                    order_id=order_id,
                    transcript=transcript,
                    created_at=datetime.now(timezone.utc),
                )
            )
        return ticket

    def recent_handoff_ticket(self, sender_id: str, since: datetime) -> Optional[str]:
        """The conversation's latest ticket created after `since`, if any."""
        with self._sessions() as session:
            return session.scalars(
                select(HandoffTicketRow.ticket)
                .where(HandoffTicketRow.sender_id == sender_id, HandoffTicketRow.created_at >= since)
                .order_by(HandoffTicketRow.created_at.desc())
            ).first()

    def update_handoff_ticket(self, ticket: str, transcript: str, order_id: Optional[str]) -> None:
        """Gives the team the conversation as it is now (and the order, when named)."""
        values = {"transcript": transcript}
        if order_id:
            values["order_id"] = order_id
        with self._sessions.begin() as session:
            session.execute(update(HandoffTicketRow).where(HandoffTicketRow.ticket == ticket).values(**values))

    def count_handoff_tickets(self, sender_id: str) -> int:
        with self._sessions() as session:
            return session.scalar(
                select(func.count())
                .select_from(HandoffTicketRow)
                .where(HandoffTicketRow.sender_id == sender_id)
            )


_repositories: Dict[str, OrderRepository] = {}
_repositories_lock = Lock()


def get_repository(database_url: str) -> OrderRepository:
    """One repository (and connection pool) per database URL, created and
    seeded on first use rather than at import time."""
    with _repositories_lock:
        if database_url not in _repositories:
            repository = OrderRepository.from_url(database_url)
            repository.create_schema_and_seed()
            _repositories[database_url] = repository
        return _repositories[database_url]


def _item(name: str, qty: int, price_cents: int) -> Dict:
    return {"name": name, "qty": qty, "price_cents": price_cents}


def demo_email(order_id: str) -> str:
    """The e-mail address on a demo order: each demo order has its own customer."""
    return f"customer{order_id}@example.com"


DEMO_ORDER_IDS = tuple(str(n) for n in range(10001, 10011))


def demo_identities() -> List[CustomerIdentityRow]:
    """Each demo customer as a Slack user (U + order number), a logged-in
    web chat customer and an HTTP API (JWT) user (customer-<order number>)."""
    return [
        CustomerIdentityRow(channel=channel, external_id=external_id, email=demo_email(order_id))
        for order_id in DEMO_ORDER_IDS
        for channel, external_id in (
            ("slack", f"U{order_id}"),
            ("socketio", f"customer-{order_id}"),
            ("api", f"customer-{order_id}"),
        )
    ]


def demo_orders(today: date) -> List[OrderRow]:
    """Demo orders in every status, dated relative to `today` so that the
    return window and delivery estimates make sense whenever it is seeded."""

    def days(n: int) -> date:
        return today + timedelta(days=n)

    def order(order_id, status, items, placed, **dates) -> OrderRow:
        return OrderRow(
            order_id=order_id,
            customer_name=f"Demo Customer {order_id}",
            email=demo_email(order_id),
            status=status.value,
            items_json=json.dumps(items),
            total_cents=sum(i["qty"] * i["price_cents"] for i in items),
            placed_on=placed,
            **dates,
        )

    shipped = dict(carrier="UPS")
    return [
        order("10001", OrderStatus.PROCESSING, [_item("Alpine Shell Jacket", 1, 18900)], days(-1)),
        order(
            "10002", OrderStatus.SHIPPED, [_item("Trail Runner Boots", 1, 12900)], days(-4),
            shipped_on=days(-2), expected_delivery=days(2),
            tracking_number="1Z999AA10123456784", **shipped,
        ),
        order(
            "10003", OrderStatus.DELIVERED,
            [_item("Merino Base Layer", 2, 6500), _item("Wool Hiking Socks", 3, 1800)], days(-12),
            shipped_on=days(-10), expected_delivery=days(-7), delivered_on=days(-7),
            tracking_number="1Z999AA10123456785", **shipped,
        ),
        order(
            "10004", OrderStatus.CANCELLED, [_item("Summit 2P Tent", 1, 34900)], days(-20),
            cancelled_on=days(-19),
        ),
        order(
            "10005", OrderStatus.DELIVERED, [_item("Down Sleeping Bag", 1, 27900)], days(-65),
            shipped_on=days(-63), expected_delivery=days(-60), delivered_on=days(-60),
            carrier="USPS", tracking_number="9400111899223344556677",
        ),
        order("10006", OrderStatus.PROCESSING, [_item("Ridge 40L Backpack", 1, 15900)], days(0)),
        order(
            "10007", OrderStatus.SHIPPED,
            [_item("Headlamp 400", 1, 4500), _item("Trekking Poles", 1, 8900)], days(-3),
            shipped_on=days(-1), expected_delivery=days(3),
            carrier="USPS", tracking_number="9400111899223344556678",
        ),
        order(
            "10008", OrderStatus.DELIVERED, [_item("Rain Pants", 1, 7900)], days(-6),
            shipped_on=days(-5), expected_delivery=days(-3), delivered_on=days(-3),
            tracking_number="1Z999AA10123456786", **shipped,
        ),
        order("10009", OrderStatus.PROCESSING, [_item("Camp Stove", 1, 6900), _item("Fuel Canister", 2, 700)], days(-1)),
        order(
            "10010", OrderStatus.DELIVERED, [_item("Fleece Hoodie", 1, 8500)], days(-25),
            shipped_on=days(-23), expected_delivery=days(-20), delivered_on=days(-20),
            tracking_number="1Z999AA10123456787", **shipped,
        ),
    ]
