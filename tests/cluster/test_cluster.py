"""The Docker Swarm stack (deploy/stack.yml) for real, through its load
balancer: one conversation served by both Rasa replicas, one Rasa replica and
one model replica killed mid-conversation, the conversation continued on the
survivors with its history intact, a replacement replica taking traffic once
ready, every tier's health, and socket.io's stickiness.

Needs a running stack: `scripts/test.sh cluster` (the CI stage) deploys it,
runs these tests and removes it; by hand, `make cluster` first. Every request
loop is bounded in count and time, and goes to loopback only.
"""
import asyncio
import json
import os
import subprocess
import time
import uuid
from typing import Dict, List, Set, Tuple

import pytest
import requests

from settings.defaults import setting
from tests.channels.support.socketio_client import SocketIOClient

pytestmark = pytest.mark.cluster

DOCKER = os.environ.get("DOCKER", "/usr/bin/docker")
STACK = setting("PINE_STACK")
# the load balancer as this machine reaches it (0.0.0.0: every interface)
LB_URL = f"http://{setting('PINE_LB_HOST').replace('0.0.0.0', '127.0.0.1')}:{setting('PINE_LB_PORT')}"
REST = f"{LB_URL}/webhooks/rest/webhook"
TRACKING_NUMBER_10002 = "1Z999AA10123456784"  # demo order 10002 (actions/orders_db.py)
TIERS = ("rasa", "actions", "model", "webchat")


def docker(*args: str) -> str:
    return subprocess.run([DOCKER, *args], check=True, capture_output=True, text=True,
                          timeout=60).stdout.strip()


def say(sender: str, text: str) -> Tuple[List[str], str]:
    """The bot's texts for one REST turn through the load balancer, and the
    replica (address:port) that served it."""
    response = requests.post(REST, json={"sender": sender, "message": text}, timeout=60)
    assert response.status_code == 200, (response.status_code, response.text)
    return [m.get("text", "") for m in response.json()], response.headers["X-Pine-Upstream"]


def replicas(service: str) -> Dict[str, str]:
    """Running containers of a service of the stack: address -> container id."""
    found = {}
    for container in docker("ps", "-q", "--filter",
                            f"label=com.docker.swarm.service.name={STACK}_{service}").split():
        networks = json.loads(docker("inspect", "--format", "{{json .NetworkSettings.Networks}}",
                                     container))
        for network in networks.values():
            found[network["IPAddress"]] = container
    return found


def ready_replicas() -> Dict[str, int]:
    return requests.get(f"{LB_URL}/health", timeout=5).json()["ready_replicas"]


