"""HTTP layer: ``create_app(config) -> Sanic``.

Handlers validate (``params.py``), tokenize, enqueue (``engine.py``) and stream; they never touch the
model. Models load in a background thread after the server starts listening, so ``/health`` answers
503 while loading and 200 once ready.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import threading
import time
import uuid
from array import array
from typing import Optional

from sanic import Sanic
from sanic.exceptions import SanicException
from sanic.request import Request
from sanic.response import HTTPResponse, json as json_response, raw

from . import loading
from .config import Config
from .engine import Engine, GenerationRequest
from .metrics import CONTENT_TYPE_LATEST, Metrics
from .params import ApiError, ChatParams, EmbeddingParams

log = logging.getLogger(__name__)

# Prompts longer than this many characters per allowed token are refused before tokenizing,
# so a huge body cannot keep the event loop busy.
MAX_CHARS_PER_TOKEN = 16


class ServerState:
    """Everything the handlers share; filled by the loader thread."""

    def __init__(self, config: Config):
        self.config = config
        self.metrics = Metrics()
        self.engine: Optional[Engine] = None
        self.tokenizer = None
        self.embedder = None
        self.embed_lock: Optional[asyncio.Lock] = None  # created on the server's event loop
        self.embed_waiting = 0
        self.load_error: Optional[str] = None
        self.ready = threading.Event()
        self.created = int(time.time())

    def load(self, loop: asyncio.AbstractEventLoop) -> None:
        """Runs in a thread: slow (model files), must not block the event loop."""
        cfg = self.config
        try:
            import torch

            from .embeddings import Embedder
            from .llama import Llama, LlamaShape

            if cfg.threads:
                torch.set_num_threads(cfg.threads)
            started = time.monotonic()
            files = loading.resolve_chat_model(cfg.chat_model, cfg.cache_dir)
            shape = LlamaShape.from_hf_config(files.config)
            model = Llama(shape, loading.load_state_dict(files.folder), cfg.dtype)
            self.tokenizer = loading.load_tokenizer(files.folder)
            self.embedder = Embedder(loading.resolve_embedding_model(cfg.embedding_model))
            self.engine = Engine(
                model, self.tokenizer, files.eos_token_ids, max_batch_size=cfg.max_batch_size,
                max_queue_size=cfg.max_queue_size, max_seq_len=cfg.max_seq_len,
                prefill_token_budget=cfg.prefill_token_budget, metrics=self.metrics,
                threads=cfg.threads)
            self.engine.start(loop)
            log.info("models loaded in %.1f s (chat %s, %s)", time.monotonic() - started,
                     files.folder, cfg.dtype)
            self.ready.set()
        except Exception as exc:  # reported by /health; the process stays up to say why
            log.exception("loading models failed")
            self.load_error = f"{type(exc).__name__}: {exc}"

    def require_ready(self) -> None:
        if self.load_error:
            raise ApiError(503, f"models failed to load: {self.load_error}", type_="server_error",
                           code="load_failed")
        if not self.ready.is_set():
            raise ApiError(503, "models are still loading", type_="server_error", code="loading",
                           headers={"Retry-After": "5"})

    # -- prompt building -----------------------------------------------------------------------
    def prompt_ids(self, params: ChatParams):
        """Chat template -> token ids, plus the length of the shareable system-prompt prefix."""
        cfg = self.config
        chars = sum(len(m["content"]) for m in params.messages)
        if chars > cfg.max_input_tokens * MAX_CHARS_PER_TOKEN:
            raise ApiError(413, f"messages: {chars} characters is far above the limit of "
                           f"{cfg.max_input_tokens} input tokens", param="messages",
                           code="context_length_exceeded")
        messages = [dict(m) for m in params.messages]
        try:
            text = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True,
                                                      tokenize=False)
        except Exception as exc:  # a template may reject e.g. role order
            raise ApiError(400, f"messages: the chat template rejected them: {exc}",
                           param="messages") from exc
        ids = self.tokenizer.encode(text, add_special_tokens=False)
        if len(ids) > cfg.max_input_tokens:
            raise ApiError(400, f"messages: the prompt has {len(ids)} tokens, more than the "
                           f"maximum of {cfg.max_input_tokens}", param="messages",
                           code="context_length_exceeded")
        prefix_len = 0
        if messages[0]["role"] == "system" and len(messages) > 1:
            system = self.tokenizer.apply_chat_template(messages[:1], tokenize=False)
            if text.startswith(system):
                prefix = self.tokenizer.encode(system, add_special_tokens=False)
                if ids[: len(prefix)] == prefix:
                    prefix_len = len(prefix)
        return ids, prefix_len


def _error_response(exc: ApiError) -> HTTPResponse:
    return json_response(exc.body(), status=exc.status, headers=exc.headers)


def create_app(config: Config, name: str = "model_server") -> Sanic:
    loading.enforce_offline()
    app = Sanic(name)
    app.config.REQUEST_MAX_SIZE = 4 * 1024 * 1024
    app.config.RESPONSE_TIMEOUT = config.request_timeout_s + 30
    app.config.REQUEST_TIMEOUT = 60
    state = ServerState(config)
    app.ctx.state = state

    @app.before_server_start
    async def start_loading(app_: Sanic):
        loop = asyncio.get_running_loop()
        state.embed_lock = asyncio.Lock()
        threading.Thread(target=state.load, args=(loop,), name="loader", daemon=True).start()

    @app.after_server_stop
    async def stop_engine(app_: Sanic):
        if state.engine is not None:
            state.engine.stop()

    # -- errors: one JSON shape for everything -------------------------------------------------
    @app.exception(ApiError)
    async def api_error(request: Request, exc: ApiError):
        state.metrics.requests.labels(request.path, str(exc.status)).inc()
        return _error_response(exc)

    @app.exception(SanicException)
    async def sanic_error(request: Request, exc: SanicException):
        status = getattr(exc, "status_code", 500) or 500
        kind = "invalid_request_error" if status < 500 else "server_error"
        return _error_response(ApiError(status, str(exc), type_=kind))

    @app.exception(Exception)
    async def unexpected(request: Request, exc: Exception):
        log.exception("unhandled error on %s", request.path)
        return _error_response(ApiError(500, "internal server error", type_="server_error"))

    def body_of(request: Request):
        try:
            return json.loads(request.body or b"")
        except (ValueError, UnicodeDecodeError) as exc:
            raise ApiError(400, f"invalid JSON body: {exc}", code="invalid_json") from exc

    # -- routes --------------------------------------------------------------------------------
    @app.get("/health")
    async def health(request: Request):
        if state.load_error:
            return json_response({"status": "error", "detail": state.load_error}, status=503)
        if not state.ready.is_set():
            return json_response({"status": "loading"}, status=503)
        if not state.engine.alive:
            return json_response({"status": "error", "detail": "engine stopped"}, status=503)
        return json_response({"status": "ok"})

    @app.get("/metrics")
    async def metrics(request: Request):
        return raw(state.metrics.render(), content_type=CONTENT_TYPE_LATEST)

    @app.get("/v1/models")
    async def models(request: Request):
        data = [{"id": m, "object": "model", "created": state.created, "owned_by": "model_server"}
                for m in (config.chat_model_id, config.embedding_model_id)]
        return json_response({"object": "list", "data": data})

    @app.post("/v1/embeddings")
    async def embeddings(request: Request):
        started = time.monotonic()
        params = EmbeddingParams.parse(body_of(request), config.embedding_model_id,
                                       config.max_embedding_inputs)
        state.require_ready()
        if state.embed_waiting >= config.max_queue_size:
            raise ApiError(429, "server busy: too many embedding requests waiting",
                           type_="rate_limit_error", code="queue_full",
                           headers={"Retry-After": "1"})
        loop = asyncio.get_running_loop()
        state.embed_waiting += 1
        try:
            async with state.embed_lock:  # one embedding batch at a time, in a worker thread
                vectors = await loop.run_in_executor(None, state.embedder.embed, params.inputs)
                tokens = await loop.run_in_executor(None, state.embedder.count_tokens,
                                                    params.inputs)
        finally:
            state.embed_waiting -= 1
        data = []
        for i, vec in enumerate(vectors):
            if params.encoding_format == "base64":
                value = base64.b64encode(array("f", vec).tobytes()).decode()
            else:
                value = vec
            data.append({"object": "embedding", "index": i, "embedding": value})
        state.metrics.latency.labels("embeddings").observe(time.monotonic() - started)
        state.metrics.requests.labels(request.path, "200").inc()
        return json_response({"object": "list", "data": data, "model": params.model,
                              "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})

    @app.post("/v1/chat/completions")
    async def chat(request: Request):
        started = time.monotonic()
        params = ChatParams.parse(body_of(request), config.chat_model_id, config.max_tokens_cap,
                                  config.default_max_tokens)
        state.require_ready()
        ids, prefix_len = state.prompt_ids(params)
        req = GenerationRequest(prompt_ids=ids, params=params, prefix_len=prefix_len,
                                deadline=started + config.request_timeout_s, arrived=started)
        state.engine.submit(req)  # 429 / 503 raised here, before any byte is sent
        completion_id = f"chatcmpl-{uuid.uuid4().hex}"
        created = int(time.time())
        finished = False
        try:
            if params.stream:
                response = await request.respond(content_type="text/event-stream",
                                                 headers={"Cache-Control": "no-cache"})
                await _stream(response, req, params, completion_id, created)
                await response.eof()
                finished = True
                return None
            text, finish_reason, usage = await _collect(req)
            finished = True
        finally:
            state.metrics.latency.labels("chat").observe(time.monotonic() - started)
            if not finished:
                # Client went away (Sanic cancels the handler) or an error: free the slot.
                req.cancelled = True
                state.engine.wake()
        state.metrics.requests.labels(request.path, "200").inc()
        return json_response({
            "id": completion_id, "object": "chat.completion", "created": created,
            "model": params.model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                         "finish_reason": finish_reason, "logprobs": None}],
            "usage": usage,
        })

    async def _next_event(req: GenerationRequest):
        # The engine always answers before the deadline passes (done/error); the margin only
        # guards against an engine bug turning into a hung client.
        timeout = max(1.0, req.deadline - time.monotonic() + 30)
        try:
            return await asyncio.wait_for(req.events.get(), timeout)
        except asyncio.TimeoutError:
            raise ApiError(504, "no answer from the generation engine", type_="server_error")

    async def _collect(req: GenerationRequest):
        parts = []
        while True:
            event = await _next_event(req)
            if event[0] == "delta":
                parts.append(event[1])
            elif event[0] == "done":
                return "".join(parts), event[1], event[2]
            else:
                raise ApiError(event[1], event[2], type_="server_error"
                               if event[1] >= 500 else "invalid_request_error")

    async def _stream(response, req, params: ChatParams, completion_id: str, created: int):
        def chunk(delta: dict, finish_reason=None, usage=None, choices=True) -> str:
            body = {"id": completion_id, "object": "chat.completion.chunk", "created": created,
                    "model": params.model,
                    "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason,
                                 "logprobs": None}] if choices else []}
            if usage is not None:
                body["usage"] = usage
            return f"data: {json.dumps(body)}\n\n"

        await response.send(chunk({"role": "assistant", "content": ""}))
        while True:
            try:
                event = await _next_event(req)
            except ApiError as exc:
                event = ("error", exc.status, exc.message)
            if event[0] == "delta":
                await response.send(chunk({"content": event[1]}))
            elif event[0] == "done":
                await response.send(chunk({}, finish_reason=event[1]))
                if params.include_usage:
                    await response.send(chunk({}, usage=event[2], choices=False))
                break
            else:  # headers are gone: report the error in the stream, OpenAI style
                err = ApiError(event[1], event[2], type_="server_error")
                await response.send(f"data: {json.dumps(err.body())}\n\n")
                break
        await response.send("data: [DONE]\n\n")

    return app
