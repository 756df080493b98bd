"""One customer turn on any channel, from message to reply, never silent.

Every channel hands its messages to `guarded`, which

- answers a message it won't process (too long, unreadable) itself
  (channels.limits);
- keeps the turn's bot messages until the turn is stored, then sends them:
  a reply the customer saw is never missing from the tracker store, and a
  turn whose store failed shows only UNAVAILABLE_REPLY (rasa_server.unavailable),
  so the customer sends the message again instead of seeing a reply the
  assistant then forgets;
- answers any other failure with an apology instead of nothing;
- counts the turn and its time (rasa_server.metrics).

REST's collecting output is already held until the turn ends; socket.io and
Slack send what was kept right after.
"""
import logging
import time
from enum import Enum
from typing import Any, Awaitable, Callable, Dict, List, Optional, Text

from rasa.core.channels.channel import CollectingOutputChannel, OutputChannel, UserMessage

from channels import limits
from rasa_server import metrics
from rasa_server.unavailable import RETRY_AFTER_S, UNAVAILABLE_REPLY, is_unavailable

logger = logging.getLogger(__name__)

TURN_FAILED_REPLY = (
    "Sorry, something went wrong on my side with that message. Could you send it again?"
)


class TurnOutcome(str, Enum):
    REPLIED = "replied"
    REFUSED = "refused"  # too long or unreadable: a polite reply, not processed
    REPLAYED = "replayed"  # a repeat of a processed message: its stored reply again
    UNAVAILABLE = "unavailable"  # a store failed: nothing of the turn was stored
    FAILED = "failed"  # any other error: an apology


# Rasa's message handler; a handler may return the outcome itself (REPLAYED)
Handler = Callable[[UserMessage], Awaitable[Any]]
Turn = Callable[[UserMessage], Awaitable[TurnOutcome]]


def guarded(on_new_message: Handler, max_chars: int, channel: Text) -> Turn:
    """Wraps Rasa's message handler for one channel (see the module's docstring)."""

    async def handle(message: UserMessage) -> TurnOutcome:
        started = time.monotonic()
        outcome = await _turn(on_new_message, message, max_chars)
        metrics.MESSAGES.labels(channel, outcome.value).inc()
        metrics.TURN_SECONDS.labels(channel).observe(time.monotonic() - started)
        return outcome

    return handle


async def _turn(on_new_message: Handler, message: UserMessage, max_chars: int) -> TurnOutcome:
    refusal = limits.refusal(message.text, max_chars)
    output = message.output_channel
    if refusal is not None:
        length = len(message.text) if isinstance(message.text, str) else None
        logger.warning("Refused a message from %s on %s (length %s) without processing it.",
                       message.sender_id, message.input_channel, length)
        await output.send_text_message(message.sender_id, refusal)
        return TurnOutcome.REFUSED

    held = output if isinstance(output, CollectingOutputChannel) else CollectingOutputChannel()
    message.output_channel = held
    try:
        returned = await on_new_message(message)
    except Exception as error:  # the customer gets a reply whatever failed
        if isinstance(held.messages, list):  # (a streaming REST reply has sent them)
            held.messages.clear()
        if is_unavailable(error):
            logger.error("Turn of %s refused: %s", message.sender_id, error)
            metrics.STORE_FAILURES.labels(type(error).__name__).inc()
            await send_unavailable(output, message.sender_id)
            return TurnOutcome.UNAVAILABLE
        logger.exception("Turn of %s failed", message.sender_id)
        await output.send_text_message(message.sender_id, TURN_FAILED_REPLY)
        return TurnOutcome.FAILED
    finally:
        message.output_channel = output
    if held is not output:
        for sent in held.messages:
            await output.send_response(message.sender_id, without_recipient(sent))
    return returned if isinstance(returned, TurnOutcome) else TurnOutcome.REPLIED


async def send_unavailable(output: OutputChannel, recipient_id: Text) -> None:
    """UNAVAILABLE_REPLY; a REST client also gets a machine-readable marker."""
    if isinstance(output, CollectingOutputChannel):
        await output._persist_message(output._message(
            recipient_id, text=UNAVAILABLE_REPLY,
            custom={"pine_status": "unavailable", "retry_after_s": RETRY_AFTER_S},
        ))
    else:
        await output.send_text_message(recipient_id, UNAVAILABLE_REPLY)


def without_recipient(message: Dict[Text, Any]) -> Dict[Text, Any]:
    """A collected message as `OutputChannel.send_response` takes it."""
    return {key: value for key, value in message.items() if key != "recipient_id"}
