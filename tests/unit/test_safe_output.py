"""The bot's text as each channel gets it (channels/safe_output.py): no
markup in the web chat, no mentions and no links outside the allowlist on
Slack."""
import re

import pytest

from channels.safe_output import (
    LINK_REMOVED, allowed_link, for_slack, for_webchat, parse_allowlist,
)

SHOP = ("pinecrest.example",)
ATTACK = ('Hi <img src=x onerror=alert(1)> see [the guide](javascript:alert(1)) or '
          '<a href="javascript:alert(1)">this page</a>. <!channel> <!here> ask <@U123>.')


# --- web chat ----------------------------------------------------------------

MARKDOWN = set("\\`*_{}[]()#+-.!~|")


@pytest.mark.parametrize("text", [
    ATTACK,
    "[x](javascript:alert(1))", "![x](https://evil.example/x.png)", "<javascript://%0aalert(1)>",
    "[a]: javascript:alert(1)", "[here]*(javascript:alert(document.domain))", "a *b* `c` ~d~ | e |",
])
def test_for_webchat_leaves_no_markdown_character_unescaped(text):
    escaped = for_webchat(text)

    # each Markdown character is escaped by a backslash or written as a
    # character reference (which remark decodes to text)
    bare = re.sub(r"&(amp|lt|gt|#58|#61);", "", re.sub(r"\\.", "", escaped))
    assert not (MARKDOWN | set("&<>:=")) & set(bare), bare


@pytest.mark.parametrize("text, expected", [
    ("Order #10002 ships.", "Order \\#10002 ships\\."),
    ("<b>", "&lt;b&gt;"),
    ("https://x", "https&#58;//x"),
    ("a & b", "a &amp; b"),
    ("&lt;", "&amp;lt;"),  # shown as typed, not as "<"
    ("    indented\ntext  ", "indented\ntext"),  # no code block, no hard break
    ("first\r\n\r\nsecond", "first\n\nsecond"),  # paragraphs stay (Rasa splits messages there)
    ("plain words", "plain words"),
])
def test_for_webchat(text, expected):
    assert for_webchat(text) == expected


# --- Slack ---------------------------------------------------------------------

def test_for_slack_escapes_mentions_and_markup():
    safe = for_slack(ATTACK, SHOP)

    assert safe == ("Hi &lt;img src=x onerror=alert(1)&gt; see the guide or this page. "
                    "&lt;!channel&gt; &lt;!here&gt; ask &lt;@U123&gt;.")
    assert "<" not in safe and ">" not in safe


@pytest.mark.parametrize("text, expected", [
    ("a & b <c>", "a &amp; b &lt;c&gt;"),
    ("&lt;!channel&gt;", "&amp;lt;!channel&amp;gt;"),  # shown as typed
    ("<!everyone> <#C123> <!subteam^S1>", "&lt;!everyone&gt; &lt;#C123&gt; &lt;!subteam^S1&gt;"),
    ("<https://evil.example|click>", f"&lt;{LINK_REMOVED}|click&gt;"),
    # links to the shop become Slack links, a sentence's full stop stays outside
    ("See https://pinecrest.example/returns.", "See <https://pinecrest.example/returns>."),
    ("www.pinecrest.example", "<https://www.pinecrest.example|www.pinecrest.example>"),
    ("[returns](https://help.pinecrest.example/r?a=1&b=2)",
     "<https://help.pinecrest.example/r?a=1&amp;b=2|returns>"),
    ('<a href="https://pinecrest.example/a">our <b>page</b></a>', "<https://pinecrest.example/a|our page>"),
    # other links: the label, or nothing
    ("[the guide](https://evil.example/x)", "the guide"),
    ("[https://evil.example](https://pinecrest.example)", "<https://pinecrest.example|https://evil.example>"),
    ("[https://evil.example](javascript:alert(1))", LINK_REMOVED),
    ('<a href="https://evil.example">x</a>', "x"),
    ("![logo](https://evil.example/x.png)", "logo"),
    ("go to https://evil.example/x?a=1, now", f"go to {LINK_REMOVED}, now"),
    ("http://www.evil.example ftp://evil.example www.evil.example", " ".join([LINK_REMOVED] * 3)),
    ("visit evil.example/path or Evil.COM.", "visit evil[.]example/path or Evil[.]COM."),
    # look-alikes of the shop's domain
    ("https://pinecrest.example@evil.example/", LINK_REMOVED),
    ("https://pinecrest.example.evil.example/", LINK_REMOVED),
    ("https://evilpinecrest.example/", LINK_REMOVED),
    ("http://pinecrest.example\\@evil.example", LINK_REMOVED),
    # not links: e-mail addresses, prices, times, abbreviations
    ("mail support@pinecrest.example or first.last@example.com",
     "mail support@pinecrest.example or first.last@example.com"),
    ("$12.95, 8:00-20:00, e.g. U.S. a.m., order #10002", "$12.95, 8:00-20:00, e.g. U.S. a.m., order #10002"),
])
def test_for_slack(text, expected):
    assert for_slack(text, SHOP) == expected


