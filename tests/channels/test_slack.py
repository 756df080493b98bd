"""Slack: signed Events API requests in, replies out through a local fake of
Slack's Web API (a real HTTP server on loopback). Forged or stale requests
and retried events must not produce anything."""
import json
import time

import pytest
import requests

from tests.channels.support import credentials
from tests.channels.support.server import (
    ORDER_10002_QUESTION, TRACKING_NUMBER_10002, assert_serving, assert_user_texts, user_texts,
)
from tests.channels.support.slack import message_event, signed_headers

pytestmark = pytest.mark.integration

QUIET_SECONDS = 3  # how long "nothing happens" is watched for


def webhook(stack) -> str:
    return f"{stack.rasa_url}/webhooks/slack/webhook"


def send(stack, payload, secret=credentials.SLACK_SIGNING_SECRET, timestamp=None,
         extra_headers=None, raw: bytes = None, content_type="application/json"):
    body = raw if raw is not None else json.dumps(payload).encode()
    headers = {**signed_headers(body, secret, timestamp, content_type), **(extra_headers or {})}
    return requests.post(webhook(stack), data=body, headers=headers, timeout=10)


def ts() -> str:
    return f"{time.time():.6f}"


def test_signed_message_gets_its_reply_through_the_web_api(channel_stack, fake_slack):
    event = message_event("Ev-order", "U-order", "D-order", ORDER_10002_QUESTION, ts())

    response = send(channel_stack, event)

    assert response.status_code == 200
    posts = fake_slack.wait_for_posts("D-order")
    assert len(posts) == 1
    assert posts[0].method == "chat.postMessage"
    assert posts[0].authorization == f"Bearer {credentials.SLACK_BOT_TOKEN}"
    assert TRACKING_NUMBER_10002 in posts[0].text
    assert_user_texts(channel_stack, "U-order", [ORDER_10002_QUESTION])


@pytest.mark.parametrize("user, answered", [
    ("U10002", True),  # the Slack user of order 10002's customer (customer_identities)
    ("U10003", False),  # another customer: asked for the address, told nothing
    ("U-unknown", False),
])
def test_a_known_slack_user_needs_no_address_for_their_own_order(
    channel_stack, fake_slack, user, answered
):
    channel = f"D-identity-{user}"
    send(channel_stack, message_event(f"Ev-{channel}", user, channel, "where is order 10002?", ts()))
    text = fake_slack.wait_for_posts(channel)[0].text
    assert (TRACKING_NUMBER_10002 in text) is answered
    assert ("e-mail address on order #10002" in text) is not answered


def test_url_verification_echoes_the_challenge(channel_stack):
    response = send(channel_stack, {"type": "url_verification", "challenge": "c-123",
                                    "token": "deprecated"})

    assert response.status_code == 200
    assert response.json() == {"challenge": "c-123"}


@pytest.mark.parametrize(
    "case, secret, age_seconds",
    [
        ("forged signature", "not-the-signing-secret", 0),
        ("stale timestamp", credentials.SLACK_SIGNING_SECRET, 6 * 60),
        ("timestamp from the future", credentials.SLACK_SIGNING_SECRET, -6 * 60),
    ],
)
def test_forged_or_stale_requests_are_refused_and_nothing_is_processed(
    channel_stack, fake_slack, case, secret, age_seconds
):
    user, channel = f"U-refused-{age_seconds}", f"D-refused-{age_seconds}-{len(secret)}"
    event = message_event(f"Ev-{channel}", user, channel, ORDER_10002_QUESTION, ts())

    response = send(channel_stack, event, secret=secret,
                    timestamp=int(time.time()) - age_seconds)

    assert response.status_code == 401, case
    time.sleep(QUIET_SECONDS)
    assert fake_slack.posts_to(channel) == []
    assert user_texts(channel_stack, user) == []


