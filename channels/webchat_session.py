"""Signed web chat sessions: a session id that cannot be guessed or forged.

The web chat widget keeps its session id in the browser and sends it with
every event; with session persistence it names the conversation. So the id is
a token signed by a secret that the page server (webchat/serve.py) and the
socket.io channel share:

    s1.<session id>.<customer>.<expires>.<nonce>.<signature>

- session id: 32 hex digits (128 random bits); the conversation id;
- customer: the shop's customer reference, base64url (empty: anonymous);
- expires: Unix time in seconds;
- nonce: 48 random bits, base64url: no two tokens are the same, also two of
  one session issued in the same second (the widget greets a new
  conversation only when the session id the server confirms differs from the
  one it sent, see channels/socketio.py);
- signature: HMAC-SHA256 of everything before it, truncated to 128 bits,
  base64url.

Only letters, digits, `.`, `-` and `_`, at most 128 characters: the session
id rules of the socket.io channel (channels/socketio.py, SESSION_ID). Pure
functions, no I/O.
"""
import base64
import binascii
import hashlib
import hmac
import re
import secrets
import time
from typing import NamedTuple, Optional, Text

VERSION = "s1"
MIN_SECRET_CHARS = 32
MAX_AGE_S = 24 * 3600  # the page renews a valid session on every page load
MAX_CUSTOMER_BYTES = 32  # keeps the token within 128 characters
MAX_TOKEN_CHARS = 128
_TAG_BYTES = 16  # 128 bits: HMAC-SHA-256-128, as RFC 4868
_CONTEXT = b"pine webchat session\n"  # domain separation from other uses of a secret

TOKEN = re.compile(
    r"^(?P<payload>s1\.(?P<session_id>[0-9a-f]{32})\.(?P<customer>[A-Za-z0-9_-]{0,43})"
    r"\.(?P<expires>[0-9]{1,12})\.[A-Za-z0-9_-]{8})\.(?P<signature>[A-Za-z0-9_-]{22})$"
)


class Session(NamedTuple):
    session_id: Text  # the conversation id
    customer: Optional[Text]  # None: anonymous
    expires: int  # Unix time in seconds


def check_secret(secret: Text) -> None:
    """Raises ValueError for a secret too short to sign with."""
    if not isinstance(secret, str) or len(secret) < MIN_SECRET_CHARS:
        raise ValueError(f"the web chat session secret needs at least {MIN_SECRET_CHARS} "
                         "characters (WEBCHAT_SESSION_SECRET)")


def new_session(secret: Text, customer: Optional[Text] = None, *,
                max_age_s: int = MAX_AGE_S, now: Optional[float] = None) -> Text:
    """A token for a new session (a new conversation) of `customer`."""
    return sign(secret, secrets.token_hex(16), customer, _expiry(max_age_s, now))


def renew(secret: Text, session: Session, *, max_age_s: int = MAX_AGE_S,
          now: Optional[float] = None) -> Text:
    """A token for the same session and customer with a new expiry."""
    return sign(secret, session.session_id, session.customer, _expiry(max_age_s, now))


def sign(secret: Text, session_id: Text, customer: Optional[Text], expires: int) -> Text:
    check_secret(secret)
    if not re.fullmatch(r"[0-9a-f]{32}", session_id):
        raise ValueError("a session id is 32 hex digits")
    encoded = _encode_customer(customer)
    nonce = _b64(secrets.token_bytes(6))
    payload = f"{VERSION}.{session_id}.{encoded}.{int(expires)}.{nonce}"
    token = f"{payload}.{_signature(secret, payload)}"
    assert len(token) <= MAX_TOKEN_CHARS
    return token


def verify(secret: Text, token: object, *, now: Optional[float] = None) -> Optional[Session]:
    """The session a token stands for, or None when it is malformed, signed
    with another secret, tampered with or expired."""
    check_secret(secret)
    match = TOKEN.match(token) if isinstance(token, str) else None
    if match is None:
        return None
    expected = _signature(secret, match["payload"])
    if not hmac.compare_digest(expected.encode(), match["signature"].encode()):
        return None
    expires = int(match["expires"])
    if expires <= (time.time() if now is None else now):
        return None
    try:
        customer = _decode_customer(match["customer"])
    except ValueError:  # signed by us, so never; but never trust a parse
        return None
    return Session(match["session_id"], customer, expires)


def _signature(secret: Text, payload: Text) -> Text:
    mac = hmac.new(secret.encode(), _CONTEXT + payload.encode(), hashlib.sha256)
    return _b64(mac.digest()[:_TAG_BYTES])


def _expiry(max_age_s: int, now: Optional[float]) -> int:
    if max_age_s <= 0:
        raise ValueError("max_age_s must be positive")
    return int(time.time() if now is None else now) + int(max_age_s)


def _encode_customer(customer: Optional[Text]) -> Text:
    if customer is None or customer == "":
        return ""
    if not isinstance(customer, str):
        raise ValueError("a customer reference is a string")
    raw = customer.encode()
    if len(raw) > MAX_CUSTOMER_BYTES:
        raise ValueError(f"a customer reference has at most {MAX_CUSTOMER_BYTES} bytes")
    return _b64(raw)


def _decode_customer(encoded: Text) -> Optional[Text]:
    if not encoded:
        return None
    try:
        return base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError) as error:
        raise ValueError("malformed customer reference") from error


def _b64(raw: bytes) -> Text:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
