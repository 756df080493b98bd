"""The web chat page in a real browser (Debian's Chromium driven by
Playwright): an order-status question and an open-ended one get their
replies, and a reload keeps the conversation, on the page and on the server.
Screenshots go to results/screenshots/."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from playwright.sync_api import expect, sync_playwright

from tests.channels.support.server import SCREENSHOTS, TRACKING_NUMBER_10002, assert_user_texts
from tests.support.stack import PROJECT_ROOT, wait_until_up

pytestmark = pytest.mark.integration

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
BOT_MESSAGES = ".rw-response .rw-message-text"  # not the typing indicator
USER_MESSAGES = ".rw-client .rw-message-text"
REPLY_TIMEOUT_MS = 45_000


@pytest.fixture(scope="module")
def page_url(channel_stack, webchat_port, tmp_path_factory):
    """webchat/serve.py on the port the Rasa server allows (CORS)."""
    subprocess.run([str(PROJECT_ROOT / "scripts" / "setup_webchat.sh")], check=True)
    log = open(tmp_path_factory.mktemp("webchat") / "webchat.log", "wb")
    server = subprocess.Popen(
        [sys.executable, str(PROJECT_ROOT / "webchat" / "serve.py"), "--host", "127.0.0.1",
         "--port", str(webchat_port), "--socket-url", channel_stack.rasa_url],
        stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{webchat_port}/"
    try:
        wait_until_up(url, 30, server)
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


def test_the_page_serves_the_widget_itself(page_url):
    page = requests.get(page_url, timeout=5)
    widget = requests.get(page_url + "vendor/rasa-webchat.js", timeout=5)
    config = requests.get(page_url + "config.js", timeout=5)

    assert page.status_code == widget.status_code == config.status_code == 200
    assert '<script src="vendor/rasa-webchat.js">' in page.text
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert "WebChat" in widget.text[:1000]
    assert "socketUrl" in config.text


def test_chat_in_the_browser_survives_a_reload(channel_stack, page_url, browser):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 900, "height": 860})
    page = context.new_page()
    requested = []
    page.on("request", lambda request: requested.append((request.resource_type, request.url)))
    page.goto(page_url)

    # a new conversation starts with the greeting (the widget's initPayload)
    expect(page.locator(BOT_MESSAGES).first).to_contain_text("Pinecrest", timeout=REPLY_TIMEOUT_MS)

    ask(page, "Where is my order 10002?")
    expect(page.locator(BOT_MESSAGES).last).to_contain_text(TRACKING_NUMBER_10002,
                                                            timeout=REPLY_TIMEOUT_MS)
    after_order = page.locator(BOT_MESSAGES).count()

    ask(page, "Tell me a joke")
    expect(page.locator(BOT_MESSAGES)).to_have_count(after_order + 1, timeout=REPLY_TIMEOUT_MS)
    expect(page.locator(BOT_MESSAGES).last).to_have_text(re.compile(r"\w"),
                                                         timeout=REPLY_TIMEOUT_MS)
    page.screenshot(path=str(SCREENSHOTS / "webchat-conversation.png"))
    before_reload = page.locator(BOT_MESSAGES).all_inner_texts()
    session_id = json.loads(page.evaluate("localStorage.getItem('chat_session')"))["session_id"]

    page.reload()
    expect(page.locator(USER_MESSAGES)).to_have_text(
        ["Where is my order 10002?", "Tell me a joke"], timeout=REPLY_TIMEOUT_MS)
    expect(page.locator(BOT_MESSAGES)).to_have_text(before_reload)
    # ... and the conversation goes on, on the server too
    ask(page, "thanks")
    expect(page.locator(BOT_MESSAGES)).to_have_count(len(before_reload) + 1,
                                                     timeout=REPLY_TIMEOUT_MS)
    expect(page.locator(BOT_MESSAGES).last).to_have_text(re.compile(r"\w"))
    page.screenshot(path=str(SCREENSHOTS / "webchat-after-reload.png"))
    after_reload_session = json.loads(
        page.evaluate("localStorage.getItem('chat_session')"))["session_id"]
    context.close()

    assert after_reload_session == session_id
    assert_user_texts(channel_stack, session_id, [
        "/greet", "Where is my order 10002?", "Tell me a joke", "thanks"])
    # scripts and the chat connection: this page and the Rasa server only
    # (the widget's CSS names a Google Fonts stylesheet, which the page's CSP blocks)
    loopback = {"127.0.0.1", "localhost"}
    outside = [(kind, url) for kind, url in requested if urlsplit(url).hostname not in loopback]
    assert all(kind == "stylesheet" and "fonts.googleapis.com" in url for kind, url in outside), \
        outside
    assert any(kind == "script" and url.endswith("/vendor/rasa-webchat.js")
               for kind, url in requested)