def test_unsigned_and_tampered_requests_are_refused(channel_stack, fake_slack):
    event = message_event("Ev-tampered", "U-tampered", "D-tampered", "hello", ts())
    body = json.dumps(event).encode()
    headers = signed_headers(body, credentials.SLACK_SIGNING_SECRET)

    unsigned = requests.post(webhook(channel_stack), data=body,
                             headers={"Content-Type": "application/json"}, timeout=10)
    tampered = requests.post(webhook(channel_stack), data=body.replace(b"hello", b"hallo"),
                             headers=headers, timeout=10)
    bad_timestamp = requests.post(webhook(channel_stack), data=body,
                                  headers={**headers, "X-Slack-Request-Timestamp": "soon"},
                                  timeout=10)

    assert (unsigned.status_code, tampered.status_code, bad_timestamp.status_code) == (401,) * 3
    time.sleep(QUIET_SECONDS)
    assert fake_slack.posts_to("D-tampered") == []
    assert user_texts(channel_stack, "U-tampered") == []


def test_retries_of_a_slow_reply_never_produce_a_second_one(channel_stack, fake_slack):
    """Slack retries when it has no answer after about three seconds. The
    webhook answers at once; the reply follows later (slow here twice over:
    an open-ended question waits for the LLM fallback, and the fake Web API
    takes four seconds to accept the post), and retries that arrive
    meanwhile, for whatever reason, are dropped. Rasa's own connector would
    process the `http_error` and `unknown_error` retries again."""
    fake_slack.delays["D-slow"] = 4
    event = message_event("Ev-slow", "U-slow", "D-slow", "tell me a joke", ts())

    started = time.monotonic()
    first = send(channel_stack, event)
    answered_after = time.monotonic() - started
    time.sleep(1)
    retries = [
        send(channel_stack, event, extra_headers={"X-Slack-Retry-Num": str(number),
                                                   "X-Slack-Retry-Reason": reason})
        for number, reason in [(1, "http_timeout"), (2, "http_error"), (3, "unknown_error")]
    ]
    duplicate_without_headers = send(channel_stack, event)
    retried_after = time.monotonic() - started
    fake_slack.wait_for_posts("D-slow", count=1, timeout=60)
    replied_after = time.monotonic() - started
    time.sleep(QUIET_SECONDS + 4)  # time for a second reply to arrive, if any

    assert first.status_code == 200 and answered_after < 2
    assert [r.status_code for r in retries] == [200, 200, 200]
    assert all(r.headers.get("X-Slack-No-Retry") == "1" for r in retries)
    assert duplicate_without_headers.status_code == 200
    assert retried_after < replied_after  # the retries came while the reply was on its way
    posts = fake_slack.posts_to("D-slow")
    assert len(posts) == 1, [p.text for p in posts]
    assert posts[0].text.strip()
    assert_user_texts(channel_stack, "U-slow", ["tell me a joke"])


def test_retry_of_an_event_this_server_never_received_is_processed(channel_stack, fake_slack):
    """The first delivery may never have arrived (a restart, a network
    error): then the retry is the message. Rasa's own connector drops every
    `http_timeout` retry, losing the message."""
    event = message_event("Ev-lost-first", "U-lost", "D-lost", "hello", ts())

    response = send(channel_stack, event, extra_headers={"X-Slack-Retry-Num": "1",
                                                         "X-Slack-Retry-Reason": "http_timeout"})

    assert response.status_code == 200
    assert len(fake_slack.wait_for_posts("D-lost")) >= 1
    assert_user_texts(channel_stack, "U-lost", ["hello"])


