"""Settings for the action server, read from the environment in one place.

Every value has a default in `defaults.env` (settings/defaults.py) that runs
on a plain machine: an SQLite file in `var/`, the model server on localhost.
Each field names its environment variable, so the defaults file can be
checked against this class (tests/unit/test_settings_defaults.py).
"""
from dataclasses import dataclass, field, fields
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Dict

from knowledge.documents import knowledge_base_dir
from knowledge.facts import return_window_days
from settings.defaults import PROJECT_ROOT, setting

ENVIRONMENT_VARIABLE = "environment_variable"  # field metadata key


def _from(variable: str):
    return field(metadata={ENVIRONMENT_VARIABLE: variable})


@dataclass(frozen=True)
class Settings:
    # SQLAlchemy URL of the order database, e.g.
    # postgresql+psycopg2://postgres@127.0.0.1:5432/pinecrest
    database_url: str = _from("DATABASE_URL")
    # days after delivery during which an item can be returned: the same
    # value the documents and replies state (knowledge/facts.py decides it)
    return_window_days: int = _from("RETURN_WINDOW_DAYS")
    # OpenAI-compatible model server (ours, or vLLM/TGI at scale)
    model_server_url: str = _from("MODEL_SERVER_URL")
    # where /embeddings goes: the model server unless the chat model's server
    # serves only that model (vLLM, TGI)
    embedding_server_url: str = _from("EMBEDDING_SERVER_URL")
    chat_model: str = _from("LLM_CHAT_MODEL")
    embedding_model: str = _from("LLM_EMBEDDING_MODEL")
    # the whole LLM fallback must answer within this many seconds; well below
    # Rasa's lock lifetime (60 s), so a stuck model never blocks a conversation
    llm_deadline_s: float = _from("LLM_DEADLINE_S")
    # embeddings are on the path of every fallback: keep their wait short
    embedding_timeout_s: float = _from("LLM_EMBEDDING_TIMEOUT_S")
    llm_max_tokens: int = _from("LLM_MAX_TOKENS")
    # the shop's documents and facts the fallback answers from
    knowledge_base_dir: Path = _from("KNOWLEDGE_BASE_DIR")
    # where the embedded knowledge base is cached between restarts
    knowledge_index_path: Path = _from("KNOWLEDGE_INDEX_PATH")
    # Redis URL (redis://host:6379/3) that counts failed verifications of an
    # order across action servers; empty: counted in this process's memory
    verification_redis_url: str = _from("VERIFICATION_REDIS_URL")
    # a secret marker for red-team runs (benchmarks/redteam): when set, it is put
    # in the system prompt, and any reply that contains it leaked the prompt
    llm_canary: str = _from("LLM_CANARY")


# how a field's text becomes its value, where its type alone does not say
READERS: Dict[str, Callable[[], Any]] = {
    "return_window_days": return_window_days,  # validated where the facts use it
    "knowledge_base_dir": knowledge_base_dir,
    "model_server_url": lambda: setting("MODEL_SERVER_URL").rstrip("/"),
    "embedding_server_url": lambda: (
        setting("EMBEDDING_SERVER_URL") or setting("MODEL_SERVER_URL")
    ).rstrip("/"),
    "knowledge_index_path": lambda: PROJECT_ROOT / setting("KNOWLEDGE_INDEX_PATH"),
}


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    values = {}
    for spec in fields(Settings):
        reader = READERS.get(spec.name)
        values[spec.name] = reader() if reader else spec.type(setting(spec.metadata[ENVIRONMENT_VARIABLE]))
    return Settings(**values)
