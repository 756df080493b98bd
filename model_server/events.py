"""What the engine sends to a request's ``asyncio.Queue``: text, then one end (finished or failed)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union


@dataclass(frozen=True)
class Delta:
    """New text, safe to show (never part of a stop string)."""

    text: str


@dataclass(frozen=True)
class Finished:
    """The answer is complete: ``reason`` is "stop" (eos / stop string) or "length"."""

    reason: str
    usage: dict  # prompt_tokens, completion_tokens, total_tokens


@dataclass(frozen=True)
class Failed:
    """The request ended without an answer (deadline exceeded, engine failure, shutdown)."""

    status: int  # the HTTP status to answer with
    message: str


Event = Union[Delta, Finished, Failed]
