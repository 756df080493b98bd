"""Bad input through the REST channel of the real stack: odd messages get a
polite reply, malformed requests a 4xx that says what is wrong; never a 500
or a stack trace, and the conversation goes on normally afterwards.

For reference, Rasa 3.6's own RestInput (what channels/rest.py replaces)
answers a body that is not a JSON object (empty body, `[1, 2]`, `null`,
`"hello"`) with a 500, silently drops a `message` that is not a string
(200 and `[]`), and sends a 10,000-character message through NLU."""
import json
import socket
from datetime import timedelta
from typing import Dict

import pytest
import requests

from actions.formatting import format_date
from actions.fallback_decision import CANNED_UNAVAILABLE, CJK_REPLY
from actions.orders_db import demo_email
from actions.verification import email_question, mismatch_reply
from channels.limits import TOO_LONG_REPLY, UNREADABLE_REPLY
from tests.integration.conftest import bot

pytestmark = pytest.mark.integration

ASK_STATUS_ORDER = "Sure, I can check that. What's your order number? It has five digits, like 10023."


def status_10007(today) -> str:
    return (
        "Order #10007 (1x Headlamp 400, 1x Trekking Poles, $134.00) shipped on "
        f"{format_date(today - timedelta(days=1))} with USPS, tracking number "
        f"9400111899223344556678. Expected delivery: {format_date(today + timedelta(days=3))}."
    )


def check_still_works(stack, sender: str, today) -> None:
    """The same conversation goes on normally."""
    assert stack.say(sender, "where is my order?") == [bot(sender, ASK_STATUS_ORDER)]
    assert stack.say(sender, "10007") == [bot(sender, email_question("10007"))]
    assert stack.say(sender, demo_email("10007")) == [bot(sender, status_10007(today))]


def assert_no_stack_trace(body: str) -> None:
    for sign in ("Traceback", 'File "', "site-packages", "Exception"):
        assert sign not in body


# odd messages: a polite reply ------------------------------------------------


ODD_MESSAGES = {
    "empty": "",
    "whitespace": " \n\t ",
    "long": ("I need help with my order. " * 400)[:10_000],  # no trailing space: Rasa strips it
    "emoji": "😀🎉👍",
    "chinese": "你好，今天天气怎么样？",
}


@pytest.mark.parametrize("case", ODD_MESSAGES)
def test_odd_message_gets_a_polite_reply(stack, today, case):
    limit = int(stack.env["CHANNEL_MAX_MESSAGE_CHARS"])
    expected = {
        "empty": UNREADABLE_REPLY,
        "whitespace": UNREADABLE_REPLY,
        # refused before NLU, which would hold up the server
        "long": TOO_LONG_REPLY.format(length=10_000, limit=limit),
        # the LLM fallback; the test stack has no model server
        "emoji": CANNED_UNAVAILABLE,
        "chinese": CJK_REPLY,
    }[case]
    text = ODD_MESSAGES[case]
    sender = f"bad-{case}"
    assert stack.say(sender, text) == [bot(sender, expected)]
    check_still_works(stack, sender, today)


def test_unknown_order_number(stack, today):
    # an unknown number is treated like a known one with a wrong address:
    # the reply does not tell which order numbers exist
    sender = "bad-unknown-order"
    assert stack.say(sender, "where is order 99999?") == [bot(sender, email_question("99999"))]
    assert stack.say(sender, demo_email("99999")) == [
        bot(sender, mismatch_reply("99999", locked=False)),
        bot(sender, email_question("99999")),
    ]
    # the reply asked for the address again or the right order number: the number
    assert stack.say(sender, "10007") == [bot(sender, email_question("10007"))]
    assert stack.say(sender, demo_email("10007")) == [bot(sender, status_10007(today))]


@pytest.mark.parametrize("typed", ["1234", "123456"])
def test_malformed_order_number_while_asked(stack, today, typed):
    sender = f"bad-malformed-{typed}"
    assert stack.say(sender, "where is my order?") == [bot(sender, ASK_STATUS_ORDER)]
    assert stack.say(sender, typed) == [
        bot(
            sender,
            f"\"{typed}\" isn't an order number: order numbers have five digits, like 10023. "
            "You'll find yours in the confirmation e-mail.",
        ),
        bot(sender, ASK_STATUS_ORDER),
    ]
    assert stack.say(sender, "10007") == [bot(sender, email_question("10007"))]
    assert stack.say(sender, demo_email("10007")) == [bot(sender, status_10007(today))]


