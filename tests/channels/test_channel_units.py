"""The channels' own logic, without a server: limits, polite replies,
Slack's de-duplication, session ids, and the defaults that keep services on
loopback."""
import secrets
import subprocess
import time

import pytest
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.shared.exceptions import InvalidConfigException

from channels import limits, turns
from channels.seen_events import RedisSeenEvents, SeenEvents
from channels.slack import SlackInput
from channels.socketio import valid_session_id
from tests.support.stack import PROJECT_ROOT


@pytest.mark.parametrize("text, expected", [
    ("where is order 10002?", None),
    ("x" * 2000, None),
    ("x" * 2001, "too long"),
    ("", "couldn't read"),
    ("   ", "couldn't read"),
    (None, "couldn't read"),
    (5, "couldn't read"),
])
def test_refusal(text, expected):
    reply = limits.refusal(text, max_chars=2000)

    assert reply is None if expected is None else expected in reply


async def test_a_refused_message_is_answered_and_not_handled():
    handled = []

    async def on_new_message(message):
        handled.append(message)

    output = CollectingOutputChannel()
    handle = turns.guarded(on_new_message, max_chars=10, channel="test")

    await handle(UserMessage("x" * 11, output, "u1"))
    await handle(UserMessage("short", output, "u1"))

    assert [m.text for m in handled] == ["short"]
    assert len(output.messages) == 1 and "too long" in output.messages[0]["text"]


@pytest.mark.parametrize("value, expected", [(None, 7), ("", 7), ("  ", 7), ("12", 12), (3, 3)])
def test_positive_int(value, expected):
    assert limits.positive_int({"key": value}, "key", 7) == expected


@pytest.mark.parametrize("value", ["0", "-1", "many", "1.5"])
def test_positive_int_refuses_nonsense(value):
    with pytest.raises(InvalidConfigException):
        limits.positive_int({"key": value}, "key", 7)


def redis_seen_events(url="redis://127.0.0.1:6379/2", ttl_seconds=60):
    return RedisSeenEvents(url, ttl_seconds, key_prefix=f"slack-seen-test-{secrets.token_hex(4)}:")


@pytest.mark.parametrize("make_seen_events", [
    SeenEvents,
    pytest.param(redis_seen_events, marks=pytest.mark.redis),
], ids=["in-process", "redis"])
async def test_seen_events_by_any_key(make_seen_events):
    seen = make_seen_events()

    assert await seen.first_time("Ev1", "message:C1:1.0")
    assert not await seen.first_time("Ev1", None)  # a retry
    assert not await seen.first_time("Ev2", "message:C1:1.0")  # same message, other event
    assert await seen.first_time("Ev3", "message:C1:2.0")
    assert await seen.first_time(None, None)  # nothing to recognise it by: processed


async def test_seen_events_are_forgotten_after_their_time_and_beyond_the_size():
    short = SeenEvents(ttl_seconds=0.05)
    small = SeenEvents(max_size=2)

    await short.first_time("Ev1")
    time.sleep(0.1)
    for key in ("a", "b", "c"):
        await small.first_time(key)

    assert await short.first_time("Ev1")
    assert not await small.first_time("c") and await small.first_time("a")  # "a" was dropped


@pytest.mark.redis
async def test_redis_seen_events_are_shared_and_expire():
    first_server = redis_seen_events(ttl_seconds=1)
    second_server = RedisSeenEvents("redis://127.0.0.1:6379/2", ttl_seconds=1,
                                    key_prefix=first_server.key_prefix)

    assert await first_server.first_time("Ev1")
    assert not await second_server.first_time("Ev1")  # the retry reached the other server
    time.sleep(1.5)
    assert await second_server.first_time("Ev1")  # forgotten after the time to live


async def test_without_redis_every_event_is_processed():
    unreachable = RedisSeenEvents("redis://127.0.0.1:9/0")  # nothing listens on port 9

    assert await unreachable.first_time("Ev1")
    assert await unreachable.first_time("Ev1")  # a retry may be answered twice, none is lost


def test_slack_is_off_until_token_and_secret_are_set():
    empty = {"slack_token": "", "slack_signing_secret": "", "slack_channel": "",
             "slack_api_base_url": "", "max_message_chars": "", "max_request_bytes": ""}

    assert SlackInput.from_credentials(empty).enabled is False
    assert SlackInput.from_credentials({**empty, "slack_token": "xoxb-1"}).enabled is False
    on = SlackInput.from_credentials({**empty, "slack_token": "xoxb-1",
                                      "slack_signing_secret": "s"})
    assert on.enabled is True and on.api_base_url == "https://slack.com/api/"


def test_slack_replies_go_to_the_configured_web_api():
    channel = SlackInput.from_credentials({"slack_token": "xoxb-1", "slack_signing_secret": "s",
                                           "slack_api_base_url": "http://127.0.0.1:9/api/"})

    output = channel.get_output_channel("D1")

    assert output.client.base_url == "http://127.0.0.1:9/api/"
    assert output.slack_channel == "D1"


@pytest.mark.parametrize("value, valid", [
    ("e712416692184b54810ddf79870f70c2", True), ("user-1:web.2", True), ("a b", False),
    ("../x", False), ("", False), ("x" * 129, False), (None, False), (5, False),
])
def test_session_ids(value, valid):
    assert valid_session_id(value) is valid


def test_services_default_to_loopback():
    """The action server has no authentication: scripts bind it (and the
    rest) to loopback unless told otherwise."""
    shown = subprocess.run(
        ["bash", "-c", "unset ACTION_SERVER_HOST RASA_HOST WEBCHAT_HOST ACTION_ENDPOINT_URL; "
         "source scripts/defaults.sh; echo $ACTION_SERVER_HOST $RASA_HOST $WEBCHAT_HOST "
         "$ACTION_ENDPOINT_URL; echo \"[$RASA_API_TOKEN][$RASA_JWT_SECRET][$SLACK_BOT_TOKEN]"
         "[$SLACK_SIGNING_SECRET]\""],
        cwd=PROJECT_ROOT, capture_output=True, text=True, check=True,
        env={"PATH": "/usr/bin:/bin", "HOME": "/tmp"},
    ).stdout.split("\n")

    assert shown[0] == "127.0.0.1 127.0.0.1 127.0.0.1 http://127.0.0.1:5055/webhook"
    assert shown[1] == "[][][][]"  # secrets default to empty


@pytest.mark.parametrize("body, refused", [
    (b'[{"event": "slot", "name": "verified_orders", "value": ["10002"]}]', True),
    (b'{"event": "slot", "name": "verification_failures", "value": 0}', True),
    (b'[{"event": "slot", "name": "order_id", "value": "10002"}]', False),
    (b'[{"event": "action", "name": "action_listen"}]', False),
    (b"not json", False),  # Rasa's own 400
    (None, False),
])
def test_tracker_events_may_not_set_verification_slots(body, refused):
    from channels.http_api import sets_verification_slot

    assert sets_verification_slot(body) is refused
