"""Rasa's socket.io channel (the web chat widget) with its input checked and
its sessions signed.

Rasa 3.6's handlers assume well-formed events: a message that is not an
object, text that is not a string or metadata that is not JSON raises inside
the handler, and the user waits for a reply that never comes. Here such a
message gets a polite reply (channels.limits), and so does an over-long one.

Sessions: in Rasa anyone who knows a session id joins that conversation. Here
a session id is a token signed with `session_secret`
(channels/webchat_session.py), issued by the page server (webchat/serve.py)
for the customer logged in there. `session_request` with a valid token joins
its conversation and is confirmed with the token renewed; without one
(missing, forged, expired, another secret's) the connection gets a new,
anonymous conversation of its own, never the one it named. With
`session_persistence` the conversation id is the session's random id, and
the room that receives the bot's replies. A message whose token is not valid
is not processed: its connection alone gets a polite reply. The customer a
valid token names reaches the action server in the message metadata
(channels.identity); whatever the client put under that key is dropped.

Browsers connect only from `allowed_origins` (the page's origin): the
`Origin` header of every socket.io request (polling and the WebSocket
handshake) is checked before engine.io sees it; clients that send none (not a
browser) are let through, as engine.io does, since they could send any.
"""
import functools
import inspect
import json
import logging
import re
from typing import Any, Dict, FrozenSet, Optional, Text

from rasa.core.channels import socketio
from rasa.core.channels.channel import InputChannel, UserMessage
from rasa.shared.exceptions import InvalidConfigException
from sanic import Blueprint, response

from channels import limits, turns, webchat_session
from channels.identity import with_identity
from channels.webchat_output import SafeSocketIOOutput

logger = logging.getLogger(__name__)

SESSION_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,%d}$" % limits.MAX_SENDER_ID_CHARS)

# credentials.yml keys (besides Rasa's and the limits)
SESSION_SECRET = "session_secret"
ALLOWED_ORIGINS = "allowed_origins"

INVALID_SESSION_REPLY = (
    "Sorry, this chat session is not valid any more. Please reload the page to start a new one."
)


class SocketIOInput(socketio.SocketIOInput):
    """Events: `session_request` -> `session_confirm`, `user_uttered` -> `bot_uttered`."""

    # set from credentials.yml (Rasa's __init__ does not take them)
    max_message_chars = limits.DEFAULT_MAX_MESSAGE_CHARS
    max_request_bytes = limits.DEFAULT_MAX_REQUEST_BYTES
    session_secret: Text = ""
    allowed_origins: FrozenSet[Text] = frozenset()

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        channel = super().from_credentials(credentials)
        for name, value in limits.channel_limits(credentials).items():
            setattr(channel, name, value)
        channel.session_secret = session_secret(credentials)
        channel.allowed_origins = parse_origins((credentials or {}).get(ALLOWED_ORIGINS))
        return channel

    def get_output_channel(self) -> Optional[SafeSocketIOOutput]:
        """The output for bot messages pushed through the HTTP API
        (`output_channel=socketio`): as safe as replies."""
        output = super().get_output_channel()
        return SafeSocketIOOutput(self.sio, self.bot_message_evt) if output is not None else None

    def blueprint(self, on_new_message: limits.OnNewMessage) -> Blueprint:
        handle = turns.guarded(on_new_message, self.max_message_chars, self.name())
        blueprint = super().blueprint(handle)
        limits.limit_request_size(blueprint, self.max_request_bytes)
        sio = self.sio
        # engine.io closes a connection that sends a bigger packet
        sio.eio.max_http_buffer_size = self.max_request_bytes
        refuse_foreign_origins(sio.eio, self.allowed_origins)

        # Registering a handler again replaces Rasa's one for the event.
        @sio.on("session_request", namespace=self.namespace)
        async def session_request(sid: Text, data: Any = None) -> None:
            requested = data.get("session_id") if isinstance(data, dict) else None
            session = self._session(requested)
            if session is not None:
                # the same conversation, with a new expiry; always another
                # token, so the widget greets a new conversation (it does when
                # the confirmed session id differs from the one it sent)
                token = webchat_session.renew(self.session_secret, session)
            else:
                # a new, anonymous conversation for this connection only
                if requested is not None:
                    logger.info("Connection %s asked for a session that is not valid (forged, "
                                "expired or another secret's): it gets a new one.", sid)
                token = webchat_session.new_session(self.session_secret)
                session = webchat_session.verify(self.session_secret, token)
            if self.session_persistence:
                # a coroutine since python-socketio 5.10, which Rasa 3.6 does
                # not await: the widget never got a reply (RasaHQ/rasa#13027)
                joined = sio.enter_room(sid, session.session_id, namespace=self.namespace)
                if inspect.isawaitable(joined):
                    await joined
            await sio.emit("session_confirm", token, room=sid, namespace=self.namespace)

        @sio.on(self.user_message_evt, namespace=self.namespace)
        async def handle_message(sid: Text, data: Any = None) -> None:
            output = SafeSocketIOOutput(sio, self.bot_message_evt)
            if not isinstance(data, dict):
                await output.send_text_message(sid, limits.UNREADABLE_REPLY)
                return
            session = self._session(data.get("session_id"))
            if session is None:
                logger.warning("Refused a message without a valid session on connection %s.", sid)
                await output.send_text_message(sid, INVALID_SESSION_REPLY)
                return
            text = data.get("message")
            await handle(
                UserMessage(
                    text if isinstance(text, str) else None,
                    output,
                    session.session_id if self.session_persistence else sid,
                    input_channel=self.name(),
                    metadata=with_identity(self._metadata(data), self.name(), session.customer),
                )
            )

        return blueprint

    def _session(self, token: Any) -> Optional[webchat_session.Session]:
        """The session of a validly signed, unexpired token, else None."""
        if not valid_session_id(token):
            return None
        return webchat_session.verify(self.session_secret, token)

    def _metadata(self, data: Any) -> Dict[Text, Any]:
        """The message's metadata object; anything else (bad JSON too) is dropped."""
        metadata = data.get(self.metadata_key) if isinstance(data, dict) else None
        if isinstance(metadata, str):
            try:
                metadata = json.loads(metadata)
            except ValueError:
                metadata = None
        return metadata if isinstance(metadata, dict) else {}


