"""Retrieval from the shop's knowledge base: its passages (read, split and
filled with the shop's facts by knowledge/documents.py), embedded with the
model server and searched by cosine similarity.

The embedded index is cached on disk under a fingerprint of the rendered
documents and the embedding model, so it is rebuilt only when a document or
a fact changes. When the model server is unreachable, search falls back to
word overlap, so answers stay grounded even then.
"""
import json
import logging
import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from actions.model_client import ModelClient, ModelServerError
from knowledge import documents
from knowledge.documents import Passage, load_passages
from knowledge.facts import load_facts
from knowledge.text import words

logger = logging.getLogger(__name__)

EMBEDDING_BATCH = 64  # texts per /embeddings request (servers cap the batch)


@dataclass(frozen=True)
class Hit:
    passage: Passage
    score: float
    # the passage's sentences, most relevant to the query first, and their scores
    ranked_sentences: Tuple[str, ...]
    sentence_scores: Tuple[float, ...] = ()


class LexicalIndex:
    """Word-overlap scoring with idf weights: the fallback when embeddings
    are not available."""

    def __init__(self, texts: Sequence[str]) -> None:
        self._docs = [Counter(words(t)) for t in texts]
        frequency = Counter(w for doc in self._docs for w in doc)
        self._idf = {w: math.log(1 + len(texts) / n) for w, n in frequency.items()}

    def scores(self, query: str) -> np.ndarray:
        terms = set(words(query))
        # words the documents never use weigh most: "joke" makes a query unlike them all
        unseen = math.log(1 + 2 * len(self._docs))
        norm = sum(self._idf.get(w, unseen) for w in terms) or 1.0
        return np.array(
            [sum(self._idf.get(w, 0.0) for w in terms if w in doc) / norm for doc in self._docs]
        )


def _normalise(vectors: List[List[float]]) -> np.ndarray:
    matrix = np.asarray(vectors, dtype=np.float32)
    return matrix / np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-9)


class KnowledgeBase:
    def __init__(
        self,
        passages: List[Passage],
        fingerprint: str,
        passage_vectors: Optional[np.ndarray] = None,
        sentence_vectors: Optional[Dict[str, np.ndarray]] = None,
    ) -> None:
        self.passages = passages
        self.fingerprint = fingerprint
        self._passage_vectors = passage_vectors
        self._sentence_vectors = sentence_vectors or {}
        self._lexical = LexicalIndex([f"{p.title} {p.text}" for p in passages])

    @property
    def embedded(self) -> bool:
        return self._passage_vectors is not None

    @classmethod
    def load(cls, directory: Path, embedding_model: str, cache_path: Path) -> "KnowledgeBase":
        """The documents, with their embeddings when the disk cache is current
        (no network: safe on the request path)."""
        facts = load_facts(directory)
        passages = load_passages(directory, facts)
        fingerprint = documents.fingerprint(directory, facts, embedding_model)
        cached = cls._read_cache(cache_path, fingerprint)
        if cached is None:
            return cls(passages, fingerprint)
        return cls(passages, fingerprint, *cached)

    async def embedded_copy(self, client: ModelClient, cache_path: Path, timeout_s: float) -> "KnowledgeBase":
        """Embeds every passage and sentence with the model server and caches
        the result on disk. Raises ModelServerError when the server fails."""
        sentences = sorted({s for p in self.passages for s in p.sentences})
        texts = [f"{p.title}. {p.text}" for p in self.passages] + sentences
        vectors: List[List[float]] = []
        for start in range(0, len(texts), EMBEDDING_BATCH):
            vectors += await client.embed(texts[start:start + EMBEDDING_BATCH], timeout_s)
        passage_vectors = _normalise(vectors[: len(self.passages)])
        sentence_vectors = dict(zip(sentences, _normalise(vectors[len(self.passages):])))
        self._write_cache(cache_path, self.fingerprint, passage_vectors, sentence_vectors)
        logger.info("embedded %d passages and %d sentences", len(self.passages), len(sentences))
        return KnowledgeBase(self.passages, self.fingerprint, passage_vectors, sentence_vectors)

    @staticmethod
    def _read_cache(path: Path, fingerprint: str):
        try:
            cached = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        if cached.get("fingerprint") != fingerprint:
            return None
        sentence_vectors = {s: np.asarray(v, dtype=np.float32) for s, v in cached["sentences"].items()}
        return np.asarray(cached["passages"], dtype=np.float32), sentence_vectors

    @staticmethod
    def _write_cache(path: Path, fingerprint: str, passages: np.ndarray, sentences: Dict) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        temporary.write_text(
            json.dumps(
                {
                    "fingerprint": fingerprint,
                    "passages": passages.round(5).tolist(),
                    "sentences": {s: v.round(5).tolist() for s, v in sentences.items()},
                }
            )
        )
        temporary.replace(path)  # atomic: several action servers may share var/

    async def search(
        self, query: str, client: ModelClient, timeout_s: float, top_k: int = 5
    ) -> Tuple[List[Hit], str]:
        """The best passages for the query and how they were found
        ("embeddings" or "words")."""
        query_vector = None
        if self.embedded:
            try:
                query_vector = _normalise(await client.embed([query], timeout_s))[0]
            except ModelServerError as error:
                logger.warning("query not embedded, using word overlap: %s", error)

        if query_vector is not None:
            scores, method = self._passage_vectors @ query_vector, "embeddings"
        else:
            scores, method = self._lexical.scores(query), "words"

        hits = []
        for index in np.argsort(-scores)[:top_k]:
            passage = self.passages[index]
            hits.append(Hit(passage, float(scores[index]), *self._rank_sentences(passage, query, query_vector)))
        return hits, method

    def _rank_sentences(self, passage: Passage, query: str, query_vector) -> Tuple[Tuple[str, ...], Tuple[float, ...]]:
        if query_vector is not None and all(s in self._sentence_vectors for s in passage.sentences):
            scores = [float(self._sentence_vectors[s] @ query_vector) for s in passage.sentences]
        else:
            scores = list(LexicalIndex(passage.sentences).scores(query)) if passage.sentences else []
        order = sorted(range(len(passage.sentences)), key=lambda i: -scores[i])
        return tuple(passage.sentences[i] for i in order), tuple(float(scores[i]) for i in order)


async def _build_index() -> None:
    from actions.config import get_settings

    settings = get_settings()
    client = ModelClient(
        settings.model_server_url, settings.chat_model, settings.embedding_model,
        settings.embedding_server_url,
    )
    knowledge = KnowledgeBase.load(settings.knowledge_base_dir, settings.embedding_model, settings.knowledge_index_path)
    if knowledge.embedded:
        print(f"knowledge index is current: {settings.knowledge_index_path}")
        return
    await knowledge.embedded_copy(client, settings.knowledge_index_path, timeout_s=60)
    await client.close()
    print(f"knowledge index written: {settings.knowledge_index_path} ({len(knowledge.passages)} passages)")


if __name__ == "__main__":
    # `python -m actions.knowledge_base`: embed the documents ahead of time
    import asyncio

    asyncio.run(_build_index())
