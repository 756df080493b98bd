"""Settings for the action server, read from the environment in one place.

Every value has a default that runs on a plain machine: an SQLite file in
`var/`, the model server on localhost.
"""
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Settings:
    # SQLAlchemy URL of the order database, e.g.
    # postgresql+psycopg2://postgres@127.0.0.1:5432/pinecrest
    database_url: str
    # days after delivery during which an item can be returned
    return_window_days: int
    # OpenAI-compatible model server (ours, or vLLM/TGI at scale)
    model_server_url: str
    chat_model: str
    embedding_model: str
    # the whole LLM fallback must answer within this many seconds; well below
    # Rasa's lock lifetime (60 s), so a stuck model never blocks a conversation
    llm_deadline_s: float
    # embeddings are on the path of every fallback: keep their wait short
    embedding_timeout_s: float
    llm_max_tokens: int
    # the shop's documents the fallback answers from
    knowledge_base_dir: Path
    # where the embedded knowledge base is cached between restarts
    knowledge_index_path: Path
    # Redis URL (redis://host:6379/3) that counts failed verifications of an
    # order across action servers; empty: counted in this process's memory
    verification_redis_url: str
    # a secret marker for red-team runs (benchmarks/redteam): when set, it is put
    # in the system prompt, and any reply that contains it leaked the prompt
    llm_canary: str = ""


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    default_db = f"sqlite:///{PROJECT_ROOT / 'var' / 'shop.db'}"
    return Settings(
        database_url=os.environ.get("DATABASE_URL", default_db),
        return_window_days=int(os.environ.get("RETURN_WINDOW_DAYS", "30")),
        model_server_url=os.environ.get("MODEL_SERVER_URL", "http://127.0.0.1:8000/v1").rstrip("/"),
        chat_model=os.environ.get("LLM_CHAT_MODEL", "smollm2-135m-instruct"),
        embedding_model=os.environ.get("LLM_EMBEDDING_MODEL", "all-minilm-l6-v2"),
        llm_deadline_s=float(os.environ.get("LLM_DEADLINE_S", "12")),
        embedding_timeout_s=float(os.environ.get("LLM_EMBEDDING_TIMEOUT_S", "2")),
        llm_max_tokens=int(os.environ.get("LLM_MAX_TOKENS", "80")),
        knowledge_base_dir=Path(os.environ.get("KNOWLEDGE_BASE_DIR", PROJECT_ROOT / "knowledge_base")),
        knowledge_index_path=Path(
            os.environ.get("KNOWLEDGE_INDEX_PATH", PROJECT_ROOT / "var" / "knowledge_index.json")
        ),
        verification_redis_url=os.environ.get("VERIFICATION_REDIS_URL", ""),
        llm_canary=os.environ.get("LLM_CANARY", ""),
    )