def valid_session_id(value: Any) -> bool:
    return isinstance(value, str) and SESSION_ID.match(value) is not None


def session_secret(credentials: Optional[Dict[Text, Any]]) -> Text:
    """The signing secret from credentials.yml; the server does not start
    without a usable one."""
    secret = str((credentials or {}).get(SESSION_SECRET) or "").strip()
    try:
        webchat_session.check_secret(secret)
    except ValueError as error:
        raise InvalidConfigException(
            f"socket.io channel: '{SESSION_SECRET}' {error} (scripts/defaults.sh makes one per "
            "machine in var/ when the variable is empty)."
        ) from None
    return secret


def parse_origins(value: Any) -> FrozenSet[Text]:
    """Allowed origins from credentials.yml: a list, or one string of origins
    separated by commas or spaces; `*` allows every origin."""
    items = value if isinstance(value, (list, tuple)) else re.split(r"[\s,]+", str(value or ""))
    return frozenset(str(item).strip().rstrip("/") for item in items if str(item).strip())


def origin_allowed(origin: Optional[Text], allowed: FrozenSet[Text]) -> bool:
    """Browsers send `Origin` on every cross-origin and WebSocket request; a
    request without one is not from a (cross-origin) page."""
    if origin is None:
        return True
    return "*" in allowed or origin.rstrip("/") in allowed


def refuse_foreign_origins(eio: Any, allowed: FrozenSet[Text]) -> None:
    """Answers socket.io requests from other origins with a 403 before
    engine.io sees them. (engine.io's own check, `cors_allowed_origins`, also
    adds CORS headers, which Rasa's `--cors` then sends a second time.)
    engine.io registers `handle_request` as its route when the blueprint is
    registered, after this."""
    handle_request = eio.handle_request

    @functools.wraps(handle_request)
    async def checked(request: Any, *args: Any, **kwargs: Any) -> Any:
        origin = request.headers.get("origin")
        if not origin_allowed(origin, allowed):
            logger.warning("Refused a socket.io request from origin %r.", origin[:200])
            return response.text("This origin may not use the chat.\n", status=403)
        return await handle_request(request, *args, **kwargs)

    eio.handle_request = checked
