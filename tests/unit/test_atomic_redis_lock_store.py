"""The Redis lock store shared by several Rasa servers, against the real Redis
on 127.0.0.1:6379. Each `AtomicRedisLockStore` instance has its own
connection, as each Rasa server has."""
import asyncio
import secrets
import threading
from pathlib import Path

import pytest
import redis
from rasa.core.lock_store import LockStore
from rasa.core.utils import AvailableEndpoints

from lock_stores.atomic_redis import AtomicRedisLockStore

pytestmark = pytest.mark.redis

PROJECT_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def key_prefix() -> str:
    prefix = f"pinecresttest{secrets.token_hex(4)}"
    yield prefix
    client = redis.Redis(host="127.0.0.1", port=6379, db=1)
    for key in client.scan_iter(f"{prefix}:*"):
        client.delete(key)


def new_server_store(key_prefix: str) -> AtomicRedisLockStore:
    return AtomicRedisLockStore(host="127.0.0.1", port=6379, db=1, key_prefix=key_prefix)


def run_in_threads(workers):
    start = threading.Barrier(len(workers))
    errors = []

    def run(work):
        start.wait()
        try:
            work()
        except Exception as error:  # reported below, not lost in a thread
            errors.append(error)

    threads = [threading.Thread(target=run, args=(work,)) for work in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors


def test_tickets_are_unique_when_two_servers_issue_them_at_once(key_prefix):
    conversation = "same-user"
    tickets = []

    def issue_many(store):
        for _ in range(60):
            tickets.append(store.issue_ticket(conversation, lock_lifetime=60))

    run_in_threads([lambda s=new_server_store(key_prefix): issue_many(s) for _ in range(3)])
    assert sorted(tickets) == list(range(180))


def test_one_conversation_is_processed_by_one_server_at_a_time(key_prefix):
    conversation = "same-user"
    inside, most_inside, done = [0], [0], []
    guard = threading.Lock()

    async def handle_message(store, number):
        async with store.lock(conversation):
            with guard:
                inside[0] += 1
                most_inside[0] = max(most_inside[0], inside[0])
            await asyncio.sleep(0.01)  # the message is being processed
            with guard:
                inside[0] -= 1
                done.append(number)

    def server(store, first):
        async def messages():
            await asyncio.gather(*(handle_message(store, first + i) for i in range(8)))
        asyncio.run(messages())

    run_in_threads([lambda: server(new_server_store(key_prefix), 0),
                    lambda: server(new_server_store(key_prefix), 100)])
    assert most_inside[0] == 1
    assert sorted(done) == [*range(8), *range(100, 108)]
    # the last message out removed the lock
    assert new_server_store(key_prefix).get_lock(conversation) is None


def test_finishing_keeps_the_lock_a_message_is_queued_on(key_prefix):
    first, second = new_server_store(key_prefix), new_server_store(key_prefix)
    mine = first.issue_ticket("user-1")
    queued = second.issue_ticket("user-1")
    assert second.get_lock("user-1").is_locked(queued)

    first.cleanup("user-1", mine)
    lock = second.get_lock("user-1")
    assert lock is not None and not lock.is_locked(queued)

    second.cleanup("user-1", queued)
    assert second.get_lock("user-1") is None


async def test_a_lock_is_acquired_without_waiting_a_whole_second(key_prefix):
    store = new_server_store(key_prefix)
    loop = asyncio.get_running_loop()

    async def hold_briefly():
        async with store.lock("user-2"):
            await asyncio.sleep(0.05)

    holder = asyncio.create_task(hold_briefly())
    await asyncio.sleep(0)  # the holder takes ticket 0
    started = loop.time()
    async with store.lock("user-2"):
        waited = loop.time() - started
    await holder
    # Rasa's own store sleeps a whole second between two looks at the lock;
    # ours looks every poll_interval_s (0.05 s)
    assert waited < 0.9


def test_endpoints_yml_builds_it_from_environment_variables(key_prefix, monkeypatch):
    settings = dict(
        ACTION_ENDPOINT_URL="http://127.0.0.1:5055/webhook",
        TRACKER_STORE_TYPE="rasa.core.tracker_store.InMemoryTrackerStore",
        TRACKER_STORE_DIALECT="postgresql", TRACKER_STORE_HOST="127.0.0.1",
        TRACKER_STORE_PORT="5432", TRACKER_STORE_DB="rasa",
        TRACKER_STORE_USERNAME="postgres", TRACKER_STORE_PASSWORD="",
        LOCK_STORE_TYPE="lock_stores.atomic_redis.AtomicRedisLockStore",
        LOCK_STORE_HOST="127.0.0.1", LOCK_STORE_PORT="6379", LOCK_STORE_DB="1",
        LOCK_STORE_KEY_PREFIX=key_prefix,
    )
    for name, value in settings.items():
        monkeypatch.setenv(name, value)

    endpoints = AvailableEndpoints.read_endpoints(str(PROJECT_ROOT / "endpoints.yml"))
    store = LockStore.create(endpoints.lock_store)

    assert isinstance(store, AtomicRedisLockStore)
    assert store.key_prefix == f"{key_prefix}:lock:"
    assert store.red.connection_pool.connection_kwargs["db"] == 1
    ticket = store.issue_ticket("user-3")
    assert redis.Redis(host="127.0.0.1", port=6379, db=1).exists(f"{key_prefix}:lock:user-3")
    store.cleanup("user-3", ticket)
