"""The socket.io channel of the web chat, spoken to directly: session
persistence across connections, and malformed or oversized events answered
politely (or the connection closed), never a silent failure."""
import asyncio

import pytest

from tests.channels.support.server import (
    TRACKING_NUMBER_10002, assert_serving, assert_user_texts, user_texts,
)
from tests.channels.support.socketio_client import SocketIOClient

pytestmark = pytest.mark.integration

UNREADABLE = "couldn't read"


async def connect(stack) -> SocketIOClient:
    return await SocketIOClient(stack.rasa_url).connect()


async def test_a_new_connection_with_the_same_session_id_continues_the_conversation(
    channel_stack,
):
    """What a page reload does: a new socket, the stored session id."""
    first = await connect(channel_stack)
    session_id = await first.session(None)  # the server makes one up
    order_reply = await first.say(session_id, "where is order 10002?")
    await first.close()

    second = await connect(channel_stack)
    confirmed = await second.session(session_id)
    thanks_reply = await second.say(session_id, "thanks")
    await second.close()

    assert len(session_id) == 32 and confirmed == session_id
    assert any(TRACKING_NUMBER_10002 in text for text in order_reply), order_reply
    assert thanks_reply and all(thanks_reply)
    assert_user_texts(channel_stack, session_id, ["where is order 10002?", "thanks"])


async def test_replies_go_to_every_connection_of_the_session_and_only_there(channel_stack):
    """Two tabs of one session both see the reply; another session does not."""
    tab1, tab2, stranger = [await connect(channel_stack) for _ in range(3)]
    session_id = await tab1.session("shared-session-1")
    await tab2.session(session_id)
    await stranger.session("other-session-1")

    replies = await tab1.say(session_id, "where is order 10002?")
    in_tab2 = await tab2.next_event("bot_uttered", 10)
    await asyncio.sleep(1)

    assert any(TRACKING_NUMBER_10002 in text for text in replies)
    assert in_tab2["text"] == replies[0]
    assert stranger.events.empty()
    for client in (tab1, tab2, stranger):
        await client.close()


async def test_an_open_ended_question_in_chinese_gets_a_reply(channel_stack):
    client = await connect(channel_stack)
    session_id = await client.session(None)

    replies = await client.say(session_id, "你好，今天天气怎么样？")
    await client.close()

    assert replies and all(isinstance(text, str) and text.strip() for text in replies)
    assert_user_texts(channel_stack, session_id, ["你好，今天天气怎么样？"])


MALFORMED_MESSAGES = [
    ("a string", "just a string"),
    ("a number", 123),
    ("a list", [1, 2]),
    ("message not a string", {"message": 5, "session_id": "{session}"}),
    ("message missing", {"session_id": "{session}"}),
    ("session id missing", {"message": "hi"}),
    ("session id an object", {"message": "hi", "session_id": {"x": 1}}),
    ("session id with spaces", {"message": "hi", "session_id": "a b c"}),
    ("empty message", {"message": "   ", "session_id": "{session}"}),
    ("too long", {"message": "x" * 5000, "session_id": "{session}"}),
]


@pytest.mark.parametrize("case, data", MALFORMED_MESSAGES, ids=[m[0] for m in MALFORMED_MESSAGES])
async def test_malformed_messages_get_a_polite_reply_and_are_not_processed(
    channel_stack, case, data
):
    client = await connect(channel_stack)
    session_id = await client.session(None)
    if isinstance(data, dict):
        data = {k: (session_id if v == "{session}" else v) for k, v in data.items()}

    await client.emit("user_uttered", data)
    reply = await client.next_event("bot_uttered", 15)
    await client.close()

    expected = "too long" if case == "too long" else UNREADABLE
    assert expected in reply["text"], (case, reply)
    assert user_texts(channel_stack, session_id) == []


async def test_bad_metadata_is_dropped_and_the_message_still_answered(channel_stack):
    client = await connect(channel_stack)
    session_id = await client.session(None)

    await client.emit("user_uttered", {"message": "where is order 10002?",
                                       "session_id": session_id, "metadata": "{not json"})
    reply = await client.next_event("bot_uttered", 30)
    await client.close()

    assert TRACKING_NUMBER_10002 in reply["text"]


async def test_a_malformed_session_request_gets_a_fresh_session(channel_stack):
    client = await connect(channel_stack)

    for bad in ["a string", 42, {"session_id": "../../etc"}, {"session_id": "x" * 500}]:
        await client.emit("session_request", bad)
        confirmed = await client.next_event("session_confirm", 10)
        assert isinstance(confirmed, str) and len(confirmed) == 32 and confirmed.isalnum()
    await client.close()


async def test_garbage_frames_leave_the_connection_and_server_working(channel_stack):
    client = await connect(channel_stack)
    session_id = await client.session(None)

    for frame in ["42garbage", "4", "42[]", "42[1,2]", "9", "42" + "[" * 1000,
                  b"\x00\x01\x02binary", '42["user_uttered"]']:
        await client.send_raw(frame)
    replies = await client.say(session_id, "where is order 10002?")
    await client.close()

    assert any(TRACKING_NUMBER_10002 in text for text in replies), replies


async def test_an_oversized_frame_closes_only_that_connection(channel_stack):
    bystander = await connect(channel_stack)
    bystander_session = await bystander.session(None)
    client = await connect(channel_stack)
    session_id = await client.session(None)

    await client.send_raw('42["user_uttered",{"session_id":"%s","message":"%s"}]'
                          % (session_id, "y" * 1_100_000))
    await asyncio.wait_for(client.closed.wait(), 10)
    replies = await bystander.say(bystander_session, "where is order 10002?")
    await bystander.close()

    assert any(TRACKING_NUMBER_10002 in text for text in replies)
    assert user_texts(channel_stack, session_id) == []
    assert_serving(channel_stack)
