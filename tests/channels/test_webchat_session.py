"""Signed web chat sessions without a server: tokens, their checks, what the
page server hands out, and the socket.io channel's settings."""
import importlib.util
import time

import pytest
from rasa.shared.exceptions import InvalidConfigException

from channels import webchat_session
from channels.socketio import (
    SocketIOInput, origin_allowed, parse_origins, session_secret, valid_session_id,
)
from tests.support.stack import PROJECT_ROOT

SECRET = "s" * 32
OTHER_SECRET = "o" * 32
NOW = 1_800_000_000


def load_serve():
    spec = importlib.util.spec_from_file_location("serve", PROJECT_ROOT / "webchat" / "serve.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("customer", [None, "C-1001", "alice@example.com", "ü" * 16, "x" * 32])
def test_a_new_session_verifies_and_fits_the_channel_session_id_rules(customer):
    token = webchat_session.new_session(SECRET, customer, now=NOW)

    session = webchat_session.verify(SECRET, token, now=NOW + 1)

    assert session is not None
    assert session.customer == customer
    assert len(session.session_id) == 32 and session.expires == NOW + webchat_session.MAX_AGE_S
    assert valid_session_id(token) and len(token) <= webchat_session.MAX_TOKEN_CHARS


def test_sessions_are_new_conversations_and_tokens_never_repeat():
    tokens = [webchat_session.new_session(SECRET, now=NOW) for _ in range(50)]
    renewed = [webchat_session.renew(SECRET, webchat_session.verify(SECRET, tokens[0], now=NOW),
                                     now=NOW) for _ in range(50)]

    assert len({webchat_session.verify(SECRET, t, now=NOW).session_id for t in tokens}) == 50
    # the same second, the same session: still other tokens, one conversation
    assert len(set(renewed)) == 50
    assert {webchat_session.verify(SECRET, t, now=NOW).session_id for t in renewed} == {
        webchat_session.verify(SECRET, tokens[0], now=NOW).session_id}


def test_renewing_keeps_the_session_and_customer_and_moves_the_expiry():
    session = webchat_session.verify(SECRET, webchat_session.new_session(SECRET, "C-1", now=NOW),
                                     now=NOW)

    renewed = webchat_session.verify(
        SECRET, webchat_session.renew(SECRET, session, now=NOW + 100), now=NOW + 100)

    assert renewed == session._replace(expires=NOW + 100 + webchat_session.MAX_AGE_S)


def tamper(token: str, field: int, value: str) -> str:
    parts = token.split(".")
    parts[field] = value
    return ".".join(parts)


def forged_tokens():
    """Tokens an attacker can make without the secret, for a session they
    know the id of."""
    token = webchat_session.new_session(SECRET, "C-1001", now=NOW)
    session_id = token.split(".")[1]
    anonymous = webchat_session.new_session(SECRET, now=NOW)
    return {
        "the bare session id": session_id,
        "another secret": webchat_session.sign(OTHER_SECRET, session_id, "C-1001", NOW + 3600),
        "another customer": tamper(token, 2, webchat_session._b64(b"C-2002")),
        "a customer added": tamper(anonymous, 2, webchat_session._b64(b"C-1001")),
        "another session id": tamper(token, 1, "0" * 32),
        "a later expiry": tamper(token, 3, str(NOW + 10 ** 8)),
        "another nonce": tamper(token, 4, "AAAAAAAA"),
        "no signature": token.rsplit(".", 1)[0],
        "empty signature": tamper(token, 5, ""),
        "a signature of zeros": tamper(token, 5, "A" * 22),
        "a signature one letter off": token[:-1] + ("A" if token[-1] != "A" else "B"),
        "another version": "s2" + token[2:],
        "padding": token + "=",
        "a space": token + " ",
        "a uuid": "e712416692184b54810ddf79870f70c2",
    }


@pytest.mark.parametrize("case", sorted(forged_tokens()))
def test_forged_tampered_and_unsigned_tokens_are_refused(case):
    assert webchat_session.verify(SECRET, forged_tokens()[case], now=NOW + 1) is None


@pytest.mark.parametrize("token", [None, 5, b"bytes", "", "x" * 500, ["s1"], {"s1": 1}])
def test_what_is_not_a_token_is_refused(token):
    assert webchat_session.verify(SECRET, token, now=NOW) is None


def test_an_expired_session_is_refused():
    token = webchat_session.new_session(SECRET, max_age_s=60, now=NOW)

    assert webchat_session.verify(SECRET, token, now=NOW + 59) is not None
    assert webchat_session.verify(SECRET, token, now=NOW + 60) is None


@pytest.mark.parametrize("secret", ["", "short", None, "x" * 31])
def test_a_short_secret_is_refused(secret):
    with pytest.raises(ValueError):
        webchat_session.new_session(secret)
    with pytest.raises(ValueError):
        webchat_session.verify(secret, "s1.x")


@pytest.mark.parametrize("customer", ["x" * 33, "ü" * 17, 5])
def test_a_customer_reference_that_does_not_fit_is_refused(customer):
    with pytest.raises(ValueError):
        webchat_session.new_session(SECRET, customer)


def test_the_page_continues_a_valid_session_of_the_same_customer_only():
    page_session = load_serve().page_session
    anonymous = webchat_session.new_session(SECRET)
    customers = webchat_session.new_session(SECRET, "C-1001")

    def conversation(token):
        return webchat_session.verify(SECRET, token).session_id

    continued, continues = page_session(SECRET, anonymous, None)
    assert continues and continued != anonymous
    assert conversation(continued) == conversation(anonymous)
    # logged in since: not the anonymous conversation
    for stored, customer in [(anonymous, "C-1001"), (customers, None), (customers, "C-2002")]:
        token, continues = page_session(SECRET, stored, customer)
        assert not continues and conversation(token) != conversation(stored)
        assert webchat_session.verify(SECRET, token).customer == customer
    for stored in [None, "", *forged_tokens().values()]:
        token, continues = page_session(SECRET, stored, None)
        assert not continues and webchat_session.verify(SECRET, token).customer is None


@pytest.mark.parametrize("value, expected", [
    ("http://127.0.0.1:8080 http://localhost:8080", {"http://127.0.0.1:8080",
                                                     "http://localhost:8080"}),
    ("https://shop.example/, https://www.shop.example", {"https://shop.example",
                                                         "https://www.shop.example"}),
    (["https://shop.example"], {"https://shop.example"}),
    ("", set()), (None, set()), ("*", {"*"}),
])
def test_allowed_origins_from_credentials(value, expected):
    assert parse_origins(value) == expected


@pytest.mark.parametrize("origin, allowed, expected", [
    ("http://127.0.0.1:8080", {"http://127.0.0.1:8080"}, True),
    ("http://127.0.0.1:8081", {"http://127.0.0.1:8080"}, False),
    ("http://evil.example", {"http://127.0.0.1:8080"}, False),
    ("null", {"http://127.0.0.1:8080"}, False),  # sandboxed frames, file://
    ("http://127.0.0.1:8080.evil.example", {"http://127.0.0.1:8080"}, False),
    ("http://evil.example", set(), False),
    ("http://evil.example", {"*"}, True),
    (None, set(), True),  # not a browser: it could send any Origin
])
def test_origin_allowed(origin, allowed, expected):
    assert origin_allowed(origin, frozenset(allowed)) is expected


@pytest.mark.parametrize("secret", [None, "", "   ", "x" * 31])
def test_the_channel_does_not_start_without_a_usable_secret(secret):
    with pytest.raises(InvalidConfigException, match="session_secret"):
        session_secret({"session_secret": secret})


def test_the_channel_takes_its_settings_from_credentials():
    channel = SocketIOInput.from_credentials({
        "session_persistence": True, "session_secret": SECRET,
        "allowed_origins": "http://127.0.0.1:8080 http://localhost:8080",
        "max_message_chars": "", "max_request_bytes": "",
    })

    assert channel.session_secret == SECRET
    assert channel.allowed_origins == {"http://127.0.0.1:8080", "http://localhost:8080"}


def test_expiry_uses_the_clock_by_default():
    token = webchat_session.new_session(SECRET)

    assert webchat_session.verify(SECRET, token).expires >= time.time() + 24 * 3600 - 5
