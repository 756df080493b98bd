"""The order database and the actions that write to it, against the real
PostgreSQL server on 127.0.0.1:5432 (user postgres, trust auth), in a
throwaway database created for this module and dropped afterwards.

The tests are those of tests/unit, run again here with `database_url`
pointing at PostgreSQL. Deselect with `-m "not postgres"` where there is no
server."""
import secrets

import psycopg2
import pytest
from sqlalchemy import create_engine

from actions.config import get_settings
from actions.orders_db import Base, OrderRepository

# the same tests, collected again in this module with the fixtures below
from tests.unit.test_handoff import (  # noqa: F401
    test_handoff_during_a_form_records_the_order_once_verified,
)
from tests.unit.test_order_actions import (  # noqa: F401
    test_cancel_order_cancels_the_row,
    test_cancel_order_declined_changes_nothing,
    test_cancel_order_refuses_what_cannot_be_cancelled,
    test_cancel_order_twice_tells_it_is_already_cancelled,
    test_order_status_tells_the_real_status,
    test_submit_return_once_per_order,
    test_submit_return_registers_it,
)
from tests.unit.test_orders_db import (  # noqa: F401
    test_cancel_order_leaves_shipped_delivered_and_cancelled_orders,
    test_cancel_order_once,
    test_concurrent_cancellations_cancel_once,
    test_demo_orders_in_every_status,
    test_handoff_tickets,
    test_one_repository_per_url,
    test_order_fields_round_trip,
    test_returns,
    test_seeding_is_idempotent,
    test_unknown_order,
)
from tests.unit.test_verification import (  # noqa: F401
    test_a_channel_identity_verifies_only_its_own_orders,
    test_the_address_on_the_order_verifies_it,
)

pytestmark = pytest.mark.postgres

SERVER = dict(host="127.0.0.1", port=5432, user="postgres", dbname="postgres")


@pytest.fixture(scope="module")
def postgres_url() -> str:
    name = f"pinecrest_test_{secrets.token_hex(4)}"
    try:
        admin = psycopg2.connect(**SERVER)
    except psycopg2.OperationalError as error:
        pytest.fail(f"no PostgreSQL server on 127.0.0.1:5432 ({error}); deselect with -m 'not postgres'")
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg2://postgres@127.0.0.1:5432/{name}"
    finally:
        # the actions' connection pool is still open: close its connections too
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture
def database_url(postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Replaces tests/conftest.py's SQLite database: the module's PostgreSQL
    database, emptied and seeded again for each test."""
    engine = create_engine(postgres_url, future=True)
    Base.metadata.drop_all(engine)
    OrderRepository(engine).create_schema_and_seed()
    engine.dispose()
    monkeypatch.setenv("DATABASE_URL", postgres_url)
    get_settings.cache_clear()
    yield postgres_url
    get_settings.cache_clear()


def test_the_throwaway_database_is_postgres(database_url, db_engine):
    assert db_engine.dialect.name == "postgresql"
    assert get_settings().database_url == database_url
    with db_engine.connect() as connection:
        name = connection.exec_driver_sql("SELECT current_database()").scalar_one()
    assert name.startswith("pinecrest_test_")
