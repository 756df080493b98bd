"""What every channel refuses, and the polite replies it sends instead.

Rasa 3.6 hands any text to the NLU pipeline, which runs on the server's event
loop: a 20,000-character message holds up every conversation for about ten
seconds and a 100,000-character one for minutes. So each channel checks the
text first and answers an over-long or unreadable message itself, without
processing it (channels.turns), and the whole server refuses request bodies over a size limit
(Sanic answers 413).
"""
import logging
from typing import Any, Awaitable, Callable, Dict, Optional, Text

from rasa.core.channels.channel import UserMessage
from rasa.shared.exceptions import InvalidConfigException
from sanic import Blueprint, Sanic

logger = logging.getLogger(__name__)

# credentials.yml keys, the same for every channel
MAX_MESSAGE_CHARS = "max_message_chars"
MAX_REQUEST_BYTES = "max_request_bytes"

DEFAULT_MAX_MESSAGE_CHARS = 2000  # a long customer message is a few hundred
DEFAULT_MAX_REQUEST_BYTES = 1024 * 1024  # Sanic's own default is 100 MB
MAX_SENDER_ID_CHARS = 128

TOO_LONG_REPLY = (
    "Sorry, that message is too long for me ({length} characters, I can read up to "
    "{limit}). Could you say it in a few sentences?"
)
UNREADABLE_REPLY = "Sorry, I couldn't read that message. Could you send it again as plain text?"

OnNewMessage = Callable[[UserMessage], Awaitable[Any]]


def positive_int(credentials: Optional[Dict[Text, Any]], key: Text, default: int) -> int:
    """A positive number from credentials.yml (where `${VAR}` makes it a
    string); empty means the default. Anything else stops the server at start."""
    value = (credentials or {}).get(key)
    if value is None or str(value).strip() == "":
        return default
    try:
        number = int(str(value).strip())
    except ValueError:
        number = 0
    if number <= 0:
        raise InvalidConfigException(f"'{key}' must be a positive whole number, not {value!r}.")
    return number


def channel_limits(credentials: Optional[Dict[Text, Any]]) -> Dict[Text, int]:
    """The two limits every channel takes from credentials.yml."""
    return {
        "max_message_chars": positive_int(credentials, MAX_MESSAGE_CHARS, DEFAULT_MAX_MESSAGE_CHARS),
        "max_request_bytes": positive_int(credentials, MAX_REQUEST_BYTES, DEFAULT_MAX_REQUEST_BYTES),
    }


def refusal(text: Any, max_chars: int) -> Optional[Text]:
    """The polite reply for a message the assistant won't process, or None."""
    if not isinstance(text, str) or not text.strip():
        return UNREADABLE_REPLY
    if len(text) > max_chars:
        return TOO_LONG_REPLY.format(length=len(text), limit=max_chars)
    return None


def limit_request_size(blueprint: Blueprint, max_bytes: int) -> None:
    """Lowers the server's request body limit when the server starts.

    In Sanic 21 the limit is one setting for the whole server (channels and
    HTTP API alike), so each channel can only lower it: the smallest wins.
    """

    @blueprint.listener("before_server_start")
    async def lower_limit(app: Sanic, _loop: Any) -> None:
        if max_bytes < app.config.REQUEST_MAX_SIZE:
            app.config.REQUEST_MAX_SIZE = max_bytes
            logger.info("Request bodies over %d bytes are refused (413).", max_bytes)
