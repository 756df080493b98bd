"""The web chat's output channel: Rasa's socket.io output with the bot's text
made plain (channels.safe_output.for_webchat), because rasa-webchat renders
it as Markdown and lets `javascript:` links through."""
from typing import Any, Dict, List, Text

from rasa.core.channels import socketio

from channels.safe_output import for_webchat


class SafeSocketIOOutput(socketio.SocketIOOutput):
    """`bot_uttered` events whose text the widget shows as it is."""

    async def send_text_message(self, recipient_id: Text, text: Text, **kwargs: Any) -> None:
        await super().send_text_message(recipient_id, for_webchat(text), **kwargs)

    async def send_text_with_buttons(self, recipient_id: Text, text: Text,
                                     buttons: List[Dict[Text, Any]], **kwargs: Any) -> None:
        # button titles are shown as text by the widget; only the message is Markdown
        await super().send_text_with_buttons(recipient_id, for_webchat(text), buttons, **kwargs)
