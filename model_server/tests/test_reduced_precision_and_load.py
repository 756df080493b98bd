"""bf16 server: start-up health, agreement of batched answers, overload -> 429."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx

from .conftest import QUESTIONS, chat_body
from .test_batching import alone_and_batched


def test_health_is_503_until_loaded_then_200(bf16_server):
    codes = bf16_server.health_codes
    assert codes[-1] == 200
    assert 503 in codes, codes  # the server listened before the models were ready


def test_bf16_batched_answers_start_the_same(bf16_server):
    alone, batched = alone_and_batched(bf16_server.url, 24)
    start = lambda text: text.split()[:6]  # noqa: E731
    agree = sum(start(a) == start(b) for a, b in zip(alone, batched))
    assert agree >= 0.9 * len(QUESTIONS), list(zip(alone, batched))


def test_overload_gives_429_with_retry_after(bf16_server):
    # 16 slots + 2 queue places; 40 simultaneous requests must overflow.
    def call(i):
        return httpx.post(bf16_server.url + "/v1/chat/completions",
                          json=chat_body(QUESTIONS[i % 16], max_tokens=32), timeout=120)

    with ThreadPoolExecutor(40) as pool:
        responses = list(pool.map(call, range(40)))
    codes = [r.status_code for r in responses]
    assert set(codes) <= {200, 429}, codes
    refused = [r for r in responses if r.status_code == 429]
    assert refused and codes.count(200) >= 16
    assert int(refused[0].headers["Retry-After"]) >= 1
    assert refused[0].json()["error"]["type"] == "rate_limit_error"
    assert httpx.get(bf16_server.url + "/health").status_code == 200