def wait_for(condition, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(2)
    raise AssertionError(f"gave up after {timeout_s:.0f} s waiting for {what}")


def user_turns_stored(sender: str) -> int:
    """User messages of a conversation in the shared tracker store (PostgreSQL)."""
    (postgres,) = replicas("postgres").values()
    query = f"select count(*) from events where sender_id = '{sender}' and type_name = 'user'"
    return int(docker("exec", postgres, "psql", "-U", "postgres", "-d", "rasa", "-tAc", query))


# what deploy/stack.yml asks for
REPLICAS = {"rasa": 2, "actions": 2, "model": 2, "webchat": 1}


@pytest.fixture(scope="module", autouse=True)
def stack_is_ready():
    try:
        ready_replicas()
    except requests.RequestException as error:
        pytest.fail(f"no stack answers at {LB_URL} ({error}): run `make cluster` first")
    # every replica ready, e.g. after an earlier run killed some
    wait_for(lambda: all(ready_replicas().get(tier, 0) >= n for tier, n in REPLICAS.items()),
             600, f"{REPLICAS} ready replicas")


@pytest.mark.parametrize("tier", ("",) + tuple(f"/{tier}" for tier in TIERS))
def test_every_tier_answers_its_health_check_through_the_stack(tier):
    response = requests.get(f"{LB_URL}/health{tier}", timeout=10)
    assert response.status_code == 200, (tier, response.status_code, response.text)


def test_a_conversation_survives_losing_a_rasa_and_a_model_replica():
    sender = f"cluster-{uuid.uuid4().hex[:12]}"
    rasa_before = replicas("rasa")
    assert len(rasa_before) == 2, rasa_before
    served: List[str] = []

    # both replicas serve turns of the same conversation (least_conn alternates)
    for text in ("hello", "what is your return policy?"):
        texts, upstream = say(sender, text)
        assert texts and all(texts), (text, texts)
        served.append(upstream)
    texts, upstream = say(sender, "where is my order?")
    served.append(upstream)
    assert any("order number" in t.lower() for t in texts), texts
    served_ips = {address.split(":")[0] for address in served}
    assert served_ips == set(rasa_before), (served, rasa_before)

    # kill the replica that holds the open form's last turn, and a model replica
    victim = upstream.split(":")[0]
    docker("kill", rasa_before[victim])
    docker("kill", next(iter(replicas("model").values())))

    # the survivor continues the form: it knows the question was asked
    texts, upstream = say(sender, "10002")
    assert any("e-mail" in t for t in texts), texts
    assert not upstream.startswith(victim + ":"), upstream
    texts, upstream = say(sender, "customer10002@example.com")
    assert any(TRACKING_NUMBER_10002 in t for t in texts), texts
    # a question for the LLM fallback still gets an answer with one model replica
    texts, _ = say(sender, "can I pay for my tent with a gift card and a credit card together?")
    assert texts and all(texts), texts
    assert user_turns_stored(sender) == 6

    # Swarm replaces the killed replica; once ready, it takes traffic too
    def replacement_ready():
        new = set(replicas("rasa")) - set(rasa_before)
        return new if new and ready_replicas().get("rasa", 0) >= 2 else None

    new_ips = wait_for(replacement_ready, 600, "a ready replacement Rasa replica")
    served_after: Set[str] = set()
    for thanks in range(1, 7):
        _, upstream = say(sender, "thanks")
        served_after.add(upstream.split(":")[0])
        if served_after & new_ips:
            break
    assert served_after & new_ips, (served_after, new_ips)
    assert user_turns_stored(sender) == 6 + thanks


def test_socketio_clients_stick_to_one_replica_and_chat_through_the_load_balancer():
    # polling requests carry the affinity cookie: every one reaches the same replica
    with requests.Session() as browser:
        upstreams = set()
        for _ in range(6):
            response = browser.get(f"{LB_URL}/socket.io/?EIO=4&transport=polling", timeout=10)
            assert response.status_code == 200, response.text
            upstreams.add(response.headers["X-Pine-Upstream"])
        assert len(upstreams) == 1, upstreams
        assert browser.cookies.get("pine_affinity")

    async def chat() -> List[str]:
        client = await SocketIOClient(LB_URL, origin=LB_URL).connect()
        try:
            session = await client.session(None)
            return await client.say(session, "hi there", timeout=60)
        finally:
            await client.close()

    texts = asyncio.run(chat())
    assert texts and all(texts), texts


def test_the_web_chat_page_is_served_through_the_load_balancer():
    page = requests.get(f"{LB_URL}/", timeout=10)
    assert page.status_code == 200 and "<html" in page.text.lower(), page.text[:200]
    config = requests.get(f"{LB_URL}/config.js", timeout=10)
    assert LB_URL in config.text, config.text  # the browser's socket.io URL is the load balancer
    session = requests.post(f"{LB_URL}/session", json={"session": None},
                            headers={"Origin": LB_URL}, timeout=10)
    assert session.status_code == 200 and session.json()["session"], session.text


def test_a_customer_chats_in_a_real_browser_through_the_load_balancer():
    """Debian's Chromium opens the page at the load balancer; the widget's
    socket.io goes through it to one Rasa replica (sticky)."""
    from playwright.sync_api import expect, sync_playwright

    from tests.channels.test_webchat import (
        BOT_MESSAGES, CHROMIUM, CHROMIUM_ARGS, REPLY_TIMEOUT_MS, SCREENSHOTS, ask,
        ask_where_order_10002_is,
    )

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(f"{LB_URL}/")
            # the greeting (the widget's initPayload) comes over socket.io
            expect(page.locator(BOT_MESSAGES).first).to_contain_text("Pinecrest",
                                                                     timeout=REPLY_TIMEOUT_MS)
            ask_where_order_10002_is(page)
            ask(page, "what is your return policy?")
            expect(page.locator(BOT_MESSAGES).last).to_contain_text("return", timeout=REPLY_TIMEOUT_MS)
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOTS / "cluster-webchat.png"))
        finally:
            browser.close()


def test_the_load_balancer_port_is_closed_to_other_hosts():
    """Another host (a network namespace this test makes, on a veth pair)
    reaches this machine, but not the load balancer's port: Swarm publishes
    host-mode ports on every interface, and scripts/cluster.sh keeps it to
    loopback. Everything it creates is removed again."""
    import http.server
    import threading

    tag = f"{os.getpid() % 100000}"
    namespace, host_end, other_end = f"pinelb{tag}", f"plbh{tag}", f"plbn{tag}"
    host_ip, other_ip = "10.231.77.1", "10.231.77.2"

    def ip(*args):
        subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)

    def from_other_host(url) -> int:
        return subprocess.run(["ip", "netns", "exec", namespace, "curl", "-s", "-o", "/dev/null",
                               "--max-time", "3", url], timeout=15).returncode

    server = None
    try:
        ip("netns", "add", namespace)
        ip("link", "add", host_end, "type", "veth", "peer", "name", other_end)
        ip("link", "set", other_end, "netns", namespace)
        ip("addr", "add", f"{host_ip}/30", "dev", host_end)
        ip("link", "set", host_end, "up")
        ip("netns", "exec", namespace, "ip", "addr", "add", f"{other_ip}/30", "dev", other_end)
        ip("netns", "exec", namespace, "ip", "link", "set", other_end, "up")
        # a port this machine does open to that host: the control
        server = http.server.ThreadingHTTPServer((host_ip, 0), http.server.SimpleHTTPRequestHandler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        control = from_other_host(f"http://{host_ip}:{server.server_address[1]}/")
        load_balancer = from_other_host(f"http://{host_ip}:{LB_URL.rsplit(':', 1)[1]}/health")
    finally:
        if server is not None:
            server.shutdown()
            server.server_close()
        subprocess.run(["ip", "netns", "delete", namespace], capture_output=True, timeout=10)
        subprocess.run(["ip", "link", "delete", host_end], capture_output=True, timeout=10)
    assert control == 0, "the other host cannot reach this machine at all"
    assert load_balancer != 0, "the load balancer answered another host"