def test_for_slack_with_an_empty_allowlist_links_nothing():
    assert for_slack("https://pinecrest.example/a", ()) == LINK_REMOVED


@pytest.mark.parametrize("url, allowed", [
    ("https://pinecrest.example", True),
    ("http://help.pinecrest.example:8080/a", True),
    ("HTTPS://PINECREST.EXAMPLE/A", True),
    ("javascript://pinecrest.example/%0aalert(1)", False),
    ("ftp://pinecrest.example", False),
    ("https://pinecrest.example.evil.example", False),
    ("https://user@pinecrest.example", False),
    ("https://xn--pnecrest-example", False),
    ("https://p\u0456necrest.example", False),  # a Cyrillic i
    ("https://[::1", False),
])
def test_allowed_link(url, allowed):
    assert allowed_link(url, SHOP) is allowed


@pytest.mark.parametrize("value, hosts", [
    ("pinecrest.example", ("pinecrest.example",)),
    (" Pinecrest.example, https://help.other.example/x  shop.example. ",
     ("pinecrest.example", "help.other.example", "shop.example")),
    ("", ()),
    (None, ()),
])
def test_parse_allowlist(value, hosts):
    assert parse_allowlist(value) == hosts


# --- the channels' outputs -----------------------------------------------------

class RecordingSio:
    def __init__(self):
        self.emitted = []

    async def emit(self, event, data, room=None):
        self.emitted.append((event, data, room))


async def test_the_web_chat_output_sends_escaped_text():
    from channels.webchat_output import SafeSocketIOOutput

    sio = RecordingSio()
    output = SafeSocketIOOutput(sio, "bot_uttered")

    await output.send_text_message("s1", "[x](javascript:alert(1))\n\nsecond")
    await output.send_text_with_buttons("s1", "<b>ok?</b>", [{"title": "Yes", "payload": "/affirm"}])

    assert [data["text"] for _, data, _ in sio.emitted] == [
        "\\[x\\]\\(javascript&#58;alert\\(1\\)\\)", "second", "&lt;b&gt;ok?&lt;/b&gt;"]
    assert sio.emitted[-1][1]["quick_replies"][0]["title"] == "Yes"


@pytest.mark.parametrize("credentials, hosts", [
    ({}, ("pinecrest.example",)),
    ({"slack_link_allowlist": "shop.example help.shop.example"}, ("shop.example", "help.shop.example")),
    ({"slack_link_allowlist": "a.example,b.example"}, ("a.example", "b.example")),
    ({"slack_link_allowlist": ""}, ()),  # set but empty: no links
])
def test_slack_link_allowlist_setting(credentials, hosts):
    # credentials.yml reads SLACK_LINK_ALLOWLIST (default in defaults.env)
    from channels.slack import link_allowlist

    assert link_allowlist(credentials) == hosts
