"""The bot's text made safe for the client that shows it: no markup, no
mentions, no links the shop did not allow.

A bot message comes from the domain, the order system, the LLM fallback
(behind its output guard, which is not a parser) or in part from what the user
typed. None of it is meant as markup, so each channel gets it in the form its
client shows as plain text:

* Web chat: rasa-webchat 1.0.1 renders a bot message as Markdown
  (react-markdown 4.3 on remark-parse 5: raw HTML is shown as text) and lets
  every link target through (`transformLinkUri: null`), so `[x](javascript:...)`,
  `<javascript://...>` and a `[x]: javascript:...` definition become links
  that run script, and `![x](url)` an image. `for_webchat` escapes each
  character Markdown gives a meaning to: the widget shows the text as it is,
  without a link, image or formatting.
* Slack: `<...>` is Slack's control syntax (`<!channel>`, `<!here>`,
  `<@U123>`, `<https://host|label>`), and Slack makes links of the URLs and
  domain names it finds in a text. `for_slack` escapes `&`, `<` and `>` as
  Slack's formatting rules say, writes links to allowed hosts as Slack links,
  and takes the others out: a URL becomes "[link removed]", a bare domain name
  loses its dots' power to link (`evil[.]example`). E-mail addresses stay
  (Slack offers them as mailto: links, which open a mail program, not a page).

Pure functions of their arguments: tests/unit/test_safe_output.py.
"""
import re
from typing import Iterable, Match, Optional, Tuple
from urllib.parse import urlsplit

# the shop's own domain (support_email in knowledge_base/facts.yml); SLACK_LINK_ALLOWLIST
# in defaults.env has the same default (tests/unit/test_settings_defaults.py)
DEFAULT_SLACK_LINK_ALLOWLIST = ("pinecrest.example",)
LINK_REMOVED = "[link removed]"

# --- web chat (Markdown) -------------------------------------------------------

# what remark-parse 5 lets a backslash escape with GFM on (markdown-escapes)
_BACKSLASH_ESCAPED = set("\\`*_{}[]()#+-.!~|")
# what it does not: written as character references, which it decodes to text
# (":" keeps bare URLs from becoming links, "=" a line from a heading)
_REFERENCES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", ":": "&#58;", "=": "&#61;"}
_INDENT = re.compile(r"^[ \t]+|[ \t]+$", re.M)  # indented code blocks, hard breaks


def for_webchat(text: str) -> str:
    """Markdown that rasa-webchat shows as exactly `text` (spaces at the
    start and end of lines aside): every Markdown character is escaped."""
    text = _INDENT.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    return "".join(
        "\\" + char if char in _BACKSLASH_ESCAPED else _REFERENCES.get(char, char) for char in text
    )


# --- Slack (mrkdwn) -------------------------------------------------------------

_HTML_LINK = r"<a\b[^>]*?\bhref\s*=\s*(?:\"(?P<h1>[^\"]*)\"|'(?P<h2>[^']*)'|(?P<h3>[^\s>]+))[^>]*>(?P<hl>.*?)</a\s*>"
# [label](target) and ![alt](target), one level of parentheses in the target
_MARKDOWN_LINK = (r"!?\[(?P<ml>[^\[\]]*)\]\(\s*<?(?P<mt>[^\s()<>]*(?:\([^\s()<>]*\)[^\s()<>]*)*)>?"
                  r"(?:\s+(?:\"[^\"]*\"|'[^']*'))?\s*\)")
_URL = r"(?P<url>\b[a-z][a-z0-9+.-]*://[^\s<>\"'|]+|\bwww\.[^\s<>\"'|]+)"
# a bare domain name ("evil.example/path"), not the part of an e-mail address after "@"
_DOMAIN = (r"(?P<domain>(?<![\w@.-])(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,24}"
           r"(?![\w@-]|\.\w)(?:/[^\s<>\"'|]*)?)")
