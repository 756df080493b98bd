"""Rasa's HTTP API: refused without (or with wrong) authentication on every
conversation and model route, a `user`-role JWT limited to its own
conversation, malformed bodies answered with a 4xx, and `scripts/run_api.sh`
refusing to enable the API without secrets."""
import json
import os
import subprocess
import time

import jwt
import pytest
import requests

from tests.channels.support import credentials
from tests.channels.support.server import (
    ORDER_10002_QUESTION, TRACKING_NUMBER_10002, assert_serving, tracker,
)
from tests.support.stack import PROJECT_ROOT

pytestmark = pytest.mark.integration

# (method, path, body): well-formed calls that would change or reveal something
CONVERSATION_ROUTES = [
    ("GET", "/conversations/alice/tracker", None),
    ("POST", "/conversations/alice/tracker/events",
     [{"event": "slot", "name": "order_id", "value": "10002"}]),
    ("PUT", "/conversations/alice/tracker/events", []),
    ("GET", "/conversations/alice/story", None),
    ("POST", "/conversations/alice/execute", {"name": "utter_greet"}),
    ("POST", "/conversations/alice/trigger_intent", {"name": "greet"}),
    ("POST", "/conversations/alice/predict", None),
    ("POST", "/conversations/alice/messages", {"text": "hello", "sender": "user"}),
]
MODEL_ROUTES = [
    ("GET", "/status", None),
    ("GET", "/domain", None),
    ("POST", "/model/parse", {"text": "where is order 10002?"}),
    ("POST", "/model/predict", []),
    ("POST", "/model/train", "version: '3.1'\n"),
    ("POST", "/model/test/stories", "version: '3.1'\n"),
    ("POST", "/model/test/intents", {"rasa_nlu_data": {"common_examples": []}}),
    ("PUT", "/model", {"model_file": "models/assistant.tar.gz"}),
    ("DELETE", "/model", None),
]
ROUTES = CONVERSATION_ROUTES + MODEL_ROUTES


def make_jwt(username: str, role: str, secret: str = credentials.JWT_SECRET,
             expires_in: int = 300, algorithm: str = "HS256") -> str:
    payload = {"user": {"username": username, "role": role},
               "exp": int(time.time()) + expires_in}
    return jwt.encode(payload, secret, algorithm=algorithm)


def unsigned_jwt(username: str, role: str) -> str:
    payload = {"user": {"username": username, "role": role}, "exp": int(time.time()) + 300}
    return jwt.encode(payload, key=None, algorithm="none")


WRONG_AUTH = {
    "none": ({}, {}),
    "wrong token": ({"token": "not-the-token"}, {}),
    "token as bearer": ({}, {"Authorization": f"Bearer {credentials.API_TOKEN}"}),
    "jwt wrong secret": ({}, {"Authorization": "Bearer " + make_jwt("alice", "admin", "x" * 32)}),
    "jwt unsigned": ({}, {"Authorization": "Bearer " + unsigned_jwt("alice", "admin")}),
    # sanic-jwt accepts a token up to 3 minutes after it expired (its leeway)
    "jwt expired": ({}, {"Authorization": "Bearer " + make_jwt("alice", "admin",
                                                                expires_in=-3600)}),
    "jwt garbage": ({}, {"Authorization": "Bearer not.a.jwt"}),
}


def call(stack, method, path, body=None, params=None, headers=None):
    if isinstance(body, str):
        data, content_type = body.encode(), "application/x-yaml"
    else:
        data, content_type = (None, None) if body is None else (json.dumps(body).encode(),
                                                                "application/json")
    headers = {**({"Content-Type": content_type} if content_type else {}), **(headers or {})}
    return requests.request(method, stack.rasa_url + path, data=data, params=params,
                            headers=headers, timeout=30)


def bearer(token: str):
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("auth", list(WRONG_AUTH))
@pytest.mark.parametrize("method, path, body", ROUTES,
                         ids=[f"{m} {p}" for m, p, _ in ROUTES])
def test_unauthenticated_and_wrongly_authenticated_calls_are_refused(
    channel_stack, method, path, body, auth
):
    params, headers = WRONG_AUTH[auth]

    response = call(channel_stack, method, path, body, params, headers)

    assert response.status_code == 401, (response.status_code, response.text[:300])


def test_refused_calls_changed_nothing(channel_stack):
    """After all the refused calls above: alice's conversation is untouched
    and the model is still loaded."""
    events = tracker(channel_stack, "alice")["events"]
    status = call(channel_stack, "GET", "/status", params={"token": credentials.API_TOKEN})

    assert [e for e in events if e["event"] in ("user", "bot", "slot")] == []
    assert status.status_code == 200 and status.json()["model_file"]


def test_the_token_and_an_admin_jwt_are_accepted(channel_stack):
    by_token = call(channel_stack, "GET", "/status", params={"token": credentials.API_TOKEN})
    by_jwt = call(channel_stack, "GET", "/status", headers=bearer(make_jwt("ops", "admin")))

    assert (by_token.status_code, by_jwt.status_code) == (200, 200)


