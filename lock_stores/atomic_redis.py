"""A Redis lock store that stays correct when several Rasa servers share it.

Rasa 3.6's `RedisLockStore` changes a conversation's ticket lock with a plain
read-modify-write (GET, change in Python, SET). Two servers that receive
messages of one conversation at the same moment can both read "no tickets",
both take ticket 0 and process the two messages at the same time; the SQL
tracker store then silently drops one of the user's messages. The same race
lets one server delete a lock another server has just queued on.

Here every change to a lock runs as a Redis transaction that WATCHes the
lock's key and starts over when another server changed it in between, so
tickets are unique and the lock is only deleted when nobody is queued.

endpoints.yml:

    lock_store:
      type: lock_stores.atomic_redis.AtomicRedisLockStore
      url: 127.0.0.1        # plus port, db, password, key_prefix as for "redis"
"""
import json
import logging
from typing import Any, Callable, Optional, Text, Tuple, TypeVar

from rasa.core.lock import TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockError, RedisLockStore
from rasa.utils.endpoints import EndpointConfig

logger = logging.getLogger(__name__)

T = TypeVar("T")

# Rasa polls a busy lock once a second; a queued message of a conversation
# (a double click, two quick lines) should not wait that long for nothing.
DEFAULT_POLL_INTERVAL_S = 0.05

# `change` gets the stored lock (None if there is none) and returns the lock
# to store (None: delete it) and the value for the caller.
LockChange = Callable[[Optional[TicketLock]], Tuple[Optional[TicketLock], T]]


class AtomicRedisLockStore(RedisLockStore):
    """`RedisLockStore` whose ticket changes are atomic across processes."""

    def __init__(
        self,
        endpoint_config: Optional[EndpointConfig] = None,
        poll_interval_s: float = DEFAULT_POLL_INTERVAL_S,
        **redis_settings: Any,
    ) -> None:
        if endpoint_config is not None:
            # how Rasa builds a lock store from a module path in endpoints.yml
            settings = dict(endpoint_config.kwargs)
            poll_interval_s = float(settings.pop("poll_interval_s", poll_interval_s))
            redis_settings = {"host": endpoint_config.url or "localhost", **settings, **redis_settings}
        super().__init__(**redis_settings)
        self.poll_interval_s = poll_interval_s

    def lock(
        self,
        conversation_id: Text,
        lock_lifetime: float = LOCK_LIFETIME,
        wait_time_in_seconds: Optional[float] = None,
    ):
        if wait_time_in_seconds is None:
            wait_time_in_seconds = self.poll_interval_s
        return super().lock(conversation_id, lock_lifetime, wait_time_in_seconds)

    def issue_ticket(self, conversation_id: Text, lock_lifetime: float = LOCK_LIFETIME) -> int:
        def take_ticket(lock: Optional[TicketLock]) -> Tuple[TicketLock, int]:
            lock = lock or self.create_lock(conversation_id)
            return lock, lock.issue_ticket(lock_lifetime)

        logger.debug(f"Issuing ticket for conversation '{conversation_id}'.")
        try:
            return self._change(conversation_id, take_ticket)
        except Exception as error:  # what Rasa's agent expects from a lock store
            raise LockError(f"Error while acquiring lock. Error:\n{error}") from error

    def update_lock(self, conversation_id: Text) -> None:
        def drop_expired(lock: Optional[TicketLock]) -> Tuple[Optional[TicketLock], None]:
            if lock is not None:
                lock.remove_expired_tickets()
            return lock, None

        self._change(conversation_id, drop_expired)

    def finish_serving(self, conversation_id: Text, ticket_number: int) -> None:
        def drop_ticket(lock: Optional[TicketLock]) -> Tuple[Optional[TicketLock], None]:
            if lock is not None:
                lock.remove_ticket_for(ticket_number)
            return lock, None

        self._change(conversation_id, drop_ticket)

    def cleanup(self, conversation_id: Text, ticket_number: int) -> None:
        # one transaction: Rasa's "finish, then delete if nobody waits" in two
        # steps can delete a ticket another server queued in between
        def drop_ticket_and_idle_lock(lock: Optional[TicketLock]) -> Tuple[Optional[TicketLock], bool]:
            if lock is None:
                return None, False
            lock.remove_ticket_for(ticket_number)
            if lock.is_someone_waiting():
                return lock, False
            return None, True

        if self._change(conversation_id, drop_ticket_and_idle_lock):
            self._log_deletion(conversation_id, deletion_successful=True)

    def _change(self, conversation_id: Text, change: LockChange) -> T:
        """Apply `change` to the stored lock atomically (optimistic locking:
        redis-py reruns the function when the WATCHed key changed)."""
        key = self.key_prefix + conversation_id

        def transaction(pipe) -> T:
            stored = pipe.get(key)
            lock = TicketLock.from_dict(json.loads(stored)) if stored else None
            new_lock, result = change(lock)
            pipe.multi()
            if new_lock is not None:
                pipe.set(key, new_lock.dumps())
            elif stored is not None:
                pipe.delete(key)
            return result

        return self.red.transaction(transaction, key, value_from_callable=True)
