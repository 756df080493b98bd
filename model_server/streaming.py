"""Turning a request's engine events into an answer: one JSON body, or server-sent events."""

from __future__ import annotations

import asyncio
import json
import time
from typing import NamedTuple, Optional

from .engine import GenerationRequest
from .errors import ApiError
from .events import Delta, Event, Failed, Finished
from .params import ChatParams


class Completion(NamedTuple):
    text: str
    finish_reason: str
    usage: dict


async def next_event(req: GenerationRequest) -> Event:
    # The engine always answers before the deadline passes (Finished/Failed); the margin only
    # guards against an engine bug turning into a hung client.
    timeout = max(1.0, req.deadline - time.monotonic() + 30)
    try:
        return await asyncio.wait_for(req.events.get(), timeout)
    except asyncio.TimeoutError:
        raise ApiError(504, "no answer from the generation engine", type_="server_error")


async def collect(req: GenerationRequest) -> Completion:
    """The whole answer, or the engine's failure as an ApiError."""
    parts = []
    while True:
        event = await next_event(req)
        if isinstance(event, Delta):
            parts.append(event.text)
        elif isinstance(event, Finished):
            return Completion("".join(parts), event.reason, event.usage)
        else:
            raise ApiError(event.status, event.message, type_="server_error"
                           if event.status >= 500 else "invalid_request_error")


class ChunkFormat:
    """``chat.completion.chunk`` events of one completion, as SSE ``data:`` lines."""

    def __init__(self, completion_id: str, created: int, model: str):
        self.completion_id, self.created, self.model = completion_id, created, model

    def chunk(self, delta: dict, finish_reason: Optional[str] = None,
              usage: Optional[dict] = None, choices: bool = True) -> str:
        body = {"id": self.completion_id, "object": "chat.completion.chunk",
                "created": self.created, "model": self.model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason,
                             "logprobs": None}] if choices else []}
        if usage is not None:
            body["usage"] = usage
        return f"data: {json.dumps(body)}\n\n"

    @staticmethod
    def error(status: int, message: str) -> str:
        return f"data: {json.dumps(ApiError(status, message, type_='server_error').body())}\n\n"


DONE = "data: [DONE]\n\n"


async def stream(response, req: GenerationRequest, params: ChatParams, fmt: ChunkFormat) -> None:
    """Send the answer as it is generated; after the headers, errors go into the stream."""
    await response.send(fmt.chunk({"role": "assistant", "content": ""}))
    while True:
        try:
            event = await next_event(req)
        except ApiError as exc:
            event = Failed(exc.status, exc.message)
        if isinstance(event, Delta):
            await response.send(fmt.chunk({"content": event.text}))
        elif isinstance(event, Finished):
            await response.send(fmt.chunk({}, finish_reason=event.reason))
            if params.include_usage:
                await response.send(fmt.chunk({}, usage=event.usage, choices=False))
            break
        else:  # headers are gone: report the error in the stream, OpenAI style
            await response.send(fmt.error(event.status, event.message))
            break
    await response.send(DONE)
