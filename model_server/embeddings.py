"""Sentence embeddings (all-MiniLM-L6-v2 by default): mean pooling + L2 normalisation.

This is what sentence-transformers does for that model (modules: Transformer, Pooling(mean),
Normalize); doing it here avoids that package and its dependencies.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import List, NamedTuple, Sequence

import torch

from .errors import ApiError

MAX_BATCH = 32  # inputs per forward pass; bounds memory for a 256-input request


class Embeddings(NamedTuple):
    vectors: List[List[float]]  # unit length, one per input
    prompt_tokens: int  # tokens the model read (after truncation), for ``usage``


class Embedder:
    def __init__(self, folder: Path):
        from transformers import AutoModel, AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(str(folder))
        self.model = AutoModel.from_pretrained(str(folder), dtype=torch.float32).eval()
        self.max_length = 256
        st_config = folder / "sentence_bert_config.json"
        if st_config.exists():
            self.max_length = json.loads(st_config.read_text()).get("max_seq_length", 256)

    @torch.inference_mode()
    def embed(self, texts: Sequence[str]) -> Embeddings:
        """Tokenizes every input once: the same batch gives the vectors and the token count."""
        vectors: List[List[float]] = []
        tokens = 0
        for i in range(0, len(texts), MAX_BATCH):
            # Longer inputs are truncated to the model's trained length, as sentence-transformers does.
            batch = self.tokenizer(list(texts[i:i + MAX_BATCH]), padding=True, truncation=True,
                                   max_length=self.max_length, return_tensors="pt")
            tokens += int(batch["attention_mask"].sum())
            hidden = self.model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            vectors.extend(torch.nn.functional.normalize(pooled, p=2, dim=1).tolist())
        return Embeddings(vectors, tokens)


class EmbeddingQueue:
    """One embedding batch at a time, in a worker thread; 429 when ``max_waiting`` already wait.

    Create it on the server's event loop (it owns an ``asyncio.Lock``).
    """

    def __init__(self, embedder: Embedder, max_waiting: int):
        self.embedder = embedder
        self.max_waiting = max_waiting
        self.waiting = 0
        self._lock = asyncio.Lock()

    async def embed(self, texts: Sequence[str]) -> Embeddings:
        if self.waiting >= self.max_waiting:
            raise ApiError(429, "server busy: too many embedding requests waiting",
                           type_="rate_limit_error", code="queue_full",
                           headers={"Retry-After": "1"})
        self.waiting += 1
        try:
            async with self._lock:
                return await asyncio.get_running_loop().run_in_executor(
                    None, self.embedder.embed, texts)
        finally:
            self.waiting -= 1
