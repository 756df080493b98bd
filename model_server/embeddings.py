"""Sentence embeddings (all-MiniLM-L6-v2 by default): mean pooling + L2 normalisation.

This is what sentence-transformers does for that model (modules: Transformer, Pooling(mean),
Normalize); doing it here avoids that package and its dependencies.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import List, Sequence

import torch

MAX_BATCH = 32  # inputs per forward pass; bounds memory for a 256-input request


class Embedder:
    def __init__(self, folder: Path):
        from transformers import AutoModel, AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(str(folder))
        self.model = AutoModel.from_pretrained(str(folder), dtype=torch.float32).eval()
        self.max_length = 256
        st_config = folder / "sentence_bert_config.json"
        if st_config.exists():
            self.max_length = json.loads(st_config.read_text()).get("max_seq_length", 256)
        self.dimensions = self.model.config.hidden_size

    def count_tokens(self, texts: Sequence[str]) -> int:
        return sum(len(ids) for ids in self.tokenizer(list(texts), truncation=True,
                                                      max_length=self.max_length)["input_ids"])

    @torch.inference_mode()
    def embed(self, texts: Sequence[str]) -> List[List[float]]:
        out: List[List[float]] = []
        for i in range(0, len(texts), MAX_BATCH):
            # Longer inputs are truncated to the model's trained length, as sentence-transformers does.
            batch = self.tokenizer(list(texts[i:i + MAX_BATCH]), padding=True, truncation=True,
                                   max_length=self.max_length, return_tensors="pt")
            hidden = self.model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            out.extend(torch.nn.functional.normalize(pooled, p=2, dim=1).tolist())
        return out
