"""Fixtures: the app in this process with a tiny random model, and the real service for a few
end-to-end tests.

``tiny``         ``create_app`` served in a thread on a free port, with a 2-layer random Llama (the
                 real SmolLM2 tokenizer and MiniLM embedder): routes, validation, streaming,
                 limits, cancellation. Starts in about a second.
``tiny_server``  the same for a config of the test's own (``tiny_server(max_batch_size=1)``).
``server``       the real service as a subprocess, fp32 (reference precision), batch 16: the
                 end-to-end tests (test_end_to_end.py, test_batching.py).
``bf16_server``  the real service, bf16, batch 16: reduced-precision agreement (slow).
Tests marked ``slow`` are left out of the default run (``-m slow`` runs them).
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import os
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, List, Optional

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 240  # the very first start dequantizes the GGUF file (~25-30 s) on a busy CPU


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: long-running; excluded unless -m slow is given")


def pytest_collection_modifyitems(config, items):
    if config.getoption("markexpr"):
        return
    skip = pytest.mark.skip(reason="slow; run with -m slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    url: str
    proc: subprocess.Popen
    log_path: Path
    health_codes: List[int] = field(default_factory=list)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]


def start_server(tmp_dir: Path, *args: str) -> Server:
    port = free_port()
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", PYTHONUNBUFFERED="1")
    log_path = tmp_dir / f"server-{port}.log"
    log_file = open(log_path, "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "model_server", "--port", str(port), *args],
        cwd=REPO, env=env, stdout=log_file, stderr=subprocess.STDOUT)
    server = Server(url=f"http://127.0.0.1:{port}", proc=proc, log_path=log_path)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"model server exited with {proc.returncode}:\n{server.log()}")
        try:
            code = httpx.get(server.url + "/health", timeout=2).status_code
            server.health_codes.append(code)
            if code == 200:
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    stop_server(server)
    raise RuntimeError(f"model server not healthy after {START_TIMEOUT_S} s:\n{server.log()}")


def stop_server(server: Server) -> None:
    server.proc.terminate()
    try:
        server.proc.wait(15)
    except subprocess.TimeoutExpired:
        server.proc.kill()
        server.proc.wait(5)


# One compute thread: these suites run next to others in CI, where two OpenMP threads stall
# whenever another process holds a core (results are the same; only speed differs).
@pytest.fixture(scope="session")
def server(tmp_path_factory):
    s = start_server(tmp_path_factory.mktemp("fp32"), "--dtype", "fp32", "--threads", "1",
                     "--max-batch-size", "16", "--max-queue-size", "64")
    yield s
    stop_server(s)


@pytest.fixture(scope="session")
def bf16_server(tmp_path_factory):
    s = start_server(tmp_path_factory.mktemp("bf16"), "--dtype", "bf16", "--threads", "1",
                     "--max-batch-size", "16", "--max-queue-size", "2",
                     "--request-timeout-s", "60")
    yield s
    stop_server(s)


@pytest.fixture
def http(server):
    with httpx.Client(base_url=server.url, timeout=120) as client:
        yield client


@pytest.fixture
def openai_client(server):
    return openai_for(server.url)


def openai_for(url: str):
    from openai import OpenAI

    return OpenAI(base_url=url + "/v1", api_key="not-needed", max_retries=0, timeout=120)


# -- the app in this process, with a tiny random model ---------------------------------------------
TINY_SHAPE = dict(n_layers=2, hidden=64, n_heads=4, n_kv_heads=2, head_dim=16, intermediate=128,
                  rope_theta=10000.0, rms_eps=1e-5, qkv_bias=False, tie_embeddings=True)


@functools.lru_cache(maxsize=None)
def real_tokenizer():
    """SmolLM2's tokenizer and chat template (local files: no weights are loaded)."""
    from model_server import loading
    from model_server.config import Config

    loading.enforce_offline()
    files = loading.resolve_chat_model("", Config().cache_dir)
    return loading.load_tokenizer(files.folder)


