"""Request validation: one typed object per endpoint, checked before anything is queued.

Every client mistake becomes an :class:`ApiError` with an OpenAI-style body naming the field
(``{"error": {"message", "type", "param", "code"}}``), so a bad request is a 4xx, never a 500.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Optional

ROLES = ("system", "user", "assistant", "tool", "developer")
MAX_STOP_STRINGS = 4
MAX_STOP_CHARS = 64


class ApiError(Exception):
    """An error answered to the client as ``{"error": {...}}`` with an HTTP status."""

    def __init__(self, status: int, message: str, param: Optional[str] = None,
                 type_: str = "invalid_request_error", code: Optional[str] = None,
                 headers: Optional[dict] = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.type = type_
        self.code = code
        self.headers = headers or {}

    def body(self) -> dict:
        return {"error": {"message": self.message, "type": self.type,
                          "param": self.param, "code": self.code}}


def _bad(param: str, message: str, code: str = "invalid_value") -> ApiError:
    return ApiError(400, f"{param}: {message}", param=param, code=code)


def _number(body: dict, name: str, default: float, lo: float, hi: float,
            lo_open: bool = False) -> float:
    value = body.get(name)
    if value is None:
        return default
    # bool is an int subclass in Python; true/false is not a number in JSON.
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise _bad(name, "must be a number", "invalid_type")
    if value < lo or value > hi or (lo_open and value == lo):
        bracket = "(" if lo_open else "["
        raise _bad(name, f"must be in {bracket}{lo}, {hi}], got {value}")
    return float(value)


def _integer(body: dict, name: str, default: Optional[int], lo: int, hi: int) -> Optional[int]:
    value = body.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise _bad(name, "must be an integer", "invalid_type")
    if value < lo or value > hi:
        raise _bad(name, f"must be in [{lo}, {hi}], got {value}")
    return value


def _model(body: dict, served: str) -> str:
    model = body.get("model", served)
    if model is None:
        return served
    if not isinstance(model, str):
        raise _bad("model", "must be a string", "invalid_type")
    if model != served:
        raise ApiError(404, f"model: '{model}' does not exist; this server serves '{served}'",
                       param="model", code="model_not_found")
    return model


def _text_content(content: Any, where: str) -> str:
    """OpenAI allows a string or a list of parts; only text parts make sense here."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for i, part in enumerate(content):
            if not (isinstance(part, dict) and part.get("type") == "text"
                    and isinstance(part.get("text"), str)):
                raise _bad(f"{where}.content[{i}]", "only {type: text, text: str} parts are supported")
            texts.append(part["text"])
        return "".join(texts)
    raise _bad(f"{where}.content", "must be a string or a list of text parts", "invalid_type")


