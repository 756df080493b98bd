"""Rasa's REST channel (`POST /webhooks/rest/webhook`) with its input checked.

Rasa 3.6 answers a JSON body that is not an object with a 500 and silently
drops a message that is not a string. Here a malformed body is a 400 that says
what is wrong, and an over-long message gets a polite reply (channels.limits).
The reply format is Rasa's: a JSON list of bot messages.
"""
from typing import Any, Dict, Optional, Text

from rasa.core.channels import rest
from rasa.core.channels.channel import InputChannel
from sanic import Blueprint
from sanic.exceptions import InvalidUsage
from sanic.request import Request

from channels import limits


class RestInput(rest.RestInput):
    """`{"sender": "...", "message": "...", "metadata": {...}}` in, bot messages out."""

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        return cls(
            **limits.channel_limits(credentials),
        )

    def __init__(
        self,
        max_message_chars: int = limits.DEFAULT_MAX_MESSAGE_CHARS,
        max_request_bytes: int = limits.DEFAULT_MAX_REQUEST_BYTES,
    ) -> None:
        self.max_message_chars = max_message_chars
        self.max_request_bytes = max_request_bytes

    def blueprint(self, on_new_message: limits.OnNewMessage) -> Blueprint:
        blueprint = super().blueprint(limits.guarded(on_new_message, self.max_message_chars))
        limits.limit_request_size(blueprint, self.max_request_bytes)
        return blueprint

    # Rasa's handler calls this first, so the whole body is checked here; the
    # other `_extract_*` methods of the parent class then read a valid body.
    async def _extract_sender(self, req: Request) -> Optional[Text]:
        return checked_body(req).get("sender")


def checked_body(req: Request) -> Dict[Text, Any]:
    """The request's JSON object, or a 400 that names the problem."""
    body = req.json  # Sanic answers 400 itself when this is not JSON
    if not isinstance(body, dict):
        raise InvalidUsage("The body must be a JSON object with a 'message' string.")
    if not isinstance(body.get("message"), str):
        raise InvalidUsage("'message' must be a string.")
    sender = body.get("sender")
    if sender is not None and (
        not isinstance(sender, str) or not 0 < len(sender) <= limits.MAX_SENDER_ID_CHARS
    ):
        raise InvalidUsage(
            f"'sender' must be a string of 1 to {limits.MAX_SENDER_ID_CHARS} characters."
        )
    if body.get("metadata") is not None and not isinstance(body["metadata"], dict):
        raise InvalidUsage("'metadata' must be a JSON object.")
    if body.get("input_channel") is not None and not isinstance(body["input_channel"], str):
        raise InvalidUsage("'input_channel' must be a string.")
    return body