def test_a_user_role_jwt_reads_only_its_own_conversation(channel_stack):
    channel_stack.say("bob", ORDER_10002_QUESTION)
    channel_stack.say("alice-user", "hello")
    alice = bearer(make_jwt("alice-user", "user"))

    own = call(channel_stack, "GET", "/conversations/alice-user/tracker", headers=alice)
    others = call(channel_stack, "GET", "/conversations/bob/tracker", headers=alice)
    others_story = call(channel_stack, "GET", "/conversations/bob/story", headers=alice)
    write_to_others = call(channel_stack, "POST", "/conversations/bob/messages",
                           {"text": "cancel my order", "sender": "user"}, headers=alice)
    model = call(channel_stack, "POST", "/model/parse", {"text": "hi"}, headers=alice)
    admin = call(channel_stack, "GET", "/conversations/bob/tracker",
                 headers=bearer(make_jwt("ops", "admin")))

    assert own.status_code == 200 and own.json()["sender_id"] == "alice-user"
    assert others.status_code == 403 and TRACKING_NUMBER_10002 not in others.text
    assert others_story.status_code == 403 and "10002" not in others_story.text
    assert write_to_others.status_code == 403
    assert model.status_code == 403
    assert admin.status_code == 200 and TRACKING_NUMBER_10002 in admin.text
    assert "cancel my order" not in admin.text


@pytest.mark.parametrize("method, body", [
    ("POST", [{"event": "slot", "name": "verified_orders", "value": ["10002"]}]),
    ("POST", {"event": "slot", "name": "verification_failures", "value": 0}),
    ("PUT", [{"event": "action", "name": "action_listen"},
             {"event": "slot", "name": "verified_orders", "value": ["10002"]}]),
])
def test_no_caller_can_mark_an_order_verified(channel_stack, method, body):
    """Else a user-role JWT could verify an order in its own conversation and
    execute action_order_status on it."""
    channel_stack.say("mallory", "hi")
    for headers in (bearer(make_jwt("mallory", "user")), bearer(make_jwt("ops", "admin"))):
        response = call(channel_stack, method, "/conversations/mallory/tracker/events", body,
                        headers=headers)
        assert response.status_code == 403, response.text
    executed = call(channel_stack, "POST", "/conversations/mallory/execute",
                    {"name": "action_order_status"}, params={"token": credentials.API_TOKEN})
    assert TRACKING_NUMBER_10002 not in executed.text


def test_a_jwt_without_a_role_gets_nothing(channel_stack):
    response = call(channel_stack, "GET", "/conversations/bob/tracker",
                    headers=bearer(make_jwt("bob", "")))

    assert response.status_code == 403


MALFORMED = [
    ("POST", "/model/parse", b"{not json"),
    ("POST", "/model/parse", b"[1]"),
    ("POST", "/model/parse", b"{}"),
    ("POST", "/model/parse", b'{"text": 5}'),
    ("POST", "/model/parse", json.dumps({"text": "x" * 5000}).encode()),
    ("POST", "/conversations/malformed/messages", b"[1]"),
    ("POST", "/conversations/malformed/messages", b'{"text": 5, "sender": "user"}'),
    ("POST", "/conversations/malformed/messages", b'{"text": "hi"}'),
    ("POST", "/conversations/malformed/trigger_intent", b"[]"),
    ("POST", "/conversations/malformed/trigger_intent", b'{"name": 5}'),
    ("POST", "/conversations/malformed/execute", b"[]"),
    ("POST", "/conversations/malformed/execute", b'{"name": "action_that_does_not_exist"}'),
    ("POST", "/conversations/malformed/tracker/events", b'[{"event": "nope"}]'),
    ("POST", "/conversations/malformed/tracker/events", b'"x"'),
    ("POST", "/model/predict", b"[1]"),
    ("POST", "/model/train", b"{not yaml"),
    ("PUT", "/model", b"[]"),
    ("PUT", "/model", b'{"model_file": "/etc/passwd"}'),
    ("POST", "/model/parse", b"x" * 2_000_000),
]


@pytest.mark.parametrize("method, path, body", MALFORMED,
                         ids=[f"{m} {p} {b[:20]!r}" for m, p, b in MALFORMED])
def test_malformed_bodies_with_valid_auth_get_a_4xx(channel_stack, method, path, body):
    response = requests.request(method, channel_stack.rasa_url + path, data=body,
                                params={"token": credentials.API_TOKEN},
                                headers={"Content-Type": "application/json"}, timeout=30)

    assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])


def test_execute_runs_a_known_action_and_refuses_an_unknown_one(channel_stack):
    token = {"token": credentials.API_TOKEN}
    channel_stack.say("carol", "hi")  # execute needs an existing conversation
    known = call(channel_stack, "POST", "/conversations/carol/execute",
                 {"name": "utter_greet"}, params=token)
    unknown = call(channel_stack, "POST", "/conversations/carol/execute",
                   {"name": "action_that_does_not_exist"}, params=token)

    assert known.status_code == 200 and known.json()["messages"], known.text
    assert unknown.status_code == 404
    assert "action_that_does_not_exist" in unknown.json()["message"]


def test_the_server_still_serves_after_the_api_tests(channel_stack):
    assert_serving(channel_stack)


def run_api_script(**env):
    """scripts/run_api.sh, which must refuse before it starts anything (were it
    to start the servers, this would run into the timeout)."""
    return subprocess.run(
        ["bash", "scripts/run_api.sh"], cwd=PROJECT_ROOT, capture_output=True, text=True,
        env={**os.environ, "RASA_API_TOKEN": "", "RASA_JWT_SECRET": "", **env}, timeout=30,
    )


@pytest.mark.parametrize("env", [
    {},
    {"RASA_API_TOKEN": "short"},
    {"RASA_JWT_SECRET": "short"},
    {"RASA_API_TOKEN": "t" * 20, "RASA_JWT_SECRET": "s" * 20},  # HS256 wants 32 bytes
])
def test_run_api_refuses_to_enable_the_api_without_proper_secrets(env):
    result = run_api_script(**env)

    assert result.returncode == 2
    assert "refusing to enable the HTTP API" in result.stderr
