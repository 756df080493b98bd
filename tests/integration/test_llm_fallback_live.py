"""The LLM fallback action against the real model server and default model."""
import subprocess

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.config import get_settings
from actions.guards import NUMBER
from actions.knowledge_base import KnowledgeBase
from actions.fallback_services import FallbackServices
from actions.llm_fallback import ActionLLMFallback
from tests.support.stack import PROJECT_ROOT, base_env, free_port, wait_until_up

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def model_server(tmp_path_factory):
    port = free_port()
    log = open(tmp_path_factory.mktemp("model-server") / "model-server.log", "wb")
    process = subprocess.Popen(
        [str(PROJECT_ROOT / ".venv" / "llm" / "bin" / "python"), "-m", "model_server",
         "--host", "127.0.0.1", "--port", str(port)],
        cwd=PROJECT_ROOT, env=base_env(), stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        wait_until_up(f"http://127.0.0.1:{port}/health", 600, process)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture
async def services(model_server, monkeypatch, tmp_path):
    monkeypatch.setenv("MODEL_SERVER_URL", model_server)
    monkeypatch.setenv("KNOWLEDGE_INDEX_PATH", str(tmp_path / "index.json"))
    monkeypatch.setenv("LLM_DEADLINE_S", "60")  # a loaded CI machine is slow; the deadline has its own test
    get_settings.cache_clear()
    settings = get_settings()
    services = FallbackServices()
    # embed the knowledge base as the action server does in the background
    knowledge = KnowledgeBase.load(settings.knowledge_base_dir, settings.embedding_model, settings.knowledge_index_path)
    embedded = await knowledge.embedded_copy(services.client(settings), settings.knowledge_index_path, 120)
    assert embedded.embedded and settings.knowledge_index_path.exists()
    yield services
    await services.close()
    get_settings.cache_clear()


def tracker_for(text):
    return Tracker("live", {}, {"text": text, "intent": {"name": "nlu_fallback"}},
                   [{"event": "user", "text": text}], False, None, {}, "action_listen")


async def ask(text, services):
    dispatcher = CollectingDispatcher()
    await ActionLLMFallback(services).run(dispatcher, tracker_for(text), {})
    return dispatcher.messages[0]


@pytest.mark.parametrize(
    "question, key_fact, source",
    [
        ("Do your gift cards expire?", "never expire", "gift_cards.md"),
        ("How long is the warranty on your gear?", "2-year", "warranty_and_repairs.md"),
        ("If the price drops after I buy, do I get the difference back?", "14 days", "price_match_and_loyalty.md"),
    ],
)
async def test_knowledge_questions_are_answered_from_the_passages(services, question, key_fact, source):
    message = await ask(question, services)
    record = message["llm_fallback"]
    assert record["retrieval"] == "embeddings"
    assert record["kind"] == "knowledge"
    assert record["passages"][0]["source"] == source
    assert record["outcome"] in ("generated", "extractive")
    assert key_fact.lower() in message["text"].lower()


async def test_small_talk_gets_a_generated_reply_without_invented_numbers(services):
    message = await ask("how are you today?", services)
    record = message["llm_fallback"]
    assert record["outcome"] in ("generated", "guarded_empty")
    assert message["text"].strip()
    # whatever the model said, no number survives that isn't in the conversation
    assert not NUMBER.search(message["text"])