# malformed requests: a 4xx that says what is wrong ---------------------------

NOT_AN_OBJECT = "The body must be a JSON object with a 'message' string."
MESSAGE_NOT_A_STRING = "'message' must be a string."
BAD_SENDER = "'sender' must be a string of 1 to 128 characters."


def bad_request(message: str) -> Dict:
    return {"description": "Bad Request", "status": 400, "message": message}


MALFORMED_REQUESTS = [
    ("broken-json", b'{"sender": "SENDER", "message": ', "Failed when parsing body as json"),
    ("empty-body", b"", NOT_AN_OBJECT),
    ("array", b"[1, 2]", NOT_AN_OBJECT),
    ("null", b"null", NOT_AN_OBJECT),
    ("string", b'"hello"', NOT_AN_OBJECT),
    ("number", b"42", NOT_AN_OBJECT),
    ("no-message", b'{"sender": "SENDER"}', MESSAGE_NOT_A_STRING),
    ("message-number", b'{"sender": "SENDER", "message": 123}', MESSAGE_NOT_A_STRING),
    ("message-list", b'{"sender": "SENDER", "message": ["hi"]}', MESSAGE_NOT_A_STRING),
    ("message-object", b'{"sender": "SENDER", "message": {"text": "hi"}}', MESSAGE_NOT_A_STRING),
    ("message-null", b'{"sender": "SENDER", "message": null}', MESSAGE_NOT_A_STRING),
    ("sender-number", b'{"sender": 42, "message": "hi"}', BAD_SENDER),
    ("sender-empty", b'{"sender": "", "message": "hi"}', BAD_SENDER),
    ("sender-long", json.dumps({"sender": "x" * 129, "message": "hi"}).encode(), BAD_SENDER),
    ("metadata-string", b'{"sender": "SENDER", "message": "hi", "metadata": "x"}',
     "'metadata' must be a JSON object."),
    ("input-channel-number", b'{"sender": "SENDER", "message": "hi", "input_channel": 5}',
     "'input_channel' must be a string."),
]


@pytest.mark.parametrize(
    "case, body, error", [pytest.param(*request, id=request[0]) for request in MALFORMED_REQUESTS]
)
def test_malformed_json_request_is_a_400(stack, today, case, body, error):
    sender = f"bad-{case}"
    response = requests.post(
        stack.rest_webhook, data=body.replace(b"SENDER", sender.encode()),
        headers={"Content-Type": "application/json"}, timeout=30,
    )
    assert (response.status_code, response.json()) == (400, bad_request(error))
    assert_no_stack_trace(response.text)
    check_still_works(stack, sender, today)


def test_body_that_is_not_json_is_a_400(stack, today):
    response = requests.post(
        stack.rest_webhook, data="where is my order?", headers={"Content-Type": "text/plain"},
        timeout=30,
    )
    # Sanic's error page, without a traceback (debug mode is off)
    assert response.status_code == 400
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert "<h1>⚠️ 400 — Bad Request</h1><p>Failed when parsing body as json" in response.text
    assert_no_stack_trace(response.text)
    check_still_works(stack, "bad-not-json", today)


def test_oversized_body_is_refused_before_it_is_read(stack, today):
    # only the headers are sent: the announced length alone gets the 413
    limit = int(stack.env["CHANNEL_MAX_REQUEST_BYTES"])
    with socket.create_connection(("127.0.0.1", stack.rasa_port), timeout=30) as connection:
        connection.sendall(
            b"POST /webhooks/rest/webhook HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\n"
            + f"Content-Length: {limit + 1}\r\n\r\n".encode()
        )
        answer = b""
        while not answer.endswith(b"}"):
            chunk = connection.recv(65536)
            if not chunk:
                break
            answer += chunk
    head, _, body = answer.decode().partition("\r\n\r\n")
    assert head.split("\r\n")[0] == "HTTP/1.1 413 Request Entity Too Large"
    assert json.loads(body) == {
        "description": "Request Entity Too Large", "status": 413,
        "message": "Request body exceeds the size limit",
    }
    check_still_works(stack, "bad-oversized", today)


def test_get_on_the_webhook_is_a_405(stack, today):
    response = requests.get(stack.rest_webhook, timeout=30)
    assert (response.status_code, response.headers["allow"]) == (405, "POST")
    assert_no_stack_trace(response.text)
    check_still_works(stack, "bad-get", today)
