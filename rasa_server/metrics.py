"""The Rasa server's Prometheus metrics (`GET /metrics`, rasa_server.hooks).

Per Rasa server process, like the model server's: Prometheus scrapes every
replica (deploy/stack.yml names them `tasks.rasa`). What a shop's operations
team asks first: how many messages, how long a turn takes by channel, how
each turn ended (replied, refused, unavailable, replayed), and what the LLM
fallback did (its outcome is in the bot message's metadata, which reaches
this process as a tracker event: `MetricsEventBroker`).
"""
import logging
from typing import Any, Dict, Optional, Text

from prometheus_client import (CONTENT_TYPE_LATEST, Counter, Histogram,
                               disable_created_metrics, generate_latest)
from rasa.core.brokers.broker import EventBroker
from rasa.utils.endpoints import EndpointConfig

logger = logging.getLogger(__name__)

# no `*_created` series next to every counter: they double what is scraped
disable_created_metrics()

MESSAGES = Counter(
    "pine_messages_total", "User messages by channel and how their turn ended",
    ["channel", "outcome"],
)
TURN_SECONDS = Histogram(
    "pine_turn_seconds", "Time from a user message to its last bot message, by channel",
    ["channel"], buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 12, 16, 30, 60),
)
FALLBACK_REPLIES = Counter(
    "pine_fallback_replies_total", "LLM fallback replies by outcome (actions.fallback_decision)",
    ["outcome"],
)
ACTION_CALL_FAILURES = Counter(
    "pine_action_call_failures_total",
    "Action server calls answered with an apology, by reason", ["reason"],
)
STORE_FAILURES = Counter(
    "pine_store_failures_total", "Turns refused because a store failed", ["store"],
)


def exposition() -> "tuple[bytes, str]":
    """The metrics in Prometheus' text format, and its content type."""
    return generate_latest(), CONTENT_TYPE_LATEST


def fallback_outcome(event: Dict[Text, Any]) -> Optional[Text]:
    """The LLM fallback's outcome of a bot event, None for any other event."""
    if event.get("event") != "bot":
        return None
    record = (event.get("metadata") or {}).get("llm_fallback")
    outcome = record.get("outcome") if isinstance(record, dict) else None
    return outcome if isinstance(outcome, str) else None


class MetricsEventBroker(EventBroker):
    """An event broker that counts what it sees instead of forwarding it.

    endpoints.yml: `event_broker: {type: rasa_server.metrics.MetricsEventBroker}`.
    Rasa publishes the events of a turn when it stores them, so a turn that
    was refused (store down) is not counted as a fallback reply."""

    @classmethod
    async def from_endpoint_config(cls, broker_config: EndpointConfig,
                                   event_loop: Any = None) -> "MetricsEventBroker":
        return cls()

    def publish(self, event: Dict[Text, Any]) -> None:
        outcome = fallback_outcome(event)
        if outcome is not None:
            FALLBACK_REPLIES.labels(outcome).inc()

    def is_ready(self) -> bool:
        return True