def test_a_mention_delivered_as_message_and_app_mention_is_answered_once(
    channel_stack, fake_slack
):
    """In a channel the app follows, a mention arrives twice, as `message`
    and as `app_mention` with different event ids but the same message ts."""
    stamp = ts()
    text = f"<@U0BOT> {ORDER_10002_QUESTION}"
    as_message = message_event("Ev-mention-1", "U-mention", "C-general", text, stamp,
                               channel_type="channel")
    as_mention = message_event("Ev-mention-2", "U-mention", "C-general", text, stamp,
                               event_type="app_mention", channel_type="channel")

    responses = [send(channel_stack, as_mention), send(channel_stack, as_message)]

    assert [r.status_code for r in responses] == [200, 200]
    fake_slack.wait_for_posts("C-general")
    time.sleep(QUIET_SECONDS)
    posts = fake_slack.posts_to("C-general")
    assert len(posts) == 1 and TRACKING_NUMBER_10002 in posts[0].text
    assert_user_texts(channel_stack, "U-mention", [ORDER_10002_QUESTION])  # mention removed


def test_bot_messages_and_other_channels_are_ignored(channel_stack, fake_slack):
    own = message_event("Ev-bot", "U-bot-user", "D-bot", "I am the bot", ts(), bot_id="B0BOT")
    elsewhere = message_event("Ev-elsewhere", "U-elsewhere", "C-random", "hello", ts(),
                              channel_type="channel")

    responses = [send(channel_stack, own), send(channel_stack, elsewhere)]

    assert [r.status_code for r in responses] == [200, 200]
    time.sleep(QUIET_SECONDS)
    assert fake_slack.posts_to("D-bot") == [] and fake_slack.posts_to("C-random") == []
    assert user_texts(channel_stack, "U-bot-user") == []
    assert user_texts(channel_stack, "U-elsewhere") == []


def test_button_click_is_processed(channel_stack, fake_slack):
    payload = {
        "type": "block_actions",
        "user": {"id": "U-button"},
        "channel": {"id": "D-button"},
        "message": {"ts": ts()},
        "actions": [{"type": "button", "value": "/greet", "action_id": "a1"}],
    }
    body = "payload=" + requests.utils.quote(json.dumps(payload))

    response = send(channel_stack, None, raw=body.encode(),
                    content_type="application/x-www-form-urlencoded")

    assert response.status_code == 200
    assert len(fake_slack.wait_for_posts("D-button")) >= 1
    assert_user_texts(channel_stack, "U-button", ["/greet"])


MALFORMED = [
    ("not JSON", b"{this is not json", "application/json"),
    ("a JSON list", b"[1, 2, 3]", "application/json"),
    ("event not an object", b'{"type": "event_callback", "event": "hello"}', "application/json"),
    ("message without user", json.dumps(
        {"type": "event_callback", "event_id": "Ev-nouser",
         "event": {"type": "message", "channel": "D-x", "channel_type": "im", "text": "hi"}}
    ).encode(), "application/json"),
    ("form without payload", b"foo=bar", "application/x-www-form-urlencoded"),
    ("payload not JSON", b"payload=%7Bnope", "application/x-www-form-urlencoded"),
    ("payload without actions", b"payload=%7B%22user%22%3A%7B%7D%7D",
     "application/x-www-form-urlencoded"),
    ("unsupported content type", b"hello", "text/plain"),
]


@pytest.mark.parametrize("case, body, content_type", MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_signed_requests_are_a_400(channel_stack, case, body, content_type):
    response = send(channel_stack, None, raw=body, content_type=content_type)

    assert response.status_code == 400, (case, response.status_code, response.text)


def test_oversized_requests_and_messages(channel_stack, fake_slack):
    too_big = json.dumps(message_event("Ev-huge", "U-huge", "D-huge", "x" * 2_000_000, ts()))
    long_text = message_event("Ev-long", "U-long", "D-long", "order " * 1000, ts())

    refused = send(channel_stack, None, raw=too_big.encode())
    answered = send(channel_stack, long_text)

    assert refused.status_code == 413
    assert answered.status_code == 200
    posts = fake_slack.wait_for_posts("D-long")
    assert "too long" in posts[0].text
    assert user_texts(channel_stack, "U-long") == []  # not processed
    assert fake_slack.posts_to("D-huge") == []
    assert_serving(channel_stack)
