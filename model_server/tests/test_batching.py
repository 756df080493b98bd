"""Continuous batching must not change answers, and a client that leaves must free its slot."""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from .conftest import QUESTIONS, chat_body


def answer(url: str, question: str, max_tokens: int = 48) -> str:
    r = httpx.post(url + "/v1/chat/completions", json=chat_body(question, max_tokens=max_tokens),
                   timeout=300)
    assert r.status_code == 200, r.text
    return r.json()["choices"][0]["message"]["content"]


def alone_and_batched(url: str, max_tokens: int):
    alone = [answer(url, q, max_tokens) for q in QUESTIONS]
    with ThreadPoolExecutor(len(QUESTIONS)) as pool:
        batched = list(pool.map(lambda q: answer(url, q, max_tokens), QUESTIONS))
    return alone, batched


def test_fp32_batch_of_16_gives_identical_greedy_text(server):
    """End to end, the real model: batched greedy answers are the answers computed alone."""
    alone, batched = alone_and_batched(server.url, 48)
    assert len(set(alone)) > 8, alone  # different prompts really give different answers
    mismatches = [(q, a, b) for q, a, b in zip(QUESTIONS, alone, batched) if a != b]
    assert not mismatches, mismatches


def test_tiny_model_batched_answers_are_the_answers_alone(tiny_server):
    """Slots, masks, prefix cache and retiring, with prompts of different lengths (batch 4 for 16
    requests: sequences join and leave the running batch between steps)."""
    s = tiny_server(max_batch_size=4, max_queue_size=16)
    alone, batched = alone_and_batched(s.url, 16)
    assert len(set(alone)) == len(QUESTIONS)
    assert alone == batched


def metric(url: str, name: str) -> float:
    text = httpx.get(url + "/metrics").text
    m = re.search(rf"^{name} ([0-9.e+]+)$", text, re.M)
    return float(m.group(1)) if m else 0.0


def test_client_disconnect_frees_the_slot(tiny_server):
    s = tiny_server(max_tokens_cap=2048, default_max_tokens=256)
    before = metric(s.url, "model_server_cancelled_total")
    with httpx.Client(timeout=60) as client:
        with client.stream("POST", s.url + "/v1/chat/completions",
                           json=chat_body(QUESTIONS[6], max_tokens=2000, stream=True)) as r:
            seen = 0
            for line in r.iter_lines():
                seen += line.startswith("data: {")
                if seen >= 3:
                    break  # leave while the sequence is still decoding
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if (metric(s.url, "model_server_cancelled_total") > before
                and metric(s.url, "model_server_running_batch_size") == 0):
            break
        time.sleep(0.05)
    assert metric(s.url, "model_server_cancelled_total") > before
    assert metric(s.url, "model_server_running_batch_size") == 0
    # Far fewer than 2000 tokens were generated for it.
    assert metric(s.url, "model_server_generated_tokens_total") < 1000
    assert answer(s.url, QUESTIONS[7], 4)
