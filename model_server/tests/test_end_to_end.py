"""End to end on the real model: the service as a subprocess (fp32), through the OpenAI client."""

from __future__ import annotations

import math

from .conftest import assert_stream_matches_whole, QUESTIONS, SYSTEM, chat_body


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
    assert_stream_matches_whole(openai_client, http, body)


def test_embeddings_with_openai_client(openai_client, http):
    texts = ["Where is my parcel?", "My package has not arrived yet.", "Do you sell tents?"]
    r = openai_client.embeddings.create(model="all-minilm-l6-v2", input=texts)  # base64 on the wire
    vecs = [d.embedding for d in r.data]
    assert [len(v) for v in vecs] == [384] * 3
    assert all(abs(math.sqrt(sum(x * x for x in v)) - 1) < 1e-4 for v in vecs)
    cos = lambda a, b: sum(x * y for x, y in zip(a, b))  # noqa: E731  (unit vectors)
    assert cos(vecs[0], vecs[1]) > cos(vecs[0], vecs[2])
    again = http.post("/v1/embeddings", json={"input": texts}).json()
    assert max(abs(x - y) for x, y in zip(again["data"][0]["embedding"], vecs[0])) < 1e-6
    assert again["usage"]["prompt_tokens"] > 0


def msgs(*contents):
    return [{"role": "user", "content": c} for c in contents]


def test_frequency_penalty_breaks_a_repetition(http):
    """Greedy decoding of a prompt the 135M model answers by repeating itself
    ("4. Fish 5. Fish 6. Fish"), with and without OpenAI's frequency penalty."""
    body = {"messages": msgs("List ten animals."), "max_tokens": 30, "temperature": 0}
    plain = http.post("/v1/chat/completions", json=body).json()["choices"][0]["message"]["content"]
    penalized = http.post("/v1/chat/completions", json={**body, "frequency_penalty": 2.0}).json()
    text = penalized["choices"][0]["message"]["content"]
    assert plain.count("Fish") >= 3
    assert text.count("Fish") < plain.count("Fish")
