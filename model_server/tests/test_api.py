"""Contract tests: the OpenAI client and raw HTTP against the running service (fp32)."""

from __future__ import annotations

import json
import math

import pytest

from .conftest import QUESTIONS, SYSTEM, chat_body


def test_health_and_models(http):
    assert http.get("/health").json() == {"status": "ok"}
    ids = {m["id"] for m in http.get("/v1/models").json()["data"]}
    assert ids == {"smollm2-135m-instruct", "all-minilm-l6-v2"}


def test_chat_with_openai_client(openai_client):
    r = openai_client.chat.completions.create(
        model="smollm2-135m-instruct", max_tokens=24, temperature=0,
        messages=[{"role": "system", "content": SYSTEM},
                  {"role": "user", "content": QUESTIONS[0]}])
    assert r.object == "chat.completion"
    assert r.choices[0].message.role == "assistant"
    assert r.choices[0].message.content.strip()
    assert r.choices[0].finish_reason in ("stop", "length")
    assert r.usage.completion_tokens <= 24
    assert r.usage.prompt_tokens > 40
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens


def test_streaming_matches_non_streaming(openai_client, http):
    body = chat_body(QUESTIONS[1], max_tokens=32)
    whole = http.post("/v1/chat/completions", json=body).json()
    stream = openai_client.chat.completions.create(
        stream=True, stream_options={"include_usage": True}, **body)
    pieces, finish, usage = [], None, None
    for chunk in stream:
        if chunk.usage:
            usage = chunk.usage
        for choice in chunk.choices:
            pieces.append(choice.delta.content or "")
            finish = choice.finish_reason or finish
    assert "".join(pieces) == whole["choices"][0]["message"]["content"]
    assert finish == whole["choices"][0]["finish_reason"]
    assert usage.completion_tokens == whole["usage"]["completion_tokens"]


def test_raw_sse_format(http):
    with http.stream("POST", "/v1/chat/completions",
                     json=chat_body(QUESTIONS[2], max_tokens=8, stream=True)) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in r.iter_lines() if line]
    assert lines[-1] == "data: [DONE]"
    chunks = [json.loads(line[len("data: "):]) for line in lines[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert chunks[-1]["choices"][0]["finish_reason"] in ("stop", "length")


def test_max_tokens_and_omitted_model(http):
    body = chat_body(QUESTIONS[3], max_tokens=1)
    del body["model"]
    r = http.post("/v1/chat/completions", json=body).json()
    assert r["model"] == "smollm2-135m-instruct"
    assert r["usage"]["completion_tokens"] == 1
    assert r["choices"][0]["finish_reason"] == "length"


def test_stop_string_cuts_the_answer(http):
    full = http.post("/v1/chat/completions", json=chat_body(QUESTIONS[4])).json()
    text = full["choices"][0]["message"]["content"]
    words = text.split()
    assert len(words) > 4, text
    stop = " " + words[3]
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
    assert a == b


def test_embeddings_with_openai_client(openai_client, http):
    texts = ["Where is my parcel?", "My package has not arrived yet.", "Do you sell tents?"]
    r = openai_client.embeddings.create(model="all-minilm-l6-v2", input=texts)  # base64 on the wire
    vecs = [d.embedding for d in r.data]
    assert [len(v) for v in vecs] == [384] * 3
    assert all(abs(math.sqrt(sum(x * x for x in v)) - 1) < 1e-4 for v in vecs)
    cos = lambda a, b: sum(x * y for x, y in zip(a, b))  # noqa: E731  (unit vectors)
    assert cos(vecs[0], vecs[1]) > cos(vecs[0], vecs[2])
    again = http.post("/v1/embeddings", json={"input": texts}).json()
    assert [d["embedding"] for d in again["data"]] == [
        http.post("/v1/embeddings", json={"input": texts}).json()["data"][i]["embedding"]
        for i in range(3)]  # deterministic
    assert max(abs(x - y) for x, y in zip(again["data"][0]["embedding"], vecs[0])) < 1e-6
    single = http.post("/v1/embeddings", json={"input": texts[0]}).json()
    assert len(single["data"]) == 1 and single["usage"]["prompt_tokens"] > 0


def test_metrics_exposed(http):
    text = http.get("/metrics").text
    for name in ("model_server_queue_depth", "model_server_running_batch_size",
                 "model_server_generated_tokens_total", "model_server_time_to_first_token_seconds",
                 "model_server_request_latency_seconds"):
        assert name in text


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


def test_frequency_penalty_breaks_a_repetition(http):
    """Greedy decoding of a prompt the 135M model answers by repeating itself
    ("4. Fish 5. Fish 6. Fish"), with and without OpenAI's frequency penalty."""
    body = {"messages": msgs("List ten animals."), "max_tokens": 30, "temperature": 0}
    plain = http.post("/v1/chat/completions", json=body).json()["choices"][0]["message"]["content"]
    penalized = http.post("/v1/chat/completions", json={**body, "frequency_penalty": 2.0}).json()
    text = penalized["choices"][0]["message"]["content"]
    assert plain.count("Fish") >= 3
    assert text.count("Fish") < plain.count("Fish")
