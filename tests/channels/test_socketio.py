"""The socket.io channel of the web chat, spoken to directly: signed
sessions (a guessed, forged or expired session id reaches no conversation),
the Origin allowlist, the identity a signed session carries, session
persistence across connections, and malformed or oversized events answered
politely (or the connection closed), never a silent failure."""
import asyncio
import time

import pytest
import requests
import websockets

from channels import webchat_session
from channels.identity import IDENTITY_KEY
from tests.channels.support import credentials
from tests.channels.support.server import (
    TRACKING_NUMBER_10002, assert_serving, assert_user_texts, tracker, user_texts, webchat_origin,
)
from tests.channels.support.socketio_client import SocketIOClient

pytestmark = pytest.mark.integration

UNREADABLE = "couldn't read"
INVALID_SESSION = "not valid any more"
SECRET = credentials.WEBCHAT_SESSION_SECRET


async def connect(stack, origin=None) -> SocketIOClient:
    return await SocketIOClient(stack.rasa_url, origin=origin).connect()


def conversation(token: str) -> str:
    """The conversation a session token names (it must be valid)."""
    session = webchat_session.verify(SECRET, token)
    assert session is not None, token
    return session.session_id


def user_metadata(stack, conversation_id: str):
    """The metadata of each user message as the server stored it, without
    the keys Rasa adds."""
    events = tracker(stack, conversation_id)["events"]
    return [{k: v for k, v in (e.get("metadata") or {}).items()
             if k not in ("model_id", "assistant_id")}
            for e in events if e["event"] == "user"]


def about_order_10002(texts) -> bool:
    """A reply to "where is order 10002?": its status, or, in an anonymous
    session, the question for the e-mail address on it (actions/verification.py)."""
    return any("10002" in text or TRACKING_NUMBER_10002 in text for text in texts)


def asks_for_email(texts) -> bool:
    return any("e-mail address" in text.replace("\\", "") for text in texts)


async def test_a_new_connection_with_the_same_session_id_continues_the_conversation(
    channel_stack,
):
    """What a page reload does: a new socket, the stored session id."""
    first = await connect(channel_stack)
    session_id = await first.session(None)  # the server makes one up
    order_reply = await first.say(session_id, "where is order 10002?")
    await first.close()

    second = await connect(channel_stack)
    confirmed = await second.session(session_id)  # renewed: another token, same session
    thanks_reply = await second.say(confirmed, "thanks")
    await second.close()

    assert confirmed != session_id and conversation(confirmed) == conversation(session_id)
    assert about_order_10002(order_reply), order_reply
    assert thanks_reply and all(thanks_reply)
    assert_user_texts(channel_stack, conversation(session_id),
                      ["where is order 10002?", "thanks"])


async def test_replies_go_to_every_connection_of_the_session_and_only_there(channel_stack):
    """Two tabs of one session both see the reply; another session does not."""
    tab1, tab2, stranger = [await connect(channel_stack) for _ in range(3)]
    session_id = await tab1.session(None)
    await tab2.session(session_id)
    await stranger.session(None)

    replies = await tab1.say(session_id, "where is order 10002?")
    in_tab2 = await tab2.next_event("bot_uttered", 10)
    await asyncio.sleep(1)

    assert about_order_10002(replies), replies
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
    assert_user_texts(channel_stack, conversation(session_id), ["你好，今天天气怎么样？"])


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

    expected = {"too long": "too long", "session id missing": INVALID_SESSION,
                "session id an object": INVALID_SESSION,
                "session id with spaces": INVALID_SESSION}.get(case, UNREADABLE)
    assert expected in reply["text"], (case, reply)
    assert user_texts(channel_stack, conversation(session_id)) == []


async def test_bad_metadata_is_dropped_and_the_message_still_answered(channel_stack):
    client = await connect(channel_stack)
    session_id = await client.session(None)

    await client.emit("user_uttered", {"message": "where is order 10002?",
                                       "session_id": session_id, "metadata": "{not json"})
    reply = await client.next_event("bot_uttered", 30)
    await client.close()

    assert about_order_10002([reply["text"]]), reply


