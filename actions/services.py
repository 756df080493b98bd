"""Access to the shared services of the action server (the order database),
built lazily from the settings so that importing an action does no work."""
import asyncio
from typing import Any, Callable, TypeVar

from actions.config import get_settings
from actions.orders_db import OrderRepository, get_repository

T = TypeVar("T")


def order_repository() -> OrderRepository:
    return get_repository(get_settings().database_url)


async def in_thread(function: Callable[..., T], *args: Any) -> T:
    """Runs a blocking call (a database query) off the event loop, so one slow
    query does not hold up the other conversations on this action server."""
    return await asyncio.to_thread(function, *args)
