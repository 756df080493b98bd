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


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    default_db = f"sqlite:///{PROJECT_ROOT / 'var' / 'shop.db'}"
    return Settings(
        database_url=os.environ.get("DATABASE_URL", default_db),
        return_window_days=int(os.environ.get("RETURN_WINDOW_DAYS", "30")),
    )