async def test_a_malformed_session_request_gets_a_fresh_session(channel_stack):
    client = await connect(channel_stack)

    for bad in ["a string", 42, {"session_id": "../../etc"}, {"session_id": "x" * 500}]:
        await client.emit("session_request", bad)
        confirmed = await client.next_event("session_confirm", 10)
        assert webchat_session.verify(SECRET, confirmed).customer is None
    await client.close()


async def test_garbage_frames_leave_the_connection_and_server_working(channel_stack):
    client = await connect(channel_stack)
    session_id = await client.session(None)

    for frame in ["42garbage", "4", "42[]", "42[1,2]", "9", "42" + "[" * 1000,
                  b"\x00\x01\x02binary", '42["user_uttered"]']:
        await client.send_raw(frame)
    replies = await client.say(session_id, "where is order 10002?")
    await client.close()

    assert about_order_10002(replies), replies


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

    assert about_order_10002(replies), replies
    assert user_texts(channel_stack, conversation(session_id)) == []
    assert_serving(channel_stack)


# ---- signed sessions: a session id that is guessed, forged or expired

def forged_sessions(victim_token: str):
    """What an attacker who knows (or guesses) the victim's conversation id
    can send without the secret, and an expired token of the victim's own."""
    victim_id = conversation(victim_token)
    parts = victim_token.split(".")
    return {
        "the conversation id itself": victim_id,
        "signed with another secret": webchat_session.sign(
            "another secret, 32 characters long", victim_id, None, int(time.time()) + 3600),
        "the signature of another token": ".".join(
            parts[:5] + [webchat_session.new_session(SECRET).split(".")[5]]),
        "a customer added": ".".join(parts[:2] + [webchat_session._b64(b"C-1001")] + parts[3:]),
        "unsigned": ".".join(parts[:5]),
        "expired": webchat_session.sign(SECRET, victim_id, None, int(time.time()) - 1),
        "an old-style uuid": "e712416692184b54810ddf79870f70c2",
    }


async def test_a_forged_session_id_neither_joins_nor_writes_to_another_conversation(
    channel_stack,
):
    victim = await connect(channel_stack)
    victim_token = await victim.session(None)
    await victim.say(victim_token, "where is order 10002?")
    victim_conversation = conversation(victim_token)

    for case, forged in forged_sessions(victim_token).items():
        attacker = await connect(channel_stack)
        # asking for the victim's session: a new conversation of its own
        confirmed = await attacker.session(forged)
        assert conversation(confirmed) != victim_conversation, case
        assert webchat_session.verify(SECRET, confirmed).customer is None, case
        # writing with the forged id: a polite reply to the attacker only
        await attacker.emit("user_uttered", {"message": "cancel order 10002",
                                             "session_id": forged})
        reply = await attacker.next_event("bot_uttered", 15)
        assert INVALID_SESSION in reply["text"], (case, reply)
        assert user_texts(channel_stack, conversation(confirmed)) == [], case
        await attacker.close()
    await asyncio.sleep(1)

    # the victim saw nothing of it, and the conversation holds its own message only
    assert victim.events.empty()
    assert_user_texts(channel_stack, victim_conversation, ["where is order 10002?"])
    # ... and goes on
    assert await victim.say(victim_token, "thanks")
    await victim.close()


async def test_a_session_the_page_server_issued_is_accepted(channel_stack):
    """Tokens are made by the page server, not by this channel: one signed
    with the shared secret elsewhere (here, by the test) works."""
    token = webchat_session.new_session(SECRET)
    client = await connect(channel_stack)

    confirmed = await client.session(token)
    replies = await client.say(token, "where is order 10002?")
    await client.close()

    assert conversation(confirmed) == conversation(token)
    assert about_order_10002(replies), replies
    assert_user_texts(channel_stack, conversation(token), ["where is order 10002?"])


# ---- Origin allowlist

