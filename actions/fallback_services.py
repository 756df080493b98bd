"""The LLM fallback's services: the model client and the knowledge base,
built once per action server process on first use (not at import)."""
import asyncio
import logging
import time
from pathlib import Path
from typing import ClassVar, Optional, Tuple

from actions.config import Settings
from actions.knowledge_base import KnowledgeBase
from actions.model_client import ModelClient, ModelServerError
from knowledge.documents import files_signature

logger = logging.getLogger(__name__)


class FallbackServices:
    """The model client and the knowledge base, built once per process on
    first use (not at import). The knowledge base answers at once from the
    disk cache or by word overlap; embedding it runs in the background, again
    whenever a document changes, and is retried at most every RETRY_S. An
    index another process writes meanwhile (scripts/run_assistant.sh builds
    one when the model server is up) is picked up on the next turn."""

    RETRY_S = 30.0
    _shared: ClassVar[Optional["FallbackServices"]] = None

    @classmethod
    def shared(cls) -> "FallbackServices":
        """The process's services: the action server builds the action
        without arguments."""
        if cls._shared is None:
            cls._shared = cls()
        return cls._shared

    def __init__(self) -> None:
        self._client: Optional[ModelClient] = None
        self._knowledge: Optional[KnowledgeBase] = None
        self._documents_signature: Optional[tuple] = None
        self._index_signature: Optional[tuple] = None
        self._embedding: Optional[asyncio.Task] = None
        self._last_attempt = -float("inf")

    def client(self, settings: Settings) -> ModelClient:
        if self._client is None or (self._client.base_url, self._client.embedding_url) != (
            settings.model_server_url, settings.embedding_server_url
        ):
            self._client = ModelClient(
                settings.model_server_url, settings.chat_model, settings.embedding_model,
                settings.embedding_server_url,
            )
        return self._client

    def knowledge_base(self, settings: Settings) -> KnowledgeBase:
        # a stat() per file on each turn, not a read: this runs on the event loop
        documents = (settings.embedding_model, files_signature(settings.knowledge_base_dir))
        index = _file_signature(settings.knowledge_index_path)
        if (
            self._knowledge is None
            or documents != self._documents_signature
            # an index written by another process (`python -m actions.knowledge_base`
            # at start-up, another action server)
            or (not self._knowledge.embedded and index != self._index_signature)
        ):
            self._knowledge = KnowledgeBase.load(
                settings.knowledge_base_dir, settings.embedding_model, settings.knowledge_index_path
            )
            self._documents_signature, self._index_signature = documents, index
        idle = self._embedding is None or self._embedding.done()
        if not self._knowledge.embedded and idle and time.monotonic() - self._last_attempt > self.RETRY_S:
            self._last_attempt = time.monotonic()
            self._embedding = asyncio.create_task(self._embed(self._knowledge, settings))
        return self._knowledge

    async def close(self) -> None:
        if self._embedding is not None and not self._embedding.done():
            self._embedding.cancel()
        if self._client is not None:
            await self._client.close()

    async def _embed(self, knowledge: KnowledgeBase, settings: Settings) -> None:
        try:
            embedded = await knowledge.embedded_copy(
                self.client(settings), settings.knowledge_index_path, settings.embedding_timeout_s * 10
            )
        except ModelServerError as error:
            logger.warning("knowledge base not embedded yet (word overlap meanwhile): %s", error)
            return
        if self._knowledge is knowledge:
            self._knowledge = embedded


def _file_signature(path: Path) -> Optional[Tuple[int, int]]:
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_size, stat.st_mtime_ns
