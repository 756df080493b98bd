"""The bot's text reaches the web chat and Slack without markup, mentions or
links outside the allowlist (channels/safe_output.py).

A model server fake answers every question with markup. The LLM fallback's
output guard strips most of it, but not all: it removes Markdown links before
emphasis, so `[x]*(javascript:...)` comes out as `[x](javascript:...)`. And
the domain, the order system and the user's own words reach channels without
that guard, so the channels' outputs are also tested with the markup itself:
directly, and as a bot event pushed through Rasa's HTTP API
(`output_channel=...`).
"""
import asyncio
import json
import os
import re
import secrets
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from playwright.sync_api import expect, sync_playwright

from channels import webchat_session
from channels.safe_output import LINK_REMOVED
from channels.slack import SlackOutput
from tests.channels.support import credentials
from tests.channels.support.model_server import ScriptedModelServer
from tests.channels.support.slack import message_event, signed_headers
from tests.support.stack import PROJECT_ROOT, Stack, base_env, free_port, wait_until_up

pytestmark = pytest.mark.integration

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
BOT_MESSAGES = ".rw-response .rw-message-text"
REPLY_TIMEOUT_MS = 45_000

# what the issue lists, as a bot message could carry it
MARKUP = ('Here is a picture <img src=x onerror=alert(1)>. Read [the guide](javascript:alert(1)) '
          'or <a href="javascript:alert(1)">this page</a>. Hey <!channel> and <!here>, ask <@U123>. '
          'Or see [the offer](https://evil.example/offer), https://evil.example/x and evil.example.')
# the model's answer: a marker, what gets past the output guard, and MARKUP
MARKER = "Huckleberry trails are lovely"
# the fallback keeps one sentence of a general answer: the markup is inside it
MODEL_REPLY = (f"{MARKER}, says <img src=x onerror=alert(1)> the [guide](javascript:alert(1)) and "
               '<a href="javascript:alert(1)">this page</a> for <!channel> and <@U123>, see '
               "[our guide]*(javascript:alert(document.domain)), !*[logo]*(x) and "
               f"[the offer](https://evil.example/offer) at evil.example today. {MARKUP}")
# a general question: the model's answer is sent (a joke request gets a fixed joke)
ASK_THE_MODEL = "any tips for my first hike?"
SHOP = "pinecrest.example"
MENTIONS = ("<!channel>", "<!here>", "<@U123>")


@pytest.fixture(scope="module")
def markup_model():
    server = ScriptedModelServer(MODEL_REPLY).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def page_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def session_secret() -> str:
    return secrets.token_urlsafe(32)


@pytest.fixture(scope="module")
def output_stack(tmp_path_factory, fake_slack, markup_model, page_port, session_secret):
    workdir = tmp_path_factory.mktemp("output-stack")
    origin = f"http://127.0.0.1:{page_port}"
    env = base_env(
        SLACK_BOT_TOKEN=credentials.SLACK_BOT_TOKEN,
        SLACK_SIGNING_SECRET=credentials.SLACK_SIGNING_SECRET,
        SLACK_API_BASE_URL=fake_slack.base_url,
        SLACK_LINK_ALLOWLIST=SHOP,
        WEBCHAT_SESSION_SECRET=session_secret,
        WEBCHAT_ALLOWED_ORIGINS=origin,
        DATABASE_URL=f"sqlite:///{workdir / 'shop.db'}",
        KNOWLEDGE_INDEX_PATH=str(workdir / "knowledge_index.json"),
        MODEL_SERVER_URL=markup_model.url,
        LLM_DEADLINE_S="10",
    )
    stack = Stack(workdir=workdir, env=env, rasa_args=[
        "--enable-api", f"--auth-token={credentials.API_TOKEN}", "--cors", origin,
    ])
    with stack:
        yield stack


@pytest.fixture(scope="module")
def page_url(output_stack, page_port, session_secret, tmp_path_factory):
    subprocess.run([str(PROJECT_ROOT / "scripts" / "setup_webchat.sh")], check=True)
    log = open(tmp_path_factory.mktemp("webchat") / "webchat.log", "wb")
    server = subprocess.Popen(
        [sys.executable, str(PROJECT_ROOT / "webchat" / "serve.py"), "--host", "127.0.0.1",
         "--port", str(page_port), "--socket-url", output_stack.rasa_url],
        stdout=log, stderr=subprocess.STDOUT,
        env={**output_stack.env, "WEBCHAT_SESSION_SECRET": session_secret},
    )
    url = f"http://127.0.0.1:{page_port}/"
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
        pytest.fail(f"{CHROMIUM} is missing: run scripts/setup_chromium.sh")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def chat(browser, page_url):
    """A page with the widget open and greeted; dialogs (alert) are recorded."""
    context = browser.new_context()
    page = context.new_page()
    page.dialogs = []

    def on_dialog(dialog):
        page.dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.goto(page_url)
    expect(page.locator(BOT_MESSAGES).first).to_contain_text("Pinecrest", timeout=REPLY_TIMEOUT_MS)
    yield page
    context.close()


def ask(page, text: str) -> None:
    box = page.locator(".rw-new-message")
    box.fill(text)
    box.press("Enter")