async def test_a_page_of_another_origin_cannot_connect(channel_stack, webchat_port):
    for foreign in ["http://evil.example", f"http://127.0.0.1:{webchat_port + 1}",
                    f"http://localhost:{webchat_port}", "null"]:
        with pytest.raises(websockets.InvalidStatusCode) as refused:
            await connect(channel_stack, origin=foreign)
        assert refused.value.status_code == 403, foreign
        polling = requests.get(f"{channel_stack.rasa_url}/socket.io/",
                               params={"EIO": "4", "transport": "polling"},
                               headers={"Origin": foreign}, timeout=10)
        assert polling.status_code == 403, foreign
        assert "Access-Control-Allow-Origin" not in polling.headers

    # the page's own origin chats, over WebSocket and polling
    page = webchat_origin(webchat_port)
    client = await connect(channel_stack, origin=page)
    token = await client.session(None)
    replies = await client.say(token, "where is order 10002?")
    await client.close()
    polling = requests.get(f"{channel_stack.rasa_url}/socket.io/",
                           params={"EIO": "4", "transport": "polling"},
                           headers={"Origin": page}, timeout=10)

    assert about_order_10002(replies), replies
    assert polling.status_code == 200 and polling.text.startswith("0{")
    # one CORS header (Rasa's --cors), not a second one from engine.io
    assert polling.raw.headers.getlist("Access-Control-Allow-Origin") == [page]


# ---- identity: only a validly signed session names a customer

async def test_the_customer_of_a_signed_session_reaches_the_actions(channel_stack):
    token = webchat_session.new_session(SECRET, "C-1001")
    client = await connect(channel_stack)
    await client.session(token)

    await client.say(token, "hello")
    # what the client claims under the key is replaced by the session's customer
    await client.emit("user_uttered", {
        "message": "thanks", "session_id": token,
        "metadata": {IDENTITY_KEY: {"channel": "socketio", "user": "C-2002"}, "page": "/help"},
    })
    await client.next_event("bot_uttered", 30)
    await client.close()

    identity = {"channel": "socketio", "user": "C-1001"}
    assert user_metadata(channel_stack, conversation(token)) == [
        {IDENTITY_KEY: identity}, {IDENTITY_KEY: identity, "page": "/help"}]


async def test_a_client_cannot_claim_an_identity_without_a_signed_customer(channel_stack):
    client = await connect(channel_stack)
    token = await client.session(None)  # anonymous
    claim = {IDENTITY_KEY: {"channel": "socketio", "user": "C-1001"}, "page": "/help"}

    await client.emit("user_uttered", {"message": "where is order 10002?",
                                       "session_id": token, "metadata": claim})
    await client.next_event("bot_uttered", 30)
    # a forged token naming the customer is not processed at all
    forged = ".".join(token.split(".")[:2] + [webchat_session._b64(b"C-1001")]
                      + token.split(".")[3:])
    await client.emit("user_uttered", {"message": "cancel order 10002", "session_id": forged,
                                       "metadata": claim})
    reply = await client.next_event("bot_uttered", 15)
    await client.close()

    assert INVALID_SESSION in reply["text"]
    assert user_metadata(channel_stack, conversation(token)) == [{"page": "/help"}]


async def test_a_signed_customer_sees_their_own_order_without_the_email_question(channel_stack):
    """The whole way: the session's customer reaches the action server,
    which knows `customer-10002` on socket.io as the owner of order 10002
    (demo identities, actions/orders_db.py); an anonymous session is asked
    for the e-mail address, and a forged customer session gets nothing."""
    owner = webchat_session.new_session(SECRET, "customer-10002")
    other = webchat_session.new_session(SECRET, "customer-10003")
    anonymous = webchat_session.new_session(SECRET)
    forged = ".".join(anonymous.split(".")[:2] + [webchat_session._b64(b"customer-10002")]
                      + anonymous.split(".")[3:])
    replies = {}
    for name, token in [("owner", owner), ("other", other), ("anonymous", anonymous),
                        ("forged", forged)]:
        client = await connect(channel_stack)
        await client.session(token)
        replies[name] = await client.say(token, "where is order 10002?")
        await client.close()

    assert any(TRACKING_NUMBER_10002 in text for text in replies["owner"]), replies
    assert not asks_for_email(replies["owner"]), replies
    for name in ("other", "anonymous"):
        assert asks_for_email(replies[name]), (name, replies)
        assert not any(TRACKING_NUMBER_10002 in text for text in replies[name]), replies
    assert len(replies["forged"]) == 1 and INVALID_SESSION in replies["forged"][0], replies
