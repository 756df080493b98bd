"""The HTTP routes. They validate (``params.py``), build the prompt, enqueue and answer; they never
touch the model. Dependencies are explicit: the config, the metrics and the readiness of the models.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from array import array

from sanic import Sanic
from sanic.request import Request
from sanic.response import json as json_response, raw

from .config import Config
from .engine import GenerationRequest
from .errors import ApiError
from .metrics import CONTENT_TYPE_LATEST, Metrics
from .params import ChatParams, EmbeddingParams
from .readiness import Readiness
from .streaming import ChunkFormat, collect, stream


def json_body(request: Request):
    try:
        return json.loads(request.body or b"")
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, f"invalid JSON body: {exc}", code="invalid_json") from exc


def encode_embedding(vector, encoding_format: str):
    if encoding_format == "base64":  # little-endian float32, the openai client's default
        return base64.b64encode(array("f", vector).tobytes()).decode()
    return vector


class Routes:
    def __init__(self, config: Config, metrics: Metrics, readiness: Readiness):
        self.config = config
        self.metrics = metrics
        self.readiness = readiness
        self.created = int(time.time())

    def register(self, app: Sanic) -> None:
        app.add_route(self.health, "/health", methods=["GET"])
        app.add_route(self.prometheus, "/metrics", methods=["GET"], name="metrics")
        app.add_route(self.models, "/v1/models", methods=["GET"])
        app.add_route(self.embeddings, "/v1/embeddings", methods=["POST"])
        app.add_route(self.chat, "/v1/chat/completions", methods=["POST"])

    async def health(self, request: Request):
        body, status = self.readiness.health()
        return json_response(body, status=status)

    async def prometheus(self, request: Request):
        return raw(self.metrics.render(), content_type=CONTENT_TYPE_LATEST)

    async def models(self, request: Request):
        data = [{"id": m, "object": "model", "created": self.created, "owned_by": "model_server"}
                for m in (self.config.chat_model_id, self.config.embedding_model_id)]
        return json_response({"object": "list", "data": data})

    async def embeddings(self, request: Request):
        started = time.monotonic()
        cfg = self.config
        params = EmbeddingParams.parse(json_body(request), cfg.embedding_model_id,
                                       cfg.max_embedding_inputs)
        models = self.readiness.require_ready()
        result = await models.embeddings.embed(params.inputs)
        data = [{"object": "embedding", "index": i,
                 "embedding": encode_embedding(vec, params.encoding_format)}
                for i, vec in enumerate(result.vectors)]
        self.metrics.latency.labels("embeddings").observe(time.monotonic() - started)
        self.metrics.requests.labels(request.path, "200").inc()
        tokens = result.prompt_tokens
        return json_response({"object": "list", "data": data, "model": params.model,
                              "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})

    async def chat(self, request: Request):
        started = time.monotonic()
        cfg = self.config
        params = ChatParams.parse(json_body(request), cfg.chat_model_id, cfg.max_tokens_cap,
                                  cfg.default_max_tokens)
        models = self.readiness.require_ready()
        prompt = models.prompts.build(params.messages)
        req = GenerationRequest(prompt_ids=prompt.ids, params=params, prefix_len=prompt.prefix_len,
                                deadline=started + cfg.request_timeout_s, arrived=started)
        models.engine.submit(req)  # 429 / 503 raised here, before any byte is sent
        completion_id = f"chatcmpl-{uuid.uuid4().hex}"
        created = int(time.time())
        finished = False
        try:
            if params.stream:
                response = await request.respond(content_type="text/event-stream",
                                                 headers={"Cache-Control": "no-cache"})
                await stream(response, req, params, ChunkFormat(completion_id, created,
                                                                params.model))
                await response.eof()
                finished = True
                return None
            answer = await collect(req)
            finished = True
        finally:
            self.metrics.latency.labels("chat").observe(time.monotonic() - started)
            if not finished:
                # Client went away (Sanic cancels the handler) or an error: free the slot.
                req.cancelled = True
                models.engine.wake()
        self.metrics.requests.labels(request.path, "200").inc()
        return json_response({
            "id": completion_id, "object": "chat.completion", "created": created,
            "model": params.model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": answer.text},
                         "finish_reason": answer.finish_reason, "logprobs": None}],
            "usage": answer.usage,
        })
