"""A burst of garbage on every channel at once (REST, socket.io, Slack, HTTP
API), then a normal conversation on each: no 500 during the burst, and the
server answers as before afterwards."""
import asyncio
import json
import random
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.channels.support import credentials
from tests.channels.support.server import (
    ORDER_10002_QUESTION, TRACKING_NUMBER_10002, user_texts,
)
from tests.channels.support.slack import message_event, signed_headers
from tests.channels.support.socketio_client import SocketIOClient

pytestmark = pytest.mark.integration

rng = random.Random(5)


def junk_bytes(size: int) -> bytes:
    return bytes(rng.randrange(256) for _ in range(size))


def http_garbage(stack):
    """(method, url, body, headers) of malformed requests for every HTTP route."""
    rest, slack = stack.rest_webhook, f"{stack.rasa_url}/webhooks/slack/webhook"
    json_header = {"Content-Type": "application/json"}
    signed_junk = [junk_bytes(200), b"[]", b'{"event": 5}', b"payload=%7B"]
    requests_ = []
    for i in range(20):
        requests_ += [
            ("POST", rest, junk_bytes(300), json_header),
            ("POST", rest, b'{"sender": 1, "message": [1]}', json_header),
            ("POST", rest, json.dumps({"sender": f"burst-{i}", "message": "z" * 3000}).encode(),
             json_header),
            ("POST", slack, junk_bytes(300), json_header),
            ("POST", slack, json.dumps(message_event(f"Ev-burst-{i}", "U-burst", "D-burst",
                                                     "hello", "1.0")).encode(),
             {**json_header, "X-Slack-Signature": "v0=forged",
              "X-Slack-Request-Timestamp": str(int(time.time()))}),
            ("POST", f"{stack.rasa_url}/model/parse", junk_bytes(100),
             {**json_header, "Authorization": "Bearer junk"}),
            ("GET", f"{stack.rasa_url}/conversations/{junk_bytes(8).hex()}/tracker", None, {}),
            ("GET", f"{stack.rasa_url}/socket.io/?EIO=99&transport=bogus", None, {}),
        ]
        body = signed_junk[i % len(signed_junk)]
        content_type = "application/x-www-form-urlencoded" if body.startswith(b"payload") \
            else "application/json"
        requests_.append(("POST", slack, body,
                          signed_headers(body, credentials.SLACK_SIGNING_SECRET,
                                         content_type=content_type)))
    for _ in range(3):
        requests_.append(("POST", rest, b"x" * 3_000_000, json_header))
    rng.shuffle(requests_)
    return requests_


def send(request):
    method, url, body, headers = request
    try:
        return requests.request(method, url, data=body, headers=headers, timeout=60).status_code
    except requests.ConnectionError:
        return "connection reset"  # allowed for oversized bodies only


async def socketio_garbage(stack):
    clients = [await SocketIOClient(stack.rasa_url).connect() for _ in range(5)]
    for client in clients:
        for frame in ["42garbage", "42[1,2]", '42["user_uttered", 5]', "4", junk_bytes(50),
                      '42["session_request", "x"]', '42["user_uttered", {"message": "hi"}]']:
            await client.send_raw(frame)
    await asyncio.sleep(1)
    for client in clients:
        await client.close()


async def test_a_burst_of_garbage_then_a_normal_conversation_on_every_channel(
    channel_stack, fake_slack
):
    garbage = http_garbage(channel_stack)
    loop = asyncio.get_running_loop()
    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = loop.run_in_executor(pool, lambda: list(pool.map(send, garbage)))
        await socketio_garbage(channel_stack)
        statuses = await statuses

    def failed(request, status) -> bool:
        oversized = len(request[2] or b"") > 1_000_000
        return status == "connection reset" and not oversized or (
            isinstance(status, int) and status >= 500)

    server_errors = [(g[0], g[1], s) for g, s in zip(garbage, statuses) if failed(g, s)]
    assert server_errors == []
    assert channel_stack.processes[-1].poll() is None  # the Rasa server is still running

    # REST
    replies = channel_stack.say("after-burst-rest", ORDER_10002_QUESTION)
    assert any(TRACKING_NUMBER_10002 in r.get("text", "") for r in replies), replies
    # socket.io
    client = await SocketIOClient(channel_stack.rasa_url).connect()
    session_id = await client.session(None)
    texts = await client.say(session_id, ORDER_10002_QUESTION)
    await client.close()
    assert any(TRACKING_NUMBER_10002 in text for text in texts), texts
    # Slack
    event = message_event("Ev-after-burst", "U-after-burst", "D-after-burst",
                          ORDER_10002_QUESTION, f"{time.time():.6f}")
    body = json.dumps(event).encode()
    response = requests.post(f"{channel_stack.rasa_url}/webhooks/slack/webhook", data=body,
                             headers=signed_headers(body, credentials.SLACK_SIGNING_SECRET),
                             timeout=10)
    assert response.status_code == 200
    posts = fake_slack.wait_for_posts("D-after-burst")
    assert posts and TRACKING_NUMBER_10002 in posts[0].text
    # nothing from the burst reached a conversation
    assert user_texts(channel_stack, "U-burst") == []
    assert fake_slack.posts_to("D-burst") == []