_LINKISH = re.compile("|".join((_HTML_LINK, _MARKDOWN_LINK, _URL, _DOMAIN)), re.I | re.S)
_TRAILING = ".,;:!?'\")]}"
_HOST = re.compile(r"[a-z0-9.-]+")


def parse_allowlist(value: Optional[str]) -> Tuple[str, ...]:
    """Hosts from a setting ("pinecrest.example, help.pinecrest.example"):
    commas or spaces between them; each also allows its subdomains."""
    hosts = []
    for item in re.split(r"[\s,]+", value or ""):
        host = re.sub(r"^[a-z][a-z0-9+.-]*://", "", item.strip().lower()).split("/")[0].strip(".")
        if host:
            hosts.append(host)
    return tuple(hosts)


def allowed_link(url: str, allowed_hosts: Iterable[str]) -> bool:
    """An http(s) URL whose host is an allowed host or one of its subdomains.
    No user info (`https://pinecrest.example@evil.example`), no backslashes,
    ASCII host names only (no look-alike letters)."""
    if "\\" in url:
        return False
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").rstrip(".")
    except ValueError:
        return False
    if parts.scheme.lower() not in ("http", "https") or "@" in parts.netloc:
        return False
    if not _HOST.fullmatch(host):
        return False
    return any(host == allowed or host.endswith("." + allowed) for allowed in allowed_hosts)


def _escape(text: str) -> str:
    """Slack's three characters with a meaning: `&`, `<`, `>` (and only these)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _slack_link(url: str, label: str) -> str:
    target = _escape(url).replace("|", "%7C")
    return f"<{target}|{_escape(label)}>" if label and label != url else f"<{target}>"


def _split_trailing(url: str) -> Tuple[str, str]:
    """A URL at the end of a sentence without the sentence's punctuation
    (a closing parenthesis stays when the URL opened one)."""
    end = len(url)
    while end and url[end - 1] in _TRAILING:
        if url[end - 1] == ")" and url[:end].count("(") >= url[:end].count(")"):
            break
        end -= 1
    return url[:end], url[end:]


def for_slack(text: str, allowed_hosts: Iterable[str] = DEFAULT_SLACK_LINK_ALLOWLIST) -> str:
    """mrkdwn that Slack shows as `text`, without mentions (`<!channel>`,
    `<@U123>` arrive escaped) and without links outside `allowed_hosts`:
    Markdown and HTML links to them become Slack links, other links their
    label; other URLs "[link removed]"; other domain names `evil[.]example`."""
    allowed_hosts = tuple(allowed_hosts)
    parts, done = [], 0
    for match in _LINKISH.finditer(text):
        parts.append(_escape(text[done:match.start()]))
        parts.append(_link(match, allowed_hosts))
        done = match.end()
    parts.append(_escape(text[done:]))
    return "".join(parts)


def _link(match: Match, allowed_hosts: Tuple[str, ...]) -> str:
    """One link-like piece of text, as Slack may see it."""
    groups = match.groupdict()
    if groups["url"] or groups["domain"]:
        url, trailing = _split_trailing(match.group(0))
        if groups["domain"]:
            if allowed_link(f"https://{url}", allowed_hosts):
                return _escape(url) + _escape(trailing)
            return _escape(url).replace(".", "[.]") + _escape(trailing)
        target = url if "://" in url else f"https://{url}"  # www.
        if allowed_link(target, allowed_hosts):
            return _slack_link(target, url) + _escape(trailing)
        return LINK_REMOVED + _escape(trailing)
    # a Markdown or HTML link: a Slack link to an allowed target, else its
    # label, itself checked (a label may be a URL)
    target = next(groups[name] for name in ("h1", "h2", "h3", "mt") if groups[name] is not None)
    label = groups["hl"] if groups["hl"] is not None else groups["ml"]
    label = re.sub(r"<[^>]*>", "", label).strip()  # tags inside an HTML link's label
    if allowed_link(target.strip(), allowed_hosts):
        return _slack_link(target.strip(), label)
    return for_slack(label, allowed_hosts) if label else LINK_REMOVED
