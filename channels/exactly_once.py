"""A REST message sent again is processed once: by its idempotency key.

A REST client that gets no answer (its Rasa replica died, a timeout, a
network break) cannot tell whether its message was processed, so it sends it
again, maybe to another replica. With `metadata.message_id` (or an
`Idempotency-Key` header), like Slack's event ids, the message is processed at
most once per conversation and a repeat gets the reply the first one got.

The record of "processed" is the tracker store itself, read under the
conversation's lock (Rasa's lock store, shared by the replicas): a message is
processed exactly when its turn is stored, so the check cannot disagree with
the store. (A separate Redis key, set before or after the turn, would either
lose the message when the replica dies mid-turn or process it twice when the
replica dies between storing the turn and setting the key.)
"""
import logging
from typing import Any, Dict, Iterable, List, Mapping, Optional, Text

from rasa.core.channels.channel import UserMessage
from rasa.shared.core.events import BotUttered, Event, UserUttered

from channels.turns import TurnOutcome
from rasa_server.unavailable import AssistantUnavailable

logger = logging.getLogger(__name__)

MESSAGE_ID_KEY = "message_id"
IDEMPOTENCY_HEADER = "Idempotency-Key"
MAX_MESSAGE_ID_CHARS = 128


def message_id(metadata: Optional[Mapping[Text, Any]], headers: Mapping[Text, Text]) -> Optional[Text]:
    """The message's idempotency key: metadata first, then the header.
    ValueError when one is given but is not a short string."""
    value = (metadata or {}).get(MESSAGE_ID_KEY)
    if value is None:
        value = headers.get(IDEMPOTENCY_HEADER)
    if value is None:
        return None
    if not isinstance(value, str) or not 0 < len(value) <= MAX_MESSAGE_ID_CHARS:
        raise ValueError(f"'metadata.{MESSAGE_ID_KEY}' (or the {IDEMPOTENCY_HEADER} header) must "
                         f"be a string of 1 to {MAX_MESSAGE_ID_CHARS} characters.")
    return value


def stored_reply(events: Iterable[Event], key: Text, recipient_id: Text) -> Optional[List[Dict]]:
    """The bot messages stored after the user message with this key, as REST
    returns them; None when no such message is stored."""
    reply: Optional[List[Dict]] = None
    for event in events:
        if isinstance(event, UserUttered):
            if reply is not None:
                break  # the next user message ends the turn
            if (event.metadata or {}).get(MESSAGE_ID_KEY) == key:
                reply = []
        elif reply is not None and isinstance(event, BotUttered):
            reply.append(rest_message(recipient_id, event))
    return reply


def rest_message(recipient_id: Text, event: BotUttered) -> Dict[Text, Any]:
    """A stored bot message in the REST channel's format (CollectingOutputChannel)."""
    message = {"recipient_id": recipient_id, "text": event.text}
    for key in ("buttons", "image", "attachment", "custom"):
        if event.data.get(key):
            message[key] = event.data[key]
    return {key: value for key, value in message.items() if value is not None}


async def handle_once(agent: Any, message: UserMessage, key: Text) -> TurnOutcome:
    """Rasa's `Agent.handle_message`, plus the check for an already stored
    turn with this key inside the conversation's lock."""
    if agent is None or not agent.is_ready():
        raise AssistantUnavailable("no model is loaded")
    stored = False
    try:
        async with agent.lock_store.lock(message.sender_id):
            tracker = await agent.tracker_store.retrieve(message.sender_id)
            replay = stored_reply(tracker.events, key, message.sender_id) if tracker else None
            if replay is not None:
                message.output_channel.messages.extend(replay)
                return TurnOutcome.REPLAYED
            await agent.processor.handle_message(message)
            stored = True
    except Exception as error:
        if not stored:
            raise
        # the turn is stored and its reply is real: a lock store that failed
        # only at the release (Redis restarting) must not turn it into an
        # apology; the ticket expires by itself (TICKET_LOCK_LIFETIME)
        logger.warning("Turn of %s stored, but its lock was not released: %s",
                       message.sender_id, error)
    return TurnOutcome.REPLIED
