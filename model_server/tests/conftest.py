"""Fixtures: the real service, started as a subprocess on a free port, with the real default model.

``server``       fp32 (reference precision), batch 16: contract, bad input, batching identity.
``bf16_server``  bf16, batch 16, queue 2: reduced-precision agreement, overload, start-up health.
Tests marked ``slow`` are left out of the default run (``-m slow`` runs them).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import List

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
    from openai import OpenAI

    return OpenAI(base_url=server.url + "/v1", api_key="not-needed", max_retries=0, timeout=120)


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
