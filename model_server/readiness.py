"""Readiness: are the models loaded? ``/health`` and every model route ask here."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Optional, Tuple

from .embeddings import EmbeddingQueue
from .engine import Engine
from .errors import ApiError
from .prompts import PromptBuilder


@dataclass
class Models:
    """What the model routes need, once loading is done."""

    engine: Engine
    prompts: PromptBuilder
    embeddings: EmbeddingQueue


class Readiness:
    """loading -> ready (``set_ready``) or failed (``set_failed``); written by the loader thread."""

    def __init__(self) -> None:
        self._models: Optional[Models] = None
        self._ready = threading.Event()
        self.load_error: Optional[str] = None

    def set_ready(self, models: Models) -> None:
        self._models = models
        self._ready.set()

    def set_failed(self, error: str) -> None:
        self.load_error = error

    @property
    def models(self) -> Optional[Models]:
        """The loaded models, or None while loading (for shutdown, which must not raise)."""
        return self._models if self._ready.is_set() else None

    def require_ready(self) -> Models:
        if self.load_error:
            raise ApiError(503, f"models failed to load: {self.load_error}", type_="server_error",
                           code="load_failed")
        if not self._ready.is_set():
            raise ApiError(503, "models are still loading", type_="server_error", code="loading",
                           headers={"Retry-After": "5"})
        return self._models

    def health(self) -> Tuple[dict, int]:
        """``/health``'s body and status: 503 until the models are loaded and the engine runs."""
        if self.load_error:
            return {"status": "error", "detail": self.load_error}, 503
        if not self._ready.is_set():
            return {"status": "loading"}, 503
        if not self._models.engine.alive:
            return {"status": "error", "detail": "engine stopped"}, 503
        return {"status": "ok"}, 200
