"""The REST channel: malformed bodies are a 400 that says what is wrong, an
over-long message gets a polite reply without being processed, an oversized
body a 413; never a 500."""
import json
import time

import pytest
import requests

from tests.channels.support.server import (
    ORDER_10002_QUESTION, TRACKING_NUMBER_10002, assert_serving, user_texts,
)

pytestmark = pytest.mark.integration

MALFORMED = [
    ("not JSON", b"{this is not json"),
    ("empty body", b""),
    ("a JSON list", b"[1, 2]"),
    ("a JSON string", b'"where is order 10002"'),
    ("no message", b'{"sender": "rest-malformed"}'),
    ("message not a string", b'{"sender": "rest-malformed", "message": 10002}'),
    ("message an object", b'{"sender": "rest-malformed", "message": {"text": "hi"}}'),
    ("sender not a string", b'{"sender": ["rest-malformed"], "message": "hi"}'),
    ("sender too long", json.dumps({"sender": "s" * 500, "message": "hi"}).encode()),
    ("metadata not an object", b'{"sender": "rest-malformed", "message": "hi", "metadata": "x"}'),
    ("invalid UTF-8", b'{"sender": "rest-malformed", "message": "\xff\xfe"}'),
]


@pytest.mark.parametrize("case, body", MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_bodies_are_a_400(channel_stack, case, body):
    response = requests.post(channel_stack.rest_webhook, data=body,
                             headers={"Content-Type": "application/json"}, timeout=10)

    assert response.status_code == 400, (case, response.status_code, response.text)


def test_nothing_malformed_was_processed(channel_stack):
    assert user_texts(channel_stack, "rest-malformed") == []


def test_an_over_long_message_gets_a_polite_reply_quickly(channel_stack):
    """NLU would block the server for seconds on such a text (Rasa 3.6 runs
    it on the event loop); it is answered without being processed."""
    started = time.monotonic()
    replies = channel_stack.say("rest-long", "where is my order? " * 1000)

    assert time.monotonic() - started < 5
    assert len(replies) == 1 and "too long" in replies[0]["text"]
    assert user_texts(channel_stack, "rest-long") == []


def test_an_empty_message_gets_a_polite_reply(channel_stack):
    replies = channel_stack.say("rest-empty", "   ")

    assert len(replies) == 1 and "couldn't read" in replies[0]["text"]


def test_an_oversized_body_is_a_413(channel_stack):
    body = json.dumps({"sender": "rest-huge", "message": "x" * 2_000_000}).encode()

    response = requests.post(channel_stack.rest_webhook, data=body,
                             headers={"Content-Type": "application/json"}, timeout=30)

    assert response.status_code == 413


def test_a_normal_conversation_still_works(channel_stack):
    replies = channel_stack.say("rest-normal", ORDER_10002_QUESTION)

    assert any(TRACKING_NUMBER_10002 in r.get("text", "") for r in replies), replies
    assert_serving(channel_stack)


def test_streaming_replies_still_work(channel_stack):
    """?stream=true: one JSON message per line, as Rasa's own REST channel."""
    response = requests.post(channel_stack.rest_webhook, params={"stream": "true"},
                             json={"sender": "rest-stream", "message": ORDER_10002_QUESTION},
                             timeout=30)

    lines = [json.loads(line) for line in response.text.splitlines() if line.strip()]
    assert response.status_code == 200
    assert any(TRACKING_NUMBER_10002 in line.get("text", "") for line in lines), lines
