"""The model client's time limit against a slow local HTTP server."""
import asyncio
import time

import pytest
from aiohttp import web

from actions.model_client import ModelClient, ModelServerError
from tests.support.stack import free_port


@pytest.fixture
async def slow_model_server():
    """Answers a chat completion after eight seconds."""
    async def complete(request):
        await asyncio.sleep(8)
        return web.json_response({"choices": [{"message": {"content": "late"}}]})

    app = web.Application()
    app.router.add_post("/v1/chat/completions", complete)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield f"http://127.0.0.1:{port}/v1"
    await runner.cleanup()


@pytest.mark.parametrize("timeout_s", [5.05, 6.3])
async def test_a_time_limit_over_five_seconds_is_kept_to_the_fraction(slow_model_server, timeout_s):
    """aiohttp by default rounds such limits up to the next whole second of
    the event loop's clock, so the fallback's own deadline fired first."""
    client = ModelClient(slow_model_server, "chat", "embed")
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(ModelServerError):
        await client.chat([{"role": "user", "content": "hi"}], 8, timeout_s)
    waited = loop.time() - started
    await client.close()

    # (the event loop's clock may read a hair under the limit when it fires)
    assert timeout_s - 0.05 <= waited < timeout_s + 0.25


async def test_embeddings_go_to_their_own_server_when_one_is_named():
    """A chat-only server (vLLM serves one model) keeps MiniLM on ours."""
    calls = []

    def server(name):
        async def handle(request):
            calls.append((name, request.path))
            if request.path.endswith("/embeddings"):
                return web.json_response({"data": [{"index": 0, "embedding": [1.0]}]})
            return web.json_response({"choices": [{"message": {"content": name}}]})
        app = web.Application()
        app.router.add_post("/v1/{endpoint:.*}", handle)
        return app

    runners, urls = [], []
    for name in ("chat", "embed"):
        runner = web.AppRunner(server(name))
        await runner.setup()
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        runners.append(runner)
        urls.append(f"http://127.0.0.1:{port}/v1")
    client = ModelClient(urls[0], "chat-model", "embedding-model", embedding_url=urls[1])
    try:
        assert await client.embed(["tent"], 5) == [[1.0]]
        assert await client.chat([{"role": "user", "content": "hi"}], 8, 5) == "chat"
    finally:
        await client.close()
        for runner in runners:
            await runner.cleanup()
    assert calls == [("embed", "/v1/embeddings"), ("chat", "/v1/chat/completions")]


def test_embeddings_follow_the_model_server_unless_set(monkeypatch):
    from actions.config import get_settings

    get_settings.cache_clear()
    try:
        monkeypatch.setenv("MODEL_SERVER_URL", "http://vllm:8000/v1/")
        monkeypatch.setenv("EMBEDDING_SERVER_URL", "")
        assert get_settings().embedding_server_url == "http://vllm:8000/v1"
        get_settings.cache_clear()
        monkeypatch.setenv("EMBEDDING_SERVER_URL", "http://model:8000/v1")
        assert get_settings().embedding_server_url == "http://model:8000/v1"
    finally:
        get_settings.cache_clear()
