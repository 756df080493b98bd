"""Shared fixtures: a seeded order database per test, a dispatcher, the real
domain, and trackers built from the saved conversations in tests/data/trackers/
(as in RasaHQ/financial-demo's tests)."""
import json
import warnings
from datetime import date
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import create_engine
from sqlalchemy.engine import Engine

from actions.config import get_settings
from actions.orders_db import OrderRepository

TESTS_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = TESTS_DIR.parent
TRACKERS_DIR = TESTS_DIR / "data" / "trackers"


@pytest.fixture
def today() -> date:
    # the day the database is seeded; demo orders are dated relative to it
    return date.today()


@pytest.fixture
def database_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh SQLite order database for this test, seeded with the demo
    orders, and the settings pointed at it through `DATABASE_URL`."""
    url = f"sqlite:///{tmp_path}/shop.db"
    monkeypatch.setenv("DATABASE_URL", url)
    get_settings.cache_clear()
    OrderRepository.from_url(url).create_schema_and_seed()
    yield url
    get_settings.cache_clear()


@pytest.fixture
def db_engine(database_url: str) -> Engine:
    """A second, independent connection pool on the test database, for
    checking what the actions really wrote."""
    engine = create_engine(database_url, future=True)
    yield engine
    engine.dispose()


@pytest.fixture
def repository(db_engine: Engine) -> OrderRepository:
    return OrderRepository(db_engine)


@pytest.fixture(autouse=True)
def fresh_failure_counts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Failed verifications per order are counted per process: each test
    starts from none."""
    from actions import verification

    monkeypatch.setattr(verification, "_counter", verification.OrderFailureCounter())


@pytest.fixture
def dispatcher() -> CollectingDispatcher:
    return CollectingDispatcher()


@pytest.fixture(scope="session")
def domain() -> Dict[str, Any]:
    """The assistant's real domain, as Rasa sends it to the action server."""
    from rasa.shared.core.domain import Domain

    with warnings.catch_warnings():
        # Rasa 3.x warns about the removed slot auto-fill on every domain load
        warnings.filterwarnings("ignore", message="Slot auto-fill has been removed")
        return Domain.load(str(PROJECT_ROOT / "domain")).as_dict()


def load_tracker(
    name: str,
    slots: Optional[Dict[str, Any]] = None,
    latest_message: Optional[Dict[str, Any]] = None,
    slot_events: Optional[Dict[str, Any]] = None,
) -> Tracker:
    """A rasa_sdk `Tracker` from tests/data/trackers/<name>.json.

    slots: overrides slot values (a saved conversation about one order can
        stand for any order).
    latest_message: replaces the user's latest message, in `latest_message`
        and in the last `user` event, so that one saved form state serves
        every answer a user might give.
    slot_events: slot candidates appended as `slot` events, the way Rasa's
        form action hands them to `validate_<form>` (and set in `slots`).
    """
    state = json.loads((TRACKERS_DIR / f"{name}.json").read_text())
    state["slots"].update(slots or {})
    if latest_message is not None:
        state["latest_message"] = latest_message
        last_user = next(e for e in reversed(state["events"]) if e["event"] == "user")
        last_user.update(text=latest_message["text"], parse_data=latest_message)
    for slot, value in (slot_events or {}).items():
        state["events"].append({"event": "slot", "name": slot, "value": value})
        state["slots"][slot] = value
    return Tracker.from_dict(state)


def verified(order_id: Optional[str]) -> Dict[str, Any]:
    """Slots of a conversation about `order_id` that has verified it (the
    customer gave the e-mail address on the order)."""
    return {"order_id": order_id, "verified_orders": [order_id] if order_id else []}


def user_message(text: str, intent: str, order_id: Optional[str] = None) -> Dict[str, Any]:
    """Parse data of a user message as Rasa's NLU would produce it, with an
    `order_id` entity when the order number extractor would find one."""
    entities = []
    if order_id is not None:
        start = text.index(order_id)
        entities.append({
            "entity": "order_id", "start": start, "end": start + len(order_id),
            "value": order_id, "extractor": "OrderNumberExtractor",
        })
    return {
        "text": text,
        "intent": {"name": intent, "confidence": 0.99},
        "entities": entities,
        "intent_ranking": [{"name": intent, "confidence": 0.99}],
    }


def bot_message(text: str, buttons: Optional[List[Dict[str, str]]] = None) -> Dict[str, Any]:
    """A message as `CollectingDispatcher.utter_message(text=..., buttons=...)`
    records it, so that tests compare whole messages."""
    return {
        "text": text, "buttons": buttons or [], "elements": [], "custom": {},
        "template": None, "response": None, "image": None, "attachment": None,
    }
