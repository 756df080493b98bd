"""A Llama-family decoder written for batched serving, readable in one sitting.

Why not ``transformers``' own forward? For a 135M, 30-layer model the per-step cost is dominated by
Python/PyTorch operator overhead (~5,800 operator calls per HF step at batch 1) and by growing the
KV cache with ``torch.cat``. This file does the same math with ~20 operators per layer:

* q/k/v and gate/up projections are fused into one matrix product each;
* the KV cache is a preallocated tensor per layer indexed by *slot*: sequence ``i`` of the running
  batch lives in slot ``i``, so a decode step writes one position per row (``index_copy_``) and reads
  a view ``cache[:B, :L]`` -- no concatenation;
* every row has its own position and its own attention mask, so sequences of different lengths
  decode together and a sequence can join or leave between any two steps.

Weights come from a Hugging Face state dict (``model.layers.N.self_attn.q_proj.weight`` ...), so any
Llama / Mistral / Qwen2-style checkpoint works; ``load_reference_check`` in the tests compares the
logits with ``transformers``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional

import torch
import torch.nn.functional as F

SUPPORTED_MODEL_TYPES = ("llama", "mistral", "qwen2")


@dataclass(frozen=True)
class LlamaShape:
    n_layers: int
    hidden: int
    n_heads: int
    n_kv_heads: int
    head_dim: int
    intermediate: int
    vocab: int
    rope_theta: float
    rms_eps: float
    qkv_bias: bool
    tie_embeddings: bool

    @classmethod
    def from_hf_config(cls, cfg: dict) -> "LlamaShape":
        model_type = cfg.get("model_type")
        if model_type not in SUPPORTED_MODEL_TYPES:
            raise ValueError(f"unsupported chat model type {model_type!r}; "
                             f"supported: {SUPPORTED_MODEL_TYPES}")
        rope = cfg.get("rope_parameters") or cfg.get("rope_scaling") or {}
        if rope.get("rope_type", rope.get("type", "default")) not in ("default", None):
            raise ValueError(f"unsupported RoPE scaling {rope!r}")
        n_heads = cfg["num_attention_heads"]
        return cls(
            n_layers=cfg["num_hidden_layers"],
            hidden=cfg["hidden_size"],
            n_heads=n_heads,
            n_kv_heads=cfg.get("num_key_value_heads") or n_heads,
            head_dim=cfg.get("head_dim") or cfg["hidden_size"] // n_heads,
            intermediate=cfg["intermediate_size"],
            vocab=cfg["vocab_size"],
            rope_theta=float(rope.get("rope_theta", cfg.get("rope_theta", 10000.0))),
            rms_eps=float(cfg.get("rms_norm_eps", 1e-6)),
            qkv_bias=model_type == "qwen2" or bool(cfg.get("attention_bias", False)),
            tie_embeddings=bool(cfg.get("tie_word_embeddings", False)),
        )


class Int8Linear:
    """Weight-only int8 with one scale per output channel; activations stay in bf16.

    Halves weight memory against bf16. On CPU it is *slower* than bf16 (the weight is dequantized
    every call), so it is a memory option, not a speed one.
    """

    def __init__(self, weight: torch.Tensor):
        w = weight.float()
        self.scale = (w.abs().amax(dim=1, keepdim=True) / 127.0).clamp(min=1e-8)
        self.q = torch.round(w / self.scale).to(torch.int8)
        self.scale = self.scale.to(torch.bfloat16)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.q.to(x.dtype) * self.scale)


class KVCache:
    """Keys and values for ``n_slots`` sequences: ``[layers, slots, kv_heads, capacity, head_dim]``.

    For one (slot, head) the keys are a contiguous ``[capacity, head_dim]`` block, so attention
    multiplies ``cache[:B, :, :L]`` in place (a view, no gather). A step writes its new rows with
    one ``index_copy_`` (advanced-index assignment was ~40x slower here).

    Capacity grows by doubling (rarely: a copy of the used part), so memory follows the longest
    sequence actually served instead of the configured maximum.
    """

    def __init__(self, shape: LlamaShape, n_slots: int, max_len: int, dtype: torch.dtype,
                 initial: int = 256):
        self.shape, self.n_slots, self.max_len, self.dtype = shape, n_slots, max_len, dtype
        self.capacity = 0
        self.k = self.v = None
        self.ensure(min(initial, max_len))

    def ensure(self, length: int) -> None:
        if length <= self.capacity:
            return
        new_cap = min(self.max_len, max(length, 2 * self.capacity))
        s = self.shape
        dims = (s.n_layers, self.n_slots, s.n_kv_heads, new_cap, s.head_dim)
        # zeros, not empty: masked positions are still multiplied by 0 and 0 * NaN = NaN.
        k, v = torch.zeros(dims, dtype=self.dtype), torch.zeros(dims, dtype=self.dtype)
        if self.capacity:
            k[:, :, :, : self.capacity].copy_(self.k)
            v[:, :, :, : self.capacity].copy_(self.v)
        self.k, self.v, self.capacity = k, v, new_cap

    def move(self, src: int, dst: int, length: int) -> None:
        """Copy slot ``src`` into slot ``dst`` (used to keep the running batch in slots 0..B-1)."""
        self.k[:, dst, :, :length].copy_(self.k[:, src, :, :length])
        self.v[:, dst, :, :length].copy_(self.v[:, src, :, :length])

    def read_prefix(self, slot: int, length: int):
        return (self.k[:, slot, :, :length].clone(), self.v[:, slot, :, :length].clone())

    def write_prefix(self, slot: int, prefix) -> None:
        k, v = prefix
        self.k[:, slot, :, : k.shape[2]].copy_(k)
        self.v[:, slot, :, : v.shape[2]].copy_(v)


class Llama:
    """The decoder. Holds weights only; all per-sequence state is in :class:`KVCache`."""

    def __init__(self, shape: LlamaShape, state: Dict[str, torch.Tensor], dtype: str = "fp32"):
        self.shape = shape
        # int8 keeps activations in bf16; fp32 is the reference precision.
        self.dtype = torch.float32 if dtype == "fp32" else torch.bfloat16
        self.cache_dtype = torch.float32  # see forward(): attention runs in fp32
        s = shape

        def w(name):
            return state[name].to(self.dtype).contiguous()

        def linear(weight):
            return Int8Linear(weight) if dtype == "int8" else weight

        self.embed = w("model.embed_tokens.weight")
        lm_head = self.embed if s.tie_embeddings or "lm_head.weight" not in state else w("lm_head.weight")
        self.lm_head = linear(lm_head)
        self.final_norm = w("model.norm.weight")
        self.layers = []
        for i in range(s.n_layers):
            p = f"model.layers.{i}."
            qkv = torch.cat([w(p + "self_attn.q_proj.weight"), w(p + "self_attn.k_proj.weight"),
                             w(p + "self_attn.v_proj.weight")])
            bias = None
            if s.qkv_bias:
                bias = torch.cat([w(p + "self_attn.q_proj.bias"), w(p + "self_attn.k_proj.bias"),
                                  w(p + "self_attn.v_proj.bias")])
            gate_up = torch.cat([w(p + "mlp.gate_proj.weight"), w(p + "mlp.up_proj.weight")])
            self.layers.append(dict(
                attn_norm=w(p + "input_layernorm.weight"),
                qkv=linear(qkv.contiguous()), qkv_bias=bias,
                o=linear(w(p + "self_attn.o_proj.weight")),
                mlp_norm=w(p + "post_attention_layernorm.weight"),
                gate_up=linear(gate_up.contiguous()),
                down=linear(w(p + "mlp.down_proj.weight")),
            ))
        # RoPE tables for every position up to a generous maximum, computed once in fp32.
        inv_freq = 1.0 / (s.rope_theta ** (torch.arange(0, s.head_dim, 2, dtype=torch.float32) / s.head_dim))
        self._inv_freq = inv_freq
        self._rope_len = 0
        self._cos = self._sin = None

    # -- helpers -------------------------------------------------------------------------------
    def _rope_tables(self, length: int):
        if length > self._rope_len:
            n = max(length, 2 * self._rope_len, 1024)
            freqs = torch.outer(torch.arange(n, dtype=torch.float32), self._inv_freq)
            emb = torch.cat([freqs, freqs], dim=-1)
            self._cos, self._sin = emb.cos(), emb.sin()
            self._rope_len = n
        return self._cos, self._sin

    def _rms_norm(self, x, weight):
        # x is the fp32 residual stream; the result feeds a matrix product in the weights' dtype.
        x = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.shape.rms_eps)
        return weight * x.to(self.dtype)

    @staticmethod
    def _linear(x, weight, bias=None):
        if isinstance(weight, Int8Linear):
            y = weight(x)
            return y if bias is None else y + bias
        return F.linear(x, weight, bias)

    # -- forward ---------------------------------------------------------------------------------
    @torch.inference_mode()
    def forward(self, tokens: torch.Tensor, positions: torch.Tensor, cache: KVCache,
                slot_start: int, kv_len: int, last_index: Optional[torch.Tensor] = None
                ) -> torch.Tensor:
        """Run ``tokens`` ``[B, T]`` of the sequences in slots ``slot_start .. slot_start+B-1``.

        ``positions`` ``[B, T]``: absolute position of every token (row ``b`` starts where its
        sequence currently ends, so rows may differ). Keys/values are written into the cache at
        those positions; each query attends to cache positions ``<= its own position`` of its own
        row, up to ``kv_len`` (the longest row after this call). Returns fp32 logits ``[B, V]`` of
        the token at ``last_index[b]`` of each row (default: the last column).
        """
        s = self.shape
        B, T = tokens.shape
        group = s.n_heads // s.n_kv_heads  # query heads per key/value head (GQA)

        cos_t, sin_t = self._rope_tables(int(positions.max()) + 1)
        cos = cos_t[positions].unsqueeze(2)  # [B, T, 1, hd] broadcast over heads
        sin = sin_t[positions].unsqueeze(2)
        half = s.head_dim // 2

        def rope(x):  # x [B, T, heads, hd]; "rotate half" layout, as in HF checkpoints
            x1, x2 = x[..., :half], x[..., half:]
            return x * cos + torch.cat([-x2, x1], dim=-1) * sin

        # Each query sees its row's keys at positions <= its own: one additive mask for all
        # layers, shaped to broadcast over [B, kv_heads, group, T, L].
        key_pos = torch.arange(kv_len)
        allowed = key_pos.view(1, 1, 1, 1, kv_len) <= positions.view(B, 1, 1, T, 1)
        bias = torch.zeros(allowed.shape, dtype=torch.float32).masked_fill_(~allowed, float("-inf"))
        # Row of the flattened cache ([slots * kv_heads * capacity, hd]) that each new
        # (token, kv head) goes to, in the order of k.reshape(B * T * kv_heads, hd).
        slot_head = (torch.arange(slot_start, slot_start + B).view(B, 1, 1) * s.n_kv_heads
                     + torch.arange(s.n_kv_heads).view(1, 1, -1))
        dest = (slot_head * cache.capacity + positions.view(B, T, 1)).reshape(-1)
        scale = s.head_dim ** -0.5

        q_size = s.n_heads * s.head_dim
        kv_size = s.n_kv_heads * s.head_dim
        # Only the weight matrix products run in bf16. The residual stream, RoPE, the KV cache and
        # attention stay in fp32: rounding them to bf16 made answers depend on the batch they were
        # computed in (the attention sums run over the batch's longest row; near-ties flipped).
        x = self.embed[tokens].float()  # [B, T, hidden]
        for layer_idx, layer in enumerate(self.layers):
            h = self._rms_norm(x, layer["attn_norm"])
            qkv = self._linear(h, layer["qkv"], layer["qkv_bias"]).float()
            q, k, v = qkv.split([q_size, kv_size, kv_size], dim=-1)
            q = rope(q.view(B, T, s.n_heads, s.head_dim))
            k = rope(k.view(B, T, s.n_kv_heads, s.head_dim))
            # Write this step's keys/values into each row's slot at each row's positions.
            k_cache = cache.k[layer_idx]  # [slots, kv_heads, capacity, hd]
            v_cache = cache.v[layer_idx]
            k_cache.view(-1, s.head_dim).index_copy_(0, dest, k.reshape(-1, s.head_dim))
            v_cache.view(-1, s.head_dim).index_copy_(0, dest, v.reshape(-1, s.head_dim))
            keys = k_cache[slot_start:slot_start + B, :, :kv_len].transpose(2, 3)  # [B,kvh,hd,L]
            values = v_cache[slot_start:slot_start + B, :, :kv_len]  # [B,kvh,L,hd]
            # Attention written out: torch's fused CPU kernel was ~50x slower for one query
            # token with a mask. Query heads are grouped by the key/value head they share.
            qg = q.view(B, T, s.n_kv_heads, group, s.head_dim).permute(0, 2, 3, 1, 4)
            scores = torch.matmul(qg.reshape(B, s.n_kv_heads, group * T, s.head_dim), keys)
            scores = scores.view(B, s.n_kv_heads, group, T, kv_len).float() * scale + bias
            probs = torch.softmax(scores, dim=-1)
            attn = torch.matmul(probs.view(B, s.n_kv_heads, group * T, kv_len), values)
            attn = attn.view(B, s.n_kv_heads, group, T, s.head_dim).permute(0, 3, 1, 2, 4)
            x = x + self._linear(attn.reshape(B, T, q_size).to(self.dtype), layer["o"])
            h = self._rms_norm(x, layer["mlp_norm"])
            gate, up = self._linear(h, layer["gate_up"]).chunk(2, dim=-1)
            x = x + self._linear(F.silu(gate) * up, layer["down"])

        # Only the token that predicts the next one needs the (large) vocabulary projection.
        if last_index is None:
            x = x[:, -1]
        else:
            x = x[torch.arange(B), last_index]
        x = self._rms_norm(x, self.final_norm)
        return self._linear(x, self.lm_head).float()