def assert_no_markup(page) -> None:
    """No image, script link, event handler or dialog from the bot's messages,
    even after a click on every link they have."""
    links = page.locator(f"{BOT_MESSAGES} a")
    for index in range(links.count()):
        links.nth(index).click(modifiers=[], no_wait_after=True)
    page.wait_for_timeout(500)  # an onerror or a click would have fired by now
    assert page.locator(f"{BOT_MESSAGES} img").count() == 0
    assert page.locator("[onerror]").count() == 0
    assert page.locator('a[href^="javascript:" i]').count() == 0
    assert page.locator(f"{BOT_MESSAGES} a").count() == 0  # no links at all: the bot means none
    assert page.dialogs == []


def push_bot_message(stack, conversation_id: str, channel: str, text: str) -> None:
    """A bot event through Rasa's HTTP API, sent on through `channel`'s output
    (as a notification from another system would be)."""
    response = requests.post(
        f"{stack.rasa_url}/conversations/{conversation_id}/tracker/events",
        params={"token": credentials.API_TOKEN, "output_channel": channel,
                "execute_side_effects": "true"},
        json=[{"event": "bot", "text": text}], timeout=10,
    )
    assert response.status_code == 200, response.text


# --- web chat -----------------------------------------------------------------

def test_a_generated_answer_shows_in_the_web_chat_as_text(output_stack, chat, markup_model):
    asked = len(markup_model.prompts)
    ask(chat, ASK_THE_MODEL)

    expect(chat.locator(BOT_MESSAGES).last).to_contain_text("Huckleberry", timeout=REPLY_TIMEOUT_MS)
    assert len(markup_model.prompts) > asked  # the model's answer, not a canned reply
    # whatever the output guard lets through is shown as typed, not rendered
    assert_no_markup(chat)


def test_a_pushed_bot_message_shows_in_the_web_chat_as_text(output_stack, chat, session_secret):
    token = json.loads(chat.evaluate("localStorage.getItem('chat_session')"))["session_id"]
    conversation_id = webchat_session.verify(session_secret, token).session_id
    before = chat.locator(BOT_MESSAGES).count()

    push_bot_message(output_stack, conversation_id, "socketio", MARKUP)

    expect(chat.locator(BOT_MESSAGES)).to_have_count(before + 1, timeout=REPLY_TIMEOUT_MS)
    assert "<img src=x onerror=alert(1)>" in chat.locator(BOT_MESSAGES).last.inner_text()
    assert_no_markup(chat)


# --- Slack --------------------------------------------------------------------

def assert_slack_safe(text: str) -> None:
    """No mention, no link but to the shop: Slack's `<...>` only as escapes."""
    for mention in MENTIONS:
        assert mention not in text
    without_shop_links = re.sub(rf"<https://(\w+\.)*{re.escape(SHOP)}[/?#][^<>|]*(\|[^<>]*)?>", "", text)
    assert "<" not in without_shop_links and ">" not in without_shop_links, text
    assert "evil.example" not in text  # neither as a URL nor as a domain Slack would link


def test_slack_output_escapes_mentions_and_drops_other_links(fake_slack):
    """The channel's output itself, against the fake Web API (real HTTP; in a
    thread of its own: Playwright runs an event loop in this one)."""
    output = SlackOutput(credentials.SLACK_BOT_TOKEN, fake_slack.base_url, link_allowlist=[SHOP])
    text = f"{MARKUP} Our returns: https://{SHOP}/returns."

    async def send():
        await output.send_text_message("D-direct", text)
        await output.send_text_with_buttons("D-direct-buttons", text,
                                            [{"title": "Yes", "payload": "/affirm"}])

    with ThreadPoolExecutor(1) as thread:
        thread.submit(asyncio.run, send()).result(timeout=30)

    post = fake_slack.wait_for_posts("D-direct")[0]
    assert post.text == (
        "Here is a picture &lt;img src=x onerror=alert(1)&gt;. Read the guide or this page. "
        "Hey &lt;!channel&gt; and &lt;!here&gt;, ask &lt;@U123&gt;. Or see the offer, "
        f"{LINK_REMOVED} and evil[.]example. Our returns: <https://{SHOP}/returns>.")
    assert post.body.get("link_names") in (False, "false", "0", 0)
    with_buttons = fake_slack.wait_for_posts("D-direct-buttons")[0]
    blocks = json.loads(with_buttons.body["blocks"]) if isinstance(with_buttons.body["blocks"], str) \
        else with_buttons.body["blocks"]
    section = blocks[0]["text"]
    assert with_buttons.text == post.text and section["text"] == post.text
    assert section["type"] == "mrkdwn" and section["verbatim"] is True


def test_a_pushed_bot_message_reaches_slack_escaped(output_stack, fake_slack):
    push_bot_message(output_stack, "U-pushed", "slack", MARKUP)

    posts = fake_slack.wait_for_posts("U-pushed")
    assert len(posts) == 1
    assert "&lt;!channel&gt;" in posts[0].text and "&lt;@U123&gt;" in posts[0].text
    assert_slack_safe(posts[0].text)


def test_a_generated_answer_reaches_slack_escaped(output_stack, fake_slack, markup_model):
    event = message_event("Ev-markup", "U-markup", "D-markup", ASK_THE_MODEL, f"{time.time():.6f}")
    body = json.dumps(event).encode()

    response = requests.post(f"{output_stack.rasa_url}/webhooks/slack/webhook", data=body,
                             headers=signed_headers(body, credentials.SLACK_SIGNING_SECRET), timeout=10)

    assert response.status_code == 200
    posts = fake_slack.wait_for_posts("D-markup")
    assert len(posts) == 1 and "Huckleberry" in posts[0].text, posts
    assert_slack_safe(posts[0].text)
