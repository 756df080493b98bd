"""The web chat page in a real browser (Debian's Chromium driven by
Playwright): an order-status question and an open-ended one get their
replies, and a reload keeps the conversation, on the page and on the server;
the page server issues the signed session the widget uses, and a stored
session that is not valid starts a new conversation instead of joining the
one it names. Screenshots go to results/screenshots/."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import List
from urllib.parse import urlsplit

import pytest
import requests
from playwright.sync_api import expect, sync_playwright

from actions.orders_db import demo_email
from channels import webchat_session
from tests.channels.support import credentials
from tests.channels.support.server import (
    SCREENSHOTS, TRACKING_NUMBER_10002, assert_user_texts, user_texts,
)
from tests.support.stack import PROJECT_ROOT, wait_until_up

pytestmark = pytest.mark.integration

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
BOT_MESSAGES = ".rw-response .rw-message-text"  # not the typing indicator
USER_MESSAGES = ".rw-client .rw-message-text"
REPLY_TIMEOUT_MS = 45_000
SECRET = credentials.WEBCHAT_SESSION_SECRET


def stored_session(page) -> str:
    """The session token the widget keeps in localStorage."""
    return json.loads(page.evaluate("localStorage.getItem('chat_session')"))["session_id"]


def conversation(token: str) -> str:
    session = webchat_session.verify(SECRET, token)
    assert session is not None, token
    return session.session_id


@pytest.fixture(scope="module")
def page_url(channel_stack, webchat_port, tmp_path_factory):
    """webchat/serve.py on the port the Rasa server allows (CORS)."""
    subprocess.run([str(PROJECT_ROOT / "scripts" / "setup_webchat.sh")], check=True)
    log_path = tmp_path_factory.mktemp("webchat") / "webchat.log"
    log = open(log_path, "wb")
    server = subprocess.Popen(
        [sys.executable, str(PROJECT_ROOT / "webchat" / "serve.py"), "--host", "127.0.0.1",
         "--port", str(webchat_port), "--socket-url", channel_stack.rasa_url],
        stdout=log, stderr=subprocess.STDOUT,
        env={**os.environ, "WEBCHAT_SESSION_SECRET": SECRET},
    )
    url = f"http://127.0.0.1:{webchat_port}/"
    try:
        try:
            wait_until_up(url, 30, server)
        except (RuntimeError, TimeoutError) as error:
            log.flush()
            raise RuntimeError(f"{error}; the page server said:\n{log_path.read_text()[-3000:]}")
        yield url
    finally:
        server.terminate()
        server.wait(10)
        log.close()


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).is_file():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/setup_chromium.sh "
                    "(the setup stage of make test does)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def ask(page, text: str) -> None:
    box = page.locator(".rw-new-message")
    box.fill(text)
    box.press("Enter")


def ask_where_order_10002_is(page) -> List[str]:
    """Asks, gives the e-mail address on the order when the bot asks for it
    (an anonymous visitor proves the order is theirs: actions/verification.py),
    and waits for the tracking number. Returns what was typed."""
    typed = ["Where is my order 10002?"]
    ask(page, typed[0])
    last = page.locator(BOT_MESSAGES).last
    expect(last).to_contain_text(re.compile(f"{TRACKING_NUMBER_10002}|e-mail address"),
                                 timeout=REPLY_TIMEOUT_MS)
    if TRACKING_NUMBER_10002 not in last.inner_text():
        typed.append(demo_email("10002"))
        ask(page, typed[-1])
    expect(page.locator(BOT_MESSAGES).last).to_contain_text(TRACKING_NUMBER_10002,
                                                            timeout=REPLY_TIMEOUT_MS)
    return typed


def test_the_page_serves_the_widget_itself(page_url):
    page = requests.get(page_url, timeout=5)
    widget = requests.get(page_url + "vendor/rasa-webchat.js", timeout=5)
    config = requests.get(page_url + "config.js", timeout=5)

    assert page.status_code == widget.status_code == config.status_code == 200
    assert '<script src="vendor/rasa-webchat.js">' in page.text
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert "WebChat" in widget.text[:1000]
    assert "socketUrl" in config.text
    # a script any site can include: never the session
    assert "session" not in config.text


def post_session(page_url, body, headers=None):
    return requests.post(page_url + "session", data=json.dumps(body), timeout=5,
                         headers={"Content-Type": "application/json", **(headers or {})})


def test_the_page_server_issues_signed_sessions(page_url):
    new = post_session(page_url, {"session": None})
    token = new.json()["session"]
    again = post_session(page_url, {"session": token}, {"Origin": page_url.rstrip("/")})
    forged = token.rsplit(".", 1)[0] + ".AAAAAAAAAAAAAAAAAAAAAA"
    instead = post_session(page_url, {"session": forged})

    assert new.status_code == 200 and new.json()["continues"] is False
    assert webchat_session.verify(SECRET, token).customer is None  # the demo has no login
    assert new.headers["Cache-Control"] == "no-store"
    assert again.json()["continues"] is True
    assert conversation(again.json()["session"]) == conversation(token)
    assert instead.json()["continues"] is False
    assert conversation(instead.json()["session"]) != conversation(token)
    # only the page itself asks, with JSON
    assert post_session(page_url, {"session": None},
                        {"Origin": "http://evil.example"}).status_code == 403
    assert requests.post(page_url + "session", data="{}", timeout=5).status_code == 400
    for body in [[], {"session": 5}, "x"]:
        assert post_session(page_url, body).status_code == 400, body


def test_chat_in_the_browser_survives_a_reload(channel_stack, page_url, browser):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 900, "height": 860})
    page = context.new_page()
    requested = []
    page.on("request", lambda request: requested.append((request.resource_type, request.url)))
    page.goto(page_url)

    # a new conversation starts with the greeting (the widget's initPayload)
    expect(page.locator(BOT_MESSAGES).first).to_contain_text("Pinecrest", timeout=REPLY_TIMEOUT_MS)

    order_texts = ask_where_order_10002_is(page)
    after_order = page.locator(BOT_MESSAGES).count()

    ask(page, "Tell me a joke")
    expect(page.locator(BOT_MESSAGES)).to_have_count(after_order + 1, timeout=REPLY_TIMEOUT_MS)
    expect(page.locator(BOT_MESSAGES).last).to_have_text(re.compile(r"\w"),
                                                         timeout=REPLY_TIMEOUT_MS)
    page.screenshot(path=str(SCREENSHOTS / "webchat-conversation.png"))
    before_reload = page.locator(BOT_MESSAGES).all_inner_texts()
    session_id = conversation(stored_session(page))

    page.reload()
    expect(page.locator(USER_MESSAGES)).to_have_text(
        [*order_texts, "Tell me a joke"], timeout=REPLY_TIMEOUT_MS)
    expect(page.locator(BOT_MESSAGES)).to_have_text(before_reload)
    # ... and the conversation goes on, on the server too
    ask(page, "thanks")
    expect(page.locator(BOT_MESSAGES)).to_have_count(len(before_reload) + 1,
                                                     timeout=REPLY_TIMEOUT_MS)
    expect(page.locator(BOT_MESSAGES).last).to_have_text(re.compile(r"\w"))
    page.screenshot(path=str(SCREENSHOTS / "webchat-after-reload.png"))
    after_reload_session = conversation(stored_session(page))
    context.close()

    assert after_reload_session == session_id
    assert_user_texts(channel_stack, session_id, [
        "/greet", *order_texts, "Tell me a joke", "thanks"])
    # scripts and the chat connection: this page and the Rasa server only
    # (the widget's CSS names a Google Fonts stylesheet, which the page's CSP blocks)
    loopback = {"127.0.0.1", "localhost"}
    outside = [(kind, url) for kind, url in requested if urlsplit(url).hostname not in loopback]
    assert all(kind == "stylesheet" and "fonts.googleapis.com" in url for kind, url in outside), \
        outside
    assert any(kind == "script" and url.endswith("/vendor/rasa-webchat.js")
               for kind, url in requested)


def test_a_stored_session_that_is_not_valid_starts_a_new_conversation(
    channel_stack, page_url, browser
):
    """A session id from elsewhere (guessed, forged, signed with an old
    secret) in the browser's storage: the page gets a working chat in a new
    conversation, and the conversation the id named is untouched."""
    context = browser.new_context()
    page = context.new_page()
    page.goto(page_url)
    expect(page.locator(BOT_MESSAGES).first).to_contain_text("Pinecrest", timeout=REPLY_TIMEOUT_MS)
    own = conversation(stored_session(page))
    ask_where_order_10002_is(page)
    own_texts = user_texts(channel_stack, own)

    # the stored id now names that conversation, signed with another secret
    forged = webchat_session.new_session("another secret, 32 characters long")
    forged = forged.replace(forged.split(".")[1], own)
    page.evaluate("""(forged) => {
        const stored = JSON.parse(localStorage.getItem('chat_session'));
        stored.session_id = forged;
        localStorage.setItem('chat_session', JSON.stringify(stored));
    }""", forged)
    page.reload()
    expect(page.locator(BOT_MESSAGES).first).to_contain_text("Pinecrest", timeout=REPLY_TIMEOUT_MS)
    expect(page.locator(USER_MESSAGES)).to_have_count(0)  # the old conversation is gone
    greeting = page.locator(BOT_MESSAGES).count()
    ask(page, "thanks")
    expect(page.locator(BOT_MESSAGES).nth(greeting)).to_have_text(re.compile(r"\w"),
                                                                 timeout=REPLY_TIMEOUT_MS)
    new = conversation(stored_session(page))
    context.close()

    assert new != own
    assert_user_texts(channel_stack, new, ["/greet", "thanks"])
    assert user_texts(channel_stack, own) == own_texts
