"""Contract tests through HTTP against the app in this process, with a tiny random model.

The answers are gibberish, but routes, JSON shapes, streaming, stop strings, seeds, validation and
limits do not depend on what the model says. test_end_to_end.py repeats the core on the real model.
"""

from __future__ import annotations

import base64
import json
import math
import re
from array import array

import pytest

from .conftest import assert_stream_matches_whole, QUESTIONS, SYSTEM, chat_body, openai_for


@pytest.fixture
def http(tiny_http):
    return tiny_http


@pytest.fixture
def openai_client(tiny):
    return openai_for(tiny.url)


def test_health_and_models(http):
    assert http.get("/health").json() == {"status": "ok"}
    models = http.get("/v1/models").json()
    assert models["object"] == "list"
    assert {m["id"] for m in models["data"]} == {"smollm2-135m-instruct", "all-minilm-l6-v2"}
    assert all(m["object"] == "model" and m["owned_by"] == "model_server" for m in models["data"])


def test_chat_with_openai_client(openai_client):
    r = openai_client.chat.completions.create(
        model="smollm2-135m-instruct", max_tokens=12, temperature=0,
        messages=[{"role": "system", "content": SYSTEM},
                  {"role": "user", "content": QUESTIONS[0]}])
    assert r.object == "chat.completion" and r.id.startswith("chatcmpl-")
    assert r.choices[0].message.role == "assistant"
    assert r.choices[0].message.content
    assert r.choices[0].finish_reason == "length"  # the tiny model has no end-of-sequence token
    assert r.usage.completion_tokens == 12
    assert r.usage.prompt_tokens > 40
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens


def test_streaming_matches_non_streaming(openai_client, http):
    body = chat_body(QUESTIONS[1], max_tokens=16)
    assert_stream_matches_whole(openai_client, http, body)