@functools.lru_cache(maxsize=None)
def real_embedder():
    from model_server import loading
    from model_server.embeddings import Embedder

    loading.enforce_offline()
    return Embedder(loading.resolve_embedding_model(""))


def tiny_llama(vocab: int, dtype: str = "fp32", seed: int = 0):
    """A Llama with random weights under the Hugging Face names the loader reads."""
    import torch

    from model_server.llama import Llama, LlamaShape

    shape = LlamaShape(vocab=vocab, **TINY_SHAPE)
    g = torch.Generator().manual_seed(seed)
    q, kv = shape.n_heads * shape.head_dim, shape.n_kv_heads * shape.head_dim
    sizes = {"model.embed_tokens.weight": (vocab, shape.hidden),
             "model.norm.weight": (shape.hidden,)}
    for i in range(shape.n_layers):
        p = f"model.layers.{i}."
        sizes.update({
            p + "input_layernorm.weight": (shape.hidden,),
            p + "post_attention_layernorm.weight": (shape.hidden,),
            p + "self_attn.q_proj.weight": (q, shape.hidden),
            p + "self_attn.k_proj.weight": (kv, shape.hidden),
            p + "self_attn.v_proj.weight": (kv, shape.hidden),
            p + "self_attn.o_proj.weight": (shape.hidden, q),
            p + "mlp.gate_proj.weight": (shape.intermediate, shape.hidden),
            p + "mlp.up_proj.weight": (shape.intermediate, shape.hidden),
            p + "mlp.down_proj.weight": (shape.hidden, shape.intermediate)})
    state = {name: (torch.ones(size) if name.endswith("norm.weight")
                    else torch.randn(size, generator=g) * 0.5)
             for name, size in sizes.items()}
    return Llama(shape, state, dtype)


def load_tiny_models(config, metrics, eos_token_ids=()):
    """A ``LoadModels`` for ``create_app``: no end-of-sequence token, so answers run to max_tokens."""
    from model_server.embeddings import EmbeddingQueue
    from model_server.engine import Engine
    from model_server.prompts import PromptBuilder
    from model_server.readiness import Models

    tokenizer = real_tokenizer()
    engine = Engine(tiny_llama(len(tokenizer)), tokenizer, eos_token_ids,
                    max_batch_size=config.max_batch_size, max_queue_size=config.max_queue_size,
                    max_seq_len=config.max_seq_len,
                    prefill_token_budget=config.prefill_token_budget, metrics=metrics,
                    threads=config.threads)
    return Models(engine=engine, prompts=PromptBuilder(tokenizer, config.max_input_tokens),
                  embeddings=EmbeddingQueue(real_embedder(), config.max_queue_size))


_app_names = itertools.count()


class InProcessServer:
    """``create_app(config)`` served by Sanic's ``create_server`` on a free port, in a thread."""

    def __init__(self, config, load: Callable = load_tiny_models):
        from model_server.app import create_app

        self._port = free_port()
        self.app = create_app(replace(config, port=self._port), name=f"tiny{next(_app_names)}",
                              load=load)
        self.app.config.MOTD = False
        self.app.config.TOUCHUP = False  # its class-level rewrite breaks a second app in-process
        self.url = f"http://127.0.0.1:{self._port}"
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._stop: Optional[asyncio.Event] = None
        self._thread = threading.Thread(target=self._run, name="test-server", daemon=True)
        self._listening = threading.Event()
        self._error: Optional[BaseException] = None

    def start(self, wait_ready: bool = True) -> "InProcessServer":
        self._thread.start()
        self._listening.wait(30)
        if self._error or not self._listening.is_set():
            raise RuntimeError(f"test server did not start: {self._error!r}")
        if wait_ready:
            deadline = time.monotonic() + 60
            while httpx.get(self.url + "/health").status_code != 200:
                assert time.monotonic() < deadline, httpx.get(self.url + "/health").text
                time.sleep(0.05)
        return self

    def _run(self) -> None:
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._serve())
        except BaseException as exc:  # reported by start()
            self._error = exc
            self._listening.set()
        finally:  # end what is left (keep-alive connections) before the loop closes
            pending = asyncio.all_tasks(self._loop)
            for task in pending:
                task.cancel()
            self._loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            self._loop.close()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        server = await self.app.create_server(host="127.0.0.1", port=self._port, access_log=False,
                                              return_asyncio_server=True)
        await server.startup()
        await server.before_start()
        await server.after_start()
        await server.start_serving()
        self._listening.set()
        await self._stop.wait()
        await server.before_stop()
        await server.close()
        for connection in list(server.connections):
            connection.close_if_idle() or connection.abort()
        await server.after_stop()

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(15)


