"""Start-up (503 until loaded, load failures), overload (429), and bf16 agreement (real model)."""

from __future__ import annotations

import threading

import httpx
import pytest

from .conftest import QUESTIONS, chat_body, load_tiny_models
from .test_batching import alone_and_batched


def test_health_is_503_until_loaded_then_200(tiny_server):
    release = threading.Event()

    def slow_load(config, metrics):
        release.wait(30)
        return load_tiny_models(config, metrics)

    s = tiny_server(load=slow_load, wait_ready=False)
    r = httpx.get(s.url + "/health")
    assert (r.status_code, r.json()) == (503, {"status": "loading"})
    r = httpx.post(s.url + "/v1/chat/completions", json=chat_body(QUESTIONS[0]))
    assert r.status_code == 503 and r.headers["Retry-After"] == "5"
    assert r.json()["error"] == {"message": "models are still loading", "type": "server_error",
                                 "param": None, "code": "loading"}
    assert httpx.post(s.url + "/v1/embeddings", json={"input": "x"}).status_code == 503
    # Validation comes first: a bad request is a 400 even while loading.
    assert httpx.post(s.url + "/v1/embeddings", json={"input": 3}).status_code == 400
    release.set()
    for _ in range(200):
        if httpx.get(s.url + "/health").status_code == 200:
            break
        threading.Event().wait(0.05)
    assert httpx.get(s.url + "/health").json() == {"status": "ok"}
    assert httpx.post(s.url + "/v1/chat/completions",
                      json=chat_body(QUESTIONS[0], max_tokens=2)).status_code == 200


def test_a_failed_load_is_reported_not_hidden(tiny_server):
    def broken_load(config, metrics):
        raise FileNotFoundError("no weights here")

    s = tiny_server(load=broken_load, wait_ready=False)
    for _ in range(200):
        body = httpx.get(s.url + "/health").json()
        if body["status"] != "loading":
            break
        threading.Event().wait(0.05)
    assert body == {"status": "error", "detail": "FileNotFoundError: no weights here"}
    r = httpx.post(s.url + "/v1/chat/completions", json=chat_body(QUESTIONS[0]))
    assert r.status_code == 503
    assert r.json()["error"]["code"] == "load_failed"


def test_overload_gives_429_with_retry_after(tiny_server):
    """One slot, one queue place: a running stream, a waiting one, and the third is refused."""
    s = tiny_server(max_batch_size=1, max_queue_size=1, max_tokens_cap=2048)
    body = chat_body(QUESTIONS[0], max_tokens=2000, stream=True)
    with httpx.Client(base_url=s.url, timeout=60) as client:
        with client.stream("POST", "/v1/chat/completions", json=body) as running:
            lines = (line for line in running.iter_lines() if line.startswith("data: {"))
            next(lines), next(lines)  # the role chunk, then generated text: it holds the slot
            with client.stream("POST", "/v1/chat/completions", json=body) as waiting:
                assert waiting.status_code == 200  # queued: headers are sent at once
                refused = httpx.post(s.url + "/v1/chat/completions", json=chat_body(QUESTIONS[1]))
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) >= 1
    assert refused.json()["error"]["type"] == "rate_limit_error"
    assert refused.json()["error"]["code"] == "queue_full"
    assert httpx.get(s.url + "/health").status_code == 200


@pytest.mark.slow
def test_bf16_batched_answers_start_the_same(bf16_server):
    """The real model in bf16: batched answers agree with answers alone (near-ties may flip)."""
    alone, batched = alone_and_batched(bf16_server.url, 24)
    start = lambda text: text.split()[:6]  # noqa: E731
    agree = sum(start(a) == start(b) for a, b in zip(alone, batched))
    assert agree >= 0.9 * len(QUESTIONS), list(zip(alone, batched))


@pytest.mark.slow
def test_real_server_health_is_503_until_loaded_then_200(bf16_server):
    codes = bf16_server.health_codes
    assert codes[-1] == 200
    assert 503 in codes, codes  # the server listened before the models were ready