def test_raw_sse_format(http):
    with http.stream("POST", "/v1/chat/completions",
                     json=chat_body(QUESTIONS[2], max_tokens=8, stream=True)) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        assert r.headers["cache-control"] == "no-cache"
        lines = [line for line in r.iter_lines() if line]
    assert lines[-1] == "data: [DONE]"
    chunks = [json.loads(line[len("data: "):]) for line in lines[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert len({c["id"] for c in chunks}) == 1
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert chunks[-1]["choices"][0] == {"index": 0, "delta": {}, "finish_reason": "length",
                                        "logprobs": None}
    assert "usage" not in chunks[-1]  # only with stream_options.include_usage


def test_max_tokens_and_omitted_model(http):
    body = chat_body(QUESTIONS[3], max_tokens=1)
    del body["model"]
    r = http.post("/v1/chat/completions", json=body).json()
    assert r["model"] == "smollm2-135m-instruct"
    assert r["usage"]["completion_tokens"] == 1
    assert r["choices"][0]["finish_reason"] == "length"
    alias = {**chat_body(QUESTIONS[3]), "max_completion_tokens": 3}
    del alias["max_tokens"]
    assert http.post("/v1/chat/completions", json=alias).json()["usage"]["completion_tokens"] == 3


def test_stop_string_cuts_the_answer(http):
    full = http.post("/v1/chat/completions", json=chat_body(QUESTIONS[4])).json()
    text = full["choices"][0]["message"]["content"]
    assert len(text) > 20, text
    stop = text[10:13]
    cut = http.post("/v1/chat/completions", json=chat_body(QUESTIONS[4], stop=[stop])).json()
    assert cut["choices"][0]["message"]["content"] == text[: text.index(stop)]
    assert cut["choices"][0]["finish_reason"] == "stop"
    # Streaming never leaks any part of the stop string.
    with http.stream("POST", "/v1/chat/completions",
                     json=chat_body(QUESTIONS[4], stop=stop, stream=True)) as r:
        streamed = "".join(
            json.loads(line[6:])["choices"][0]["delta"].get("content", "")
            for line in r.iter_lines() if line.startswith("data: {"))
    assert streamed == text[: text.index(stop)]


def test_seed_makes_sampling_reproducible(http):
    body = chat_body(QUESTIONS[5], temperature=1.0, top_p=0.9, seed=1234, max_tokens=24)
    a = http.post("/v1/chat/completions", json=body).json()["choices"][0]["message"]["content"]
    b = http.post("/v1/chat/completions", json=body).json()["choices"][0]["message"]["content"]
    c = http.post("/v1/chat/completions", json={**body, "seed": 99}).json()
    assert a == b
    assert c["choices"][0]["message"]["content"] != a


def test_embeddings_float_and_base64(openai_client, http):
    texts = ["Where is my parcel?", "My package has not arrived yet.", "Do you sell tents?"]
    r = openai_client.embeddings.create(model="all-minilm-l6-v2", input=texts)  # base64 on the wire
    vecs = [d.embedding for d in r.data]
    assert [len(v) for v in vecs] == [384] * 3
    assert all(abs(math.sqrt(sum(x * x for x in v)) - 1) < 1e-4 for v in vecs)
    as_float = http.post("/v1/embeddings", json={"input": texts}).json()
    assert as_float["object"] == "list" and as_float["model"] == "all-minilm-l6-v2"
    assert [d["index"] for d in as_float["data"]] == [0, 1, 2]
    assert max(abs(x - y) for x, y in zip(as_float["data"][0]["embedding"], vecs[0])) < 1e-6
    raw = http.post("/v1/embeddings", json={"input": texts[0], "encoding_format": "base64"}).json()
    decoded = array("f", base64.b64decode(raw["data"][0]["embedding"])).tolist()
    assert max(abs(x - y) for x, y in zip(decoded, vecs[0])) < 1e-6
    assert len(raw["data"]) == 1 and raw["usage"]["prompt_tokens"] > 0


def test_embeddings_tokenize_each_input_once(tiny, http, monkeypatch):
    """``usage`` counts the tokens the model read, from the same tokenizer call (and truncated)."""
    embedder = tiny.app.ctx.readiness.models.embeddings.embedder
    tokenizer = embedder.tokenizer
    calls = []

    def counting(texts, **kwargs):
        calls.append(list(texts))
        return tokenizer(texts, **kwargs)

    monkeypatch.setattr(embedder, "tokenizer", counting)
    texts = ["Where is my parcel?", "tent " * 400, "hi"]
    r = http.post("/v1/embeddings", json={"input": texts}).json()
    assert calls == [texts]
    expected = sum(len(ids) for ids in tokenizer(texts, truncation=True,
                                                 max_length=embedder.max_length)["input_ids"])
    assert r["usage"] == {"prompt_tokens": expected, "total_tokens": expected}
    assert expected < 300  # the long input was truncated to the model's length


def test_metrics_exposed(http):
    http.post("/v1/chat/completions", json=chat_body(QUESTIONS[0], max_tokens=2))
    r = http.get("/metrics")
    assert r.headers["content-type"].startswith("text/plain")
    for name in ("model_server_queue_depth", "model_server_running_batch_size",
                 "model_server_generated_tokens_total", "model_server_prompt_tokens_total",
                 "model_server_prefix_cache_hits_total", "model_server_time_to_first_token_seconds",
                 "model_server_request_latency_seconds", "model_server_requests_total",
                 "model_server_rejected_queue_full_total", "model_server_cancelled_total"):
        assert name in r.text
    assert re.search(r'model_server_requests_total\{endpoint="/v1/chat/completions",status="200"\}',
                     r.text)


def msgs(*contents):
    return [{"role": "user", "content": c} for c in contents]


BAD_CHAT = [
    ({"messages": []}, "messages"),
    ({}, "messages"),
    ({"messages": "hi"}, "messages"),
    ({"messages": ["hi"]}, "messages[0]"),
    ({"messages": [{"role": "wizard", "content": "hi"}]}, "messages[0].role"),
    ({"messages": [{"role": "user", "content": 5}]}, "messages[0].content"),
    ({"messages": msgs("hi"), "max_tokens": 0}, "max_tokens"),
    ({"messages": msgs("hi"), "max_tokens": 100000}, "max_tokens"),
    ({"messages": msgs("hi"), "max_tokens": "ten"}, "max_tokens"),
    ({"messages": msgs("hi"), "max_tokens": 1.5}, "max_tokens"),
    ({"messages": msgs("hi"), "temperature": -1}, "temperature"),
    ({"messages": msgs("hi"), "temperature": 3}, "temperature"),
    ({"messages": msgs("hi"), "temperature": "hot"}, "temperature"),
    ({"messages": msgs("hi"), "top_p": 0}, "top_p"),
    ({"messages": msgs("hi"), "top_p": True}, "top_p"),
    ({"messages": msgs("hi"), "stop": 5}, "stop"),
    ({"messages": msgs("hi"), "stop": ["a", "b", "c", "d", "e"]}, "stop"),
    ({"messages": msgs("hi"), "stop": [""]}, "stop"),
    ({"messages": msgs("hi"), "seed": "x"}, "seed"),
    ({"messages": msgs("hi"), "stream": "yes"}, "stream"),
    ({"messages": msgs("hi"), "n": 2}, "n"),
    ({"messages": msgs("hi"), "presence_penalty": 2.5}, "presence_penalty"),
    ({"messages": msgs("hi"), "frequency_penalty": "high"}, "frequency_penalty"),
    ({"messages": msgs("hi"), "model": "gpt-4"}, "model"),
    ({"messages": msgs("hi"), "model": 7}, "model"),
]


@pytest.mark.parametrize("body,param", BAD_CHAT)
def test_bad_chat_requests_name_the_field(http, body, param):
    r = http.post("/v1/chat/completions", json=body)
    assert 400 <= r.status_code < 500, r.text
    err = r.json()["error"]
    assert err["param"] == param and err["message"] and err["type"]
    if param == "model":
        assert r.status_code in (400, 404)


@pytest.mark.parametrize("payload", [b"{not json", b"", b"[1, 2]", b"\xff\xfe"])
def test_invalid_json_is_400(http, payload):
    r = http.post("/v1/chat/completions", content=payload,
                  headers={"content-type": "application/json"})
    assert r.status_code == 400
    assert r.json()["error"]["type"] == "invalid_request_error"


@pytest.mark.parametrize("body,param", [
    ({"input": []}, "input"), ({"input": 3}, "input"), ({"input": [1, 2]}, "input"),
    ({}, "input"), ({"input": "x", "model": "ada"}, "model"),
    ({"input": "x", "encoding_format": "int8"}, "encoding_format"),
])
def test_bad_embedding_requests(http, body, param):
    r = http.post("/v1/embeddings", json=body)
    assert 400 <= r.status_code < 500
    assert r.json()["error"]["param"] == param


def test_too_long_prompt_is_refused(http):
    long_text = "order " * 3000  # ~3000 tokens > max_input_tokens (1536)
    r = http.post("/v1/chat/completions", json={"messages": msgs(long_text)})
    assert r.status_code in (400, 413)
    assert r.json()["error"]["code"] == "context_length_exceeded"
    huge = "x" * 200_000
    r = http.post("/v1/chat/completions", json={"messages": msgs(huge)})
    assert r.status_code == 413


def test_unknown_route_and_method_are_json_errors(http):
    r = http.get("/v1/nothing")
    assert r.status_code == 404 and "error" in r.json()
    r = http.get("/v1/chat/completions")
    assert r.status_code == 405 and "error" in r.json()


def test_error_body_is_openai_shaped(http):
    r = http.post("/v1/chat/completions", json={"messages": msgs("hi"), "temperature": 3})
    assert r.status_code == 400
    assert r.json() == {"error": {"message": "temperature: must be in [0.0, 2.0], got 3",
                                  "type": "invalid_request_error", "param": "temperature",
                                  "code": "invalid_value"}}
    r = http.post("/v1/chat/completions", json={"messages": msgs("hi"), "model": "gpt-4"})
    assert r.status_code == 404
    assert r.json()["error"] == {
        "message": "model: 'gpt-4' does not exist; this server serves 'smollm2-135m-instruct'",
        "type": "invalid_request_error", "param": "model", "code": "model_not_found"}
