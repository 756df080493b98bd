"""Rasa's socket.io channel (the web chat widget) with its input checked.

Rasa 3.6's handlers assume well-formed events: a message that is not an
object, text that is not a string or metadata that is not JSON raises inside
the handler, and the user waits for a reply that never comes. Here such a
message gets a polite reply (channels.limits), and so does an over-long one.
Session ids are checked too: with `session_persistence` the session id is the
conversation id, and the room that receives the bot's replies.
"""
import inspect
import json
import logging
import re
import uuid
from typing import Any, Dict, Optional, Text

from rasa.core.channels import socketio
from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint

from channels import limits

logger = logging.getLogger(__name__)

SESSION_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,%d}$" % limits.MAX_SENDER_ID_CHARS)


class SocketIOInput(socketio.SocketIOInput):
    """Events: `session_request` -> `session_confirm`, `user_uttered` -> `bot_uttered`."""

    # set from credentials.yml (Rasa's __init__ does not take them)
    max_message_chars = limits.DEFAULT_MAX_MESSAGE_CHARS
    max_request_bytes = limits.DEFAULT_MAX_REQUEST_BYTES

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        channel = super().from_credentials(credentials)
        for name, value in limits.channel_limits(credentials).items():
            setattr(channel, name, value)
        return channel

    def blueprint(self, on_new_message: limits.OnNewMessage) -> Blueprint:
        handle = limits.guarded(on_new_message, self.max_message_chars)
        blueprint = super().blueprint(handle)
        limits.limit_request_size(blueprint, self.max_request_bytes)
        sio = self.sio
        # engine.io closes a connection that sends a bigger packet
        sio.eio.max_http_buffer_size = self.max_request_bytes

        # Registering a handler again replaces Rasa's one for the event.
        @sio.on("session_request", namespace=self.namespace)
        async def session_request(sid: Text, data: Any = None) -> None:
            requested = data.get("session_id") if isinstance(data, dict) else None
            session_id = requested if valid_session_id(requested) else uuid.uuid4().hex
            if self.session_persistence:
                # a coroutine since python-socketio 5.10, which Rasa 3.6 does
                # not await: the widget never got a reply (RasaHQ/rasa#13027)
                joined = sio.enter_room(sid, session_id, namespace=self.namespace)
                if inspect.isawaitable(joined):
                    await joined
            await sio.emit("session_confirm", session_id, room=sid, namespace=self.namespace)

        @sio.on(self.user_message_evt, namespace=self.namespace)
        async def handle_message(sid: Text, data: Any = None) -> None:
            output = socketio.SocketIOOutput(sio, self.bot_message_evt)
            sender_id = self._sender_id(sid, data)
            text = data.get("message") if isinstance(data, dict) else None
            if sender_id is None:
                text = None  # answered to this connection only, not processed
                sender_id = sid
            await handle(
                UserMessage(
                    text if isinstance(text, str) else None,
                    output,
                    sender_id,
                    input_channel=self.name(),
                    metadata=self._metadata(data),
                )
            )

        return blueprint

    def _sender_id(self, sid: Text, data: Any) -> Optional[Text]:
        """The conversation id: the session id with session persistence (None
        when it is missing or malformed), else the connection's id."""
        if not self.session_persistence:
            return sid
        session_id = data.get("session_id") if isinstance(data, dict) else None
        if not valid_session_id(session_id):
            logger.warning("Message without a valid session_id on connection %s.", sid)
            return None
        return session_id

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
