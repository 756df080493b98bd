"""One real stack (action server + Rasa server with the trained model) for
all integration tests of a session, on its own seeded SQLite database."""
import json
import tarfile
from pathlib import Path
from typing import Dict, List

import pytest
import yaml

from actions.orders_db import OrderRepository
from tests.conftest import PROJECT_ROOT
from tests.support.stack import MODEL_PATH, Stack, base_env

# nothing listens on the discard port: the LLM fallback answers with its
# "model unavailable" reply at once, whatever runs on this machine
UNREACHABLE_MODEL_SERVER = "http://127.0.0.1:9/v1"


def check_model(model: Path) -> None:
    """Fails early, with what to do, when the model is missing or was
    trained before a component in config.yml was added."""
    if not model.exists():
        pytest.fail(f"{model} is missing: train it with scripts/train.sh")
    with tarfile.open(model, "r:gz") as archive:
        member = next(m for m in archive.getmembers() if m.name.lstrip("/") == "metadata.json")
        metadata = json.load(archive.extractfile(member))
    trained = " ".join(metadata["predict_schema"]["nodes"])
    config = yaml.safe_load((PROJECT_ROOT / "config.yml").read_text())
    missing = [c["name"] for c in config["pipeline"] if c["name"] not in trained]
    if missing:
        pytest.fail(f"{model} was trained without {missing}: retrain with scripts/train.sh")


@pytest.fixture(scope="session")
def stack_database(tmp_path_factory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('stack-db')}/shop.db"
    OrderRepository.from_url(url).create_schema_and_seed()
    return url


@pytest.fixture(scope="session")
def stack(tmp_path_factory, stack_database) -> Stack:
    check_model(MODEL_PATH)
    workdir = tmp_path_factory.mktemp("stack")
    env = base_env(
        DATABASE_URL=stack_database,
        RETURN_WINDOW_DAYS="30",
        MODEL_SERVER_URL=UNREACHABLE_MODEL_SERVER,
        KNOWLEDGE_INDEX_PATH=str(workdir / "knowledge_index.json"),
    )
    with Stack(workdir, env=env) as running:
        yield running


@pytest.fixture
def shop_db(stack_database) -> OrderRepository:
    """The stack's order database, to check what the conversation changed."""
    return OrderRepository.from_url(stack_database)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    # a failing conversation shows what the servers logged
    outcome = yield
    report = outcome.get_result()
    stack = item.funcargs.get("stack") if hasattr(item, "funcargs") else None
    if report.when == "call" and report.failed and stack is not None:
        report.sections.append(("servers' logs", stack.logs()))


def bot(sender: str, text: str, **extra) -> Dict:
    """One bot message as the REST channel returns it."""
    return {"recipient_id": sender, "text": text, **extra}


def replies(messages: List[Dict]) -> List[str]:
    return [message.get("text") for message in messages]
