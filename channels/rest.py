"""Rasa's REST channel (`POST /webhooks/rest/webhook`) with its input checked.

Rasa 3.6 answers a JSON body that is not an object with a 500 and silently
drops a message that is not a string. Here a malformed body is a 400 that says
what is wrong, and an over-long message gets a polite reply (channels.limits).
The reply format is Rasa's: a JSON list of bot messages. A turn the
assistant could not store (tracker or lock store down) is a 503 with
`Retry-After` whose bot message says so (`custom.pine_status` is
"unavailable"): the client sends the message again. With an idempotency key
(`metadata.message_id` or an `Idempotency-Key` header) a message sent again is
processed once and its repeat gets the first reply (`X-Pine-Replayed: 1`;
channels.exactly_once).

A request may carry a JWT (`Authorization: Bearer ...`) signed with the HTTP
API's secret (RASA_JWT_SECRET), in the HTTP API's format
(`{"user": {"username": ...}}`): a shop's own back end that knows which
customer is logged in. That user then reaches the actions as the message's
identity (channels.identity); a client's own `pine_identity` metadata is
dropped. A JWT that does not verify is a 401.
"""
import functools
import logging
from typing import Any, Dict, Optional, Text

import jwt
from rasa.core.channels import rest
from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from rasa.utils.endpoints import bool_arg
from sanic import Blueprint, response
from sanic.exceptions import InvalidUsage, Unauthorized
from sanic.request import Request
from sanic.response import HTTPResponse

from channels import exactly_once, limits, turns
from channels.identity import with_identity
from rasa_server.unavailable import RETRY_AFTER_S

logger = logging.getLogger(__name__)
# the HTTP API's JWT user (rasa.server) is this channel's identity
API_IDENTITY_CHANNEL = "api"


class RestInput(rest.RestInput):
    """`{"sender": "...", "message": "...", "metadata": {...}}` in, bot messages out."""

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        credentials = credentials or {}
        return cls(
            **limits.channel_limits(credentials),
            jwt_secret=credentials.get("jwt_secret") or None,
            jwt_method=credentials.get("jwt_method") or "HS256",
        )

    def __init__(
        self,
        max_message_chars: int = limits.DEFAULT_MAX_MESSAGE_CHARS,
        max_request_bytes: int = limits.DEFAULT_MAX_REQUEST_BYTES,
        jwt_secret: Optional[Text] = None,
        jwt_method: Text = "HS256",
    ) -> None:
        self.max_message_chars = max_message_chars
        self.max_request_bytes = max_request_bytes
        self.jwt_secret = jwt_secret
        self.jwt_method = jwt_method

    def blueprint(self, on_new_message: limits.OnNewMessage) -> Blueprint:
        blueprint = Blueprint(f"custom_webhook_{type(self).__name__}", __name__)
        limits.limit_request_size(blueprint, self.max_request_bytes)
        handle = turns.guarded(on_new_message, self.max_message_chars, self.name())

        @blueprint.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @blueprint.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> Any:
            sender_id = await self._extract_sender(request)  # checks the whole body
            text = self._extract_message(request)
            input_channel = self._extract_input_channel(request)
            metadata = self.get_metadata(request) or {}
            try:
                key = exactly_once.message_id(metadata, request.headers)
            except ValueError as error:
                raise InvalidUsage(str(error))
            if key is not None:
                metadata[exactly_once.MESSAGE_ID_KEY] = key  # stored with the message
                agent = getattr(request.app.ctx, "agent", None)
                turn = turns.guarded(functools.partial(self._handle_once, agent, key),
                                     self.max_message_chars, self.name())
            else:
                turn = handle
            if bool_arg(request, "stream", default=False):
                return response.stream(
                    self.stream_response(turn, text, sender_id, input_channel, metadata),
                    content_type="text/event-stream",
                )
            collector = CollectingOutputChannel()
            outcome = await turn(UserMessage(text, collector, sender_id,
                                             input_channel=input_channel, metadata=metadata))
            return reply(collector.messages, outcome)

        return blueprint

    @staticmethod
    async def _handle_once(agent: Any, key: Text, message: UserMessage) -> turns.TurnOutcome:
        return await exactly_once.handle_once(agent, message, key)

    # Rasa's handler calls this first, so the whole body is checked here; the
    # other `_extract_*` methods of the parent class then read a valid body.
    async def _extract_sender(self, req: Request) -> Optional[Text]:
        return checked_body(req).get("sender")

    def get_metadata(self, request: Request) -> Optional[Dict[Text, Any]]:
        return with_identity(
            request.json.get("metadata"), API_IDENTITY_CHANNEL, self._jwt_user(request)
        )

    def _jwt_user(self, request: Request) -> Optional[Text]:
        """The username of a valid bearer JWT; None without one."""
        header = request.headers.get("Authorization") or ""
        if not header.startswith("Bearer ") or not self.jwt_secret:
            return None
        try:
            payload = jwt.decode(header[len("Bearer "):], self.jwt_secret,
                                 algorithms=[self.jwt_method])
        except jwt.PyJWTError as error:
            logger.warning("Refused a REST message with an invalid JWT: %s", type(error).__name__)
            raise Unauthorized("The JWT is not valid.")
        user = payload.get("user") if isinstance(payload, dict) else None
        username = user.get("username") if isinstance(user, dict) else None
        return username if isinstance(username, str) and username else None


def reply(messages: Any, outcome: turns.TurnOutcome) -> HTTPResponse:
    """The bot messages of a turn, with the status that tells a client what to do."""
    if outcome is turns.TurnOutcome.UNAVAILABLE:
        return response.json(messages, status=503, headers={"Retry-After": str(RETRY_AFTER_S)})
    headers = {"X-Pine-Replayed": "1"} if outcome is turns.TurnOutcome.REPLAYED else None
    return response.json(messages, headers=headers)


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
