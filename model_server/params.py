"""Request validation: one pydantic model per endpoint, checked before anything is queued.

``ChatCompletionRequest`` / ``EmbeddingRequest`` declare the wire format (types, ranges, this
server's limits, passed as validation context); ``ChatParams`` / ``EmbeddingParams`` are what the
rest of the server uses, with defaults applied. Every client mistake becomes an :class:`ApiError`
with an OpenAI-style body naming the field (``{"error": {"message", "type", "param", "code"}}``),
so a bad request is a 4xx, never a 500. JSON ``null`` means "not given" for optional fields.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, List, Literal, Optional, Type

from pydantic import (AfterValidator, AllowInfNan, BaseModel, BeforeValidator, ConfigDict,
                      PlainValidator, StrictBool, StrictFloat, StrictInt, StrictStr,
                      ValidationError, ValidationInfo, WrapValidator, field_validator,
                      model_validator)
from pydantic_core import PydanticCustomError

from .errors import ApiError

ROLES = ("system", "user", "assistant", "tool", "developer")
MAX_STOP_STRINGS = 4
MAX_STOP_CHARS = 64
INT64 = (-(2**63), 2**63 - 1)


# -- reusable field types: pydantic's checks, our messages ---------------------------------------
def _expect(message: str, *, code: str = "invalid_type", deep: bool = False) -> WrapValidator:
    """Report a value of the wrong type as ``message``. ``deep``: errors inside the value too
    (for "a string or a list of strings", where the element's index is no help)."""

    def validate(value, handler):
        try:
            return handler(value)
        except ValidationError as exc:
            if deep or any(not e["loc"] for e in exc.errors()):
                raise PydanticCustomError(code, message) from None
            raise

    return WrapValidator(validate)


def _within(lo, hi, *, lo_open: bool = False) -> WrapValidator:
    bounds = f"{'(' if lo_open else '['}{lo}, {hi}]"

    def validate(value, handler):
        number = handler(value)
        if number < lo or number > hi or (lo_open and number == lo):
            raise PydanticCustomError("invalid_value", "must be in {bounds}, got {value}",
                                      {"bounds": bounds, "value": value})
        return number

    return WrapValidator(validate)


def _invalid(message: str, **context) -> PydanticCustomError:
    return PydanticCustomError("invalid_value", message, context or None)


def _not_empty(values: list) -> list:
    if not values:
        raise _invalid("must not be empty")
    return values


def _listed(value):
    return [value] if isinstance(value, str) else value


def _stop_limits(stop: list) -> list:
    if len(stop) > MAX_STOP_STRINGS:
        raise _invalid(f"at most {MAX_STOP_STRINGS} stop strings")
    if any(not s or len(s) > MAX_STOP_CHARS for s in stop):
        raise _invalid(f"each stop string must have 1..{MAX_STOP_CHARS} characters")
    return stop


def _role(value):
    if value not in ROLES:
        raise _invalid("must be one of {roles}, got {value}", roles=str(list(ROLES)),
                       value=repr(value))
    return value


Integer = Annotated[StrictInt, _expect("must be an integer")]  # JSON true/false is no number
Number = Annotated[StrictFloat, AllowInfNan(False), _expect("must be a number")]  # ints too
Boolean = Annotated[StrictBool, _expect("must be a boolean")]
ModelName = Annotated[StrictStr, _expect("must be a string")]
Strings = Annotated[List[StrictStr], _expect("must be a string or a list of strings", deep=True),
                    BeforeValidator(_listed)]


class _Body(BaseModel):
    """Unknown fields are ignored (OpenAI clients send many); ``model`` defaults to the served one."""

    model_config = ConfigDict(extra="ignore", validate_default=True, frozen=True)

    model: Optional[ModelName] = None

    @field_validator("model")
    @classmethod
    def _served(cls, model: Optional[str], info: ValidationInfo) -> str:
        served = info.context["served_model"]
        if model is not None and model != served:
            raise PydanticCustomError("model_not_found",
                                      "'{model}' does not exist; this server serves '{served}'",
                                      {"model": model, "served": served})
        return served


class Message(BaseModel):
    model_config = ConfigDict(extra="ignore", validate_default=True, frozen=True)

    role: Annotated[str, PlainValidator(_role)] = None
    content: Annotated[StrictStr, _expect("must be a string or a list of text parts")] = None

    @field_validator("content", mode="before")
    @classmethod
    def _text_only(cls, content: Any, info: ValidationInfo) -> Any:
        """OpenAI allows a string or a list of parts; only text parts make sense here."""
        if content is None and info.data.get("role") == "assistant":
            return ""
        if isinstance(content, list):
            for i, part in enumerate(content):
                if not (isinstance(part, dict) and part.get("type") == "text"
                        and isinstance(part.get("text"), str)):
                    raise _invalid("only {type: text, text: str} parts are supported", part=i)
            return "".join(part["text"] for part in content)
        return content


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="ignore", validate_default=True, frozen=True)

    include_usage: Boolean = False