def tiny_config(**overrides):
    from model_server.config import Config

    settings = dict(dtype="fp32", threads=1, max_batch_size=4, max_queue_size=8)
    settings.update(overrides)
    return Config(**settings).validate()


@pytest.fixture(scope="session")
def tiny():
    s = InProcessServer(tiny_config()).start()
    yield s
    s.stop()


@pytest.fixture
def tiny_server():
    """``tiny_server(load=..., wait_ready=..., **config)``: a fresh app, stopped after the test."""
    started = []

    def start(load: Callable = load_tiny_models, wait_ready: bool = True, **overrides):
        s = InProcessServer(tiny_config(**overrides), load=load)
        started.append(s)
        return s.start(wait_ready=wait_ready)

    yield start
    for s in started:
        s.stop()


@pytest.fixture
def tiny_http(tiny):
    with httpx.Client(base_url=tiny.url, timeout=60) as client:
        yield client


SYSTEM = ("You are the customer-service assistant of Nordlicht, an online shop for outdoor "
          "clothing and gear. Answer briefly and politely. If you do not know, say so and offer "
          "to connect the customer with a human agent.")

QUESTIONS = [
    "Where is my order 12345? It was supposed to arrive yesterday.",
    "Can I return a jacket that I have already worn once?",
    "Do you ship to Switzerland, and how much does it cost?",
    "My discount code SUMMER10 does not work. What can I do?",
    "How do I change the delivery address of my order?",
    "What sizes does the Fjell rain jacket come in?",
    "I was charged twice for the same order. Please help.",
    "Can I pay with PayPal or only by credit card?",
    "How long does a refund take after you receive my return?",
    "Is the Trail 45 backpack waterproof?",
    "Can I cancel my order if it has not shipped yet?",
    "Do you have a physical store in Hamburg?",
    "The zipper of my new tent broke. Is this covered by warranty?",
    "How do I create an account on your website?",
    "Which hiking boots do you recommend for beginners?",
    "Can I buy a gift card and send it to a friend by email?",
]


def chat_body(question: str, **extra) -> dict:
    body = {"model": "smollm2-135m-instruct",
            "messages": [{"role": "system", "content": SYSTEM},
                         {"role": "user", "content": question}],
            "max_tokens": 48, "temperature": 0}
    body.update(extra)
    return body


def assert_stream_matches_whole(openai_client, http, body) -> None:
    """The streamed answer (text, finish reason, usage) is the non-streamed one."""
    whole = http.post("/v1/chat/completions", json=body).json()
    stream = openai_client.chat.completions.create(
        stream=True, stream_options={"include_usage": True}, **body)
    pieces, finish, usage = [], None, None
    for chunk in stream:
        if chunk.usage:
            usage = chunk.usage
        for choice in chunk.choices:
            pieces.append(choice.delta.content or "")
            finish = choice.finish_reason or finish
    assert "".join(pieces) == whole["choices"][0]["message"]["content"]
    assert finish == whole["choices"][0]["finish_reason"]
    assert usage.completion_tokens == whole["usage"]["completion_tokens"]
