"""rasa_server.bounded_actions against a real local HTTP server: a hung,
failing or absent action server costs at most the limit and answers with an
apology; a rejection (400) stays Rasa's."""
import asyncio
import socket
import time

import pytest
from aiohttp import web
from rasa.utils.endpoints import ClientResponseError, EndpointConfig

from rasa_server.bounded_actions import ACTION_FAILED_REPLY, BoundedActionEndpoint, bound_action_calls

BODY = {"next_action": "action_check_order", "tracker": {}}


@pytest.fixture
async def action_server():
    async def hang(_):
        await asyncio.sleep(5)
        return web.json_response({"events": [], "responses": []})

    async def fail(_):
        return web.Response(status=500, text="boom")

    async def reject(_):
        return web.json_response({"action_name": "x", "error": "no"}, status=400)

    async def ok(_):
        return web.json_response({"events": [], "responses": [{"text": "Shipped."}]})

    app = web.Application()
    app.add_routes([web.post("/hang", hang), web.post("/fail", fail),
                    web.post("/reject", reject), web.post("/ok", ok)])
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


def bounded(url, timeout_s=0.5):
    return BoundedActionEndpoint(EndpointConfig(url), timeout_s)


async def test_a_hung_action_server_costs_the_limit_and_an_apology(action_server):
    started = time.monotonic()
    answer = await bounded(f"{action_server}/hang").request(json=BODY, method="post")
    assert time.monotonic() - started < 2
    assert answer["responses"] == [{"text": ACTION_FAILED_REPLY}]


async def test_a_server_error_is_an_apology(action_server):
    answer = await bounded(f"{action_server}/fail").request(json=BODY, method="post")
    assert answer["responses"][0]["text"] == ACTION_FAILED_REPLY


async def test_no_action_server_is_an_apology():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens there once closed
    answer = await bounded(f"http://127.0.0.1:{port}/webhook").request(json=BODY, method="post")
    assert answer["responses"][0]["text"] == ACTION_FAILED_REPLY


async def test_a_rejection_is_still_raised(action_server):
    with pytest.raises(ClientResponseError) as raised:
        await bounded(f"{action_server}/reject").request(json=BODY, method="post")
    assert raised.value.status == 400


async def test_a_working_action_server_answers_as_before(action_server):
    answer = await bounded(f"{action_server}/ok").request(json=BODY, method="post")
    assert answer["responses"] == [{"text": "Shipped."}]


def test_the_agent_and_its_processor_get_the_bounded_endpoint():
    class Holder:
        pass

    agent, agent.processor = Holder(), Holder()
    agent.action_endpoint = EndpointConfig("http://actions:5055/webhook", token="t")
    assert bound_action_calls(agent, 15)
    assert isinstance(agent.processor.action_endpoint, BoundedActionEndpoint)
    assert agent.action_endpoint.url == "http://actions:5055/webhook"
    assert agent.action_endpoint.token == "t" and agent.action_endpoint.timeout_s == 15
    assert not bound_action_calls(agent, 15)  # once