class ChatCompletionRequest(_Body):
    """``/v1/chat/completions``. Ranges: max_tokens 1..max_tokens_cap; temperature 0..2 (0 =
    greedy); top_p (0, 1]; stop: up to 4 non-empty strings of <= 64 chars; seed: any 64-bit
    integer; n: only 1; presence_penalty, frequency_penalty: -2..2, OpenAI's definition (subtracted
    from the logits of tokens already generated: once, and once per occurrence)."""

    # Fields in this order: the first invalid one is the one reported.
    messages: Annotated[List[Annotated[Message, _expect("must be an object")]],
                        _expect("must be a list of messages"), AfterValidator(_not_empty)] = None
    max_tokens: Optional[Integer] = None
    max_completion_tokens: Optional[Integer] = None  # OpenAI's newer name; max_tokens wins
    temperature: Optional[Annotated[Number, _within(0.0, 2.0)]] = None
    top_p: Optional[Annotated[Number, _within(0.0, 1.0, lo_open=True)]] = None
    seed: Optional[Annotated[Integer, _within(*INT64)]] = None
    n: Optional[Annotated[Integer, _within(1, 1)]] = None
    presence_penalty: Optional[Annotated[Number, _within(-2.0, 2.0)]] = None
    frequency_penalty: Optional[Annotated[Number, _within(-2.0, 2.0)]] = None
    stop: Optional[Annotated[Strings, AfterValidator(_stop_limits)]] = None
    stream: Optional[Boolean] = None
    stream_options: Annotated[StreamOptions, _expect("must be an object"),
                              BeforeValidator(lambda v: v or {})] = None

    @model_validator(mode="before")
    @classmethod
    def _max_tokens_wins(cls, body: Any) -> Any:
        if isinstance(body, dict) and body.get("max_tokens") is not None:
            body = {k: v for k, v in body.items() if k != "max_completion_tokens"}
        return body

    @field_validator("max_tokens", "max_completion_tokens")
    @classmethod
    def _at_most_the_cap(cls, value: Optional[int], info: ValidationInfo) -> Optional[int]:
        cap = info.context["max_tokens_cap"]
        if value is not None and not 1 <= value <= cap:
            raise _invalid("must be in [1, {cap}], got {value}", cap=cap, value=value)
        return value


class EmbeddingRequest(_Body):
    """``/v1/embeddings``: ``input`` is a string or 1..max_inputs strings."""

    input: Annotated[Strings, AfterValidator(_not_empty)] = None
    # "base64" is little-endian float32, the openai client's default
    encoding_format: Annotated[Literal["float", "base64"],
                               _expect("must be 'float' or 'base64'", code="invalid_value"),
                               BeforeValidator(lambda v: v or "float")] = None

    @field_validator("input")
    @classmethod
    def _at_most_max_inputs(cls, inputs: list, info: ValidationInfo) -> list:
        max_inputs = info.context["max_inputs"]
        if len(inputs) > max_inputs:
            raise _invalid(f"at most {max_inputs} inputs per request")
        return inputs


def _validate(model: Type[BaseModel], body: Any, **limits) -> Any:
    try:
        return model.model_validate(body, context=limits)
    except ValidationError as exc:
        raise _api_error(exc.errors()[0]) from None


def _api_error(error: dict) -> ApiError:
    """The first pydantic error as an ApiError whose ``param`` is the field's path."""
    loc = tuple(error["loc"])
    if not loc:
        return ApiError(400, "request body must be a JSON object", code="invalid_json")
    ctx = error.get("ctx") or {}
    if "part" in ctx:  # a content part: messages[i].content[j]
        loc += (ctx["part"],)
    param = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")
    kind = error["type"]
    status = 404 if kind == "model_not_found" else 400
    code = kind if kind in ("invalid_type", "invalid_value", "model_not_found") else "invalid_value"
    return ApiError(status, f"{param}: {error['msg']}", param=param, code=code)


# -- what the rest of the server uses ------------------------------------------------------------
@dataclass(frozen=True)
class ChatParams:
    """A validated ``/v1/chat/completions`` request (see :class:`ChatCompletionRequest`)."""

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
        r = _validate(ChatCompletionRequest, body, served_model=served_model,
                      max_tokens_cap=max_tokens_cap)
        max_tokens = next((v for v in (r.max_tokens, r.max_completion_tokens) if v is not None),
                          default_max_tokens)
        messages = tuple({"role": "system" if m.role == "developer" else m.role,
                          "content": m.content} for m in r.messages)
        return cls(model=r.model, messages=messages, max_tokens=max_tokens,
                   temperature=_or(r.temperature, 1.0), top_p=_or(r.top_p, 1.0),
                   stop=tuple(r.stop or ()), seed=r.seed, stream=bool(r.stream),
                   include_usage=r.stream_options.include_usage,
                   presence_penalty=_or(r.presence_penalty, 0.0),
                   frequency_penalty=_or(r.frequency_penalty, 0.0))


@dataclass(frozen=True)
class EmbeddingParams:
    """A validated ``/v1/embeddings`` request (see :class:`EmbeddingRequest`)."""

    model: str
    inputs: tuple
    encoding_format: str  # "float" or "base64"

    @classmethod
    def parse(cls, body: Any, served_model: str, max_inputs: int) -> "EmbeddingParams":
        r = _validate(EmbeddingRequest, body, served_model=served_model, max_inputs=max_inputs)
        return cls(model=r.model, inputs=tuple(r.input), encoding_format=r.encoding_format)


def _or(value: Optional[float], default: float) -> float:
    return default if value is None else float(value)