@dataclass(frozen=True)
class ChatParams:
    """A validated ``/v1/chat/completions`` request.

    ranges: max_tokens 1..max_tokens_cap; temperature 0..2 (0 = greedy); top_p (0, 1];
    stop: up to 4 non-empty strings of <= 64 chars; seed: any 64-bit integer; n: only 1;
    presence_penalty, frequency_penalty: -2..2, OpenAI's definition (subtracted from the logits of
    tokens already generated: once, and once per occurrence).
    """

    model: str
    messages: tuple  # of {"role", "content"} dicts with str content
    max_tokens: int
    temperature: float
    top_p: float
    stop: tuple
    seed: Optional[int]
    stream: bool
    include_usage: bool
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0

    @property
    def penalized(self) -> bool:
        return bool(self.presence_penalty or self.frequency_penalty)

    @property
    def greedy(self) -> bool:
        return self.temperature == 0.0

    @classmethod
    def parse(cls, body: Any, served_model: str, max_tokens_cap: int,
              default_max_tokens: int) -> "ChatParams":
        if not isinstance(body, dict):
            raise ApiError(400, "request body must be a JSON object", code="invalid_json")
        model = _model(body, served_model)

        messages = body.get("messages")
        if not isinstance(messages, list):
            raise _bad("messages", "must be a list of messages", "invalid_type")
        if not messages:
            raise _bad("messages", "must not be empty")
        clean = []
        for i, msg in enumerate(messages):
            where = f"messages[{i}]"
            if not isinstance(msg, dict):
                raise _bad(where, "must be an object", "invalid_type")
            role = msg.get("role")
            if role not in ROLES:
                raise _bad(f"{where}.role", f"must be one of {list(ROLES)}, got {role!r}")
            content = msg.get("content")
            if content is None and role == "assistant":
                content = ""
            clean.append({"role": "system" if role == "developer" else role,
                          "content": _text_content(content, where)})

        if "max_completion_tokens" in body and body.get("max_tokens") is None:
            max_tokens = _integer(body, "max_completion_tokens", default_max_tokens, 1,
                                  max_tokens_cap)
        else:
            max_tokens = _integer(body, "max_tokens", default_max_tokens, 1, max_tokens_cap)
        temperature = _number(body, "temperature", 1.0, 0.0, 2.0)
        top_p = _number(body, "top_p", 1.0, 0.0, 1.0, lo_open=True)
        seed = _integer(body, "seed", None, -(2**63), 2**63 - 1)
        n = _integer(body, "n", 1, 1, 1)
        assert n == 1
        presence_penalty = _number(body, "presence_penalty", 0.0, -2.0, 2.0)
        frequency_penalty = _number(body, "frequency_penalty", 0.0, -2.0, 2.0)

        stop = body.get("stop")
        if stop is None:
            stop = ()
        elif isinstance(stop, str):
            stop = (stop,)
        elif isinstance(stop, list) and all(isinstance(s, str) for s in stop):
            stop = tuple(stop)
        else:
            raise _bad("stop", "must be a string or a list of strings", "invalid_type")
        if len(stop) > MAX_STOP_STRINGS:
            raise _bad("stop", f"at most {MAX_STOP_STRINGS} stop strings")
        if any(not s or len(s) > MAX_STOP_CHARS for s in stop):
            raise _bad("stop", f"each stop string must have 1..{MAX_STOP_CHARS} characters")

        stream = body.get("stream", False)
        if stream is None:
            stream = False
        if not isinstance(stream, bool):
            raise _bad("stream", "must be a boolean", "invalid_type")
        options = body.get("stream_options") or {}
        if not isinstance(options, dict):
            raise _bad("stream_options", "must be an object", "invalid_type")
        include_usage = options.get("include_usage", False)
        if not isinstance(include_usage, bool):
            raise _bad("stream_options.include_usage", "must be a boolean", "invalid_type")

        return cls(model=model, messages=tuple(clean), max_tokens=max_tokens,
                   temperature=temperature, top_p=top_p, stop=stop, seed=seed,
                   stream=stream, include_usage=include_usage,
                   presence_penalty=presence_penalty, frequency_penalty=frequency_penalty)


@dataclass(frozen=True)
class EmbeddingParams:
    """A validated ``/v1/embeddings`` request: ``input`` is a string or 1..max_inputs strings."""

    model: str
    inputs: tuple
    encoding_format: str  # "float" or "base64" (little-endian float32; the openai client's default)

    @classmethod
    def parse(cls, body: Any, served_model: str, max_inputs: int) -> "EmbeddingParams":
        if not isinstance(body, dict):
            raise ApiError(400, "request body must be a JSON object", code="invalid_json")
        model = _model(body, served_model)
        raw = body.get("input")
        if isinstance(raw, str):
            inputs = (raw,)
        elif isinstance(raw, list) and raw and all(isinstance(s, str) for s in raw):
            inputs = tuple(raw)
        elif isinstance(raw, list) and not raw:
            raise _bad("input", "must not be empty")
        else:
            raise _bad("input", "must be a string or a list of strings", "invalid_type")
        if len(inputs) > max_inputs:
            raise _bad("input", f"at most {max_inputs} inputs per request")
        fmt = body.get("encoding_format") or "float"
        if fmt not in ("float", "base64"):
            raise _bad("encoding_format", "must be 'float' or 'base64'")
        return cls(model=model, inputs=inputs, encoding_format=fmt)
