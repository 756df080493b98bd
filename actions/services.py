"""Access to the shared services of the action server (the order database),
built lazily from the settings so that importing an action does no work."""
import asyncio
from typing import Any, Callable, TypeVar

from actions.config import get_settings
from actions.orders_db import OrderRepository, get_repository

T = TypeVar("T")


def order_repository() -> OrderRepository:
    return get_repository(get_settings().database_url)


async def on_orders(operation: Callable[..., T], *args: Any) -> T:
    """Runs `operation(repository, *args)`, e.g.
    `await on_orders(OrderRepository.get_order, "10002")`, in a worker thread:
    database calls block, and one slow query must not hold up the other
    conversations on this action server. The first call, which creates and
    seeds the database, runs there too."""
    return await asyncio.to_thread(lambda: operation(order_repository(), *args))
