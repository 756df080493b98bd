"""The LLM fallback: answers open-ended and out-of-scope messages.

Used for `nlu_fallback` and as the RulePolicy's core fallback action. This
module is the thin shell around `actions.fallback_decision`, which decides
everything: it reads the conversation, searches the knowledge base, calls the
model within one deadline, and sends the reply with a record of what happened
in the bot message's metadata (`llm_fallback`). On any failure the user gets
a clear canned reply.
"""
import asyncio
import logging
import re
import time
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Text, Tuple

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.config import Settings, get_settings
from actions.fallback_decision import (
    CANNED_UNAVAILABLE, FallbackResult, Outcome, ReplyKind, answer_order, choose_reply, reply_kind, screen,
    settled_without_model, without_model,
)
from actions.fallback_prompt import FREQUENCY_PENALTY, MAX_TOKENS, STOP, build_messages
from actions.fallback_services import FallbackServices
from actions.knowledge_base import Hit
from actions.model_client import ModelServerError

logger = logging.getLogger(__name__)

ACTION_NAME = "action_llm_fallback"
ORDER_NUMBER = re.compile(r"(?<!\d)\d{5}(?!\d)")
HISTORY_TURNS = 4  # user and bot messages given to the model as context
FALLBACKS_BEFORE_HANDOFF = 3
# of the deadline, kept back from generation for checking the answer, or for
# quoting the passages instead when generation runs out of time
ANSWER_MARGIN_S = 0.5
HANDOFF_OFFER = "I don't seem to be getting this right. Would you like me to pass you to a person from our team?"


def recent_turns(events: Sequence[Dict[str, Any]], turns: int = HISTORY_TURNS) -> List[Dict[str, str]]:
    """The last messages before the current one, as chat messages."""
    messages = [
        {"role": "user" if event["event"] == "user" else "assistant", "content": event.get("text") or ""}
        for event in events
        if event.get("event") in ("user", "bot") and (event.get("text") or "").strip()
    ]
    return messages[:-1][-turns:]  # the last user message is the question itself


def consecutive_fallbacks(events: Sequence[Dict[str, Any]]) -> int:
    """How many times this action ran in a row before now, counting back
    until any other action (user messages and listening don't break a run)."""
    count = 0
    for event in reversed(events):
        if event.get("event") != "action":
            continue
        name = event.get("name")
        if name == ACTION_NAME:
            count += 1
        elif name not in ("action_listen", None):
            break
    return count


def conversation_facts(events: Sequence[Dict[str, Any]]) -> str:
    """What the answer may repeat from the conversation: everything the bot
    said (it came from the order system) and the order numbers the user gave,
    but not the user's other claims ("returns are accepted for 365 days")."""
    said = []
    for event in events:
        text = event.get("text") or ""
        if event.get("event") == "bot":
            said.append(text)
        elif event.get("event") == "user":
            said.extend(ORDER_NUMBER.findall(text))
    return " ".join(said)


@dataclass
class Retrieval:
    hits: List[Hit]
    method: str  # "embeddings" or "words"
    milliseconds: int

    def record(self) -> Dict[str, Any]:
        return {
            "retrieval": self.method,
            "retrieval_ms": self.milliseconds,
            "passages": [
                {"source": h.passage.source, "title": h.passage.title, "score": round(h.score, 3)} for h in self.hits
            ],
        }


class ActionLLMFallback(Action):
    def __init__(self, services: Optional[FallbackServices] = None) -> None:
        # the action server builds actions without arguments; tests pass their own
        self._services = services

    def name(self) -> Text:
        return ACTION_NAME

    @property
    def services(self) -> FallbackServices:
        return self._services or FallbackServices.shared()

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        settings = get_settings()
        started = time.monotonic()
        text = (tracker.latest_message.get("text") or "").strip()
        record: Dict[str, Any] = {"routing": tracker.latest_message.get("llm_routing")}
        try:
            result, details = await asyncio.wait_for(
                self.reply(text, tracker.events, settings, started + settings.llm_deadline_s),
                settings.llm_deadline_s,
            )
            record.update(details)
        except asyncio.TimeoutError:
            result = FallbackResult(Outcome.TIMEOUT, CANNED_UNAVAILABLE)
        except Exception as error:  # never leave the user without a reply
            logger.exception("LLM fallback failed")
            result = FallbackResult(Outcome.ERROR, CANNED_UNAVAILABLE)
            record["error"] = repr(error)[:300]
        record.update(result.record(), latency_ms=round((time.monotonic() - started) * 1000))
        self._send(dispatcher, result.text, record, consecutive_fallbacks(tracker.events) + 1)
        # a "yes" now answers this reply, not an earlier suggestion
        return [SlotSet("suggestion", None)]

    async def reply(self, text: str, events: Sequence[Dict[str, Any]], settings: Settings,
                    deadline: float) -> Tuple[FallbackResult, Dict[str, Any]]:
        """The reply to `text` and what happened on the way (for the record)."""
        screened = screen(text)
        if screened:
            return screened, {}
        retrieval = await self._retrieve(text, settings)
        details = retrieval.record()
        kind = reply_kind(text, retrieval.hits, retrieval.method)
        settled = settled_without_model(text, kind)
        if settled:
            return settled, details
        messages = build_messages(text, kind, retrieval.hits, recent_turns(events), settings.llm_canary)
        try:
            generated, generation = await self._generate(messages, kind, settings, deadline)
        except ModelServerError as error:
            details["error"] = str(error)[:300]
            return FallbackResult(Outcome.MODEL_UNAVAILABLE, without_model(text, kind, retrieval.hits), kind), details
        details.update(generation)
        return choose_reply(text, kind, retrieval.hits, generated, conversation_facts(events)), details

    async def _retrieve(self, text: str, settings: Settings) -> Retrieval:
        started = time.monotonic()
        knowledge = self.services.knowledge_base(settings)
        client = self.services.client(settings)
        hits, method = await knowledge.search(text[:1000], client, settings.embedding_timeout_s)
        return Retrieval(answer_order(hits), method, round((time.monotonic() - started) * 1000))

    async def _generate(self, messages: List[Dict[str, str]], kind: ReplyKind, settings: Settings,
                        deadline: float) -> Tuple[str, Dict[str, Any]]:
        # a slow model server leaves time to quote the passages instead
        time_left = max(0.1, deadline - time.monotonic() - ANSWER_MARGIN_S)
        started = time.monotonic()
        max_tokens = MAX_TOKENS[kind] or settings.llm_max_tokens
        generated = await self.services.client(settings).chat(
            messages, max_tokens, time_left, stop=STOP[kind], frequency_penalty=FREQUENCY_PENALTY[kind]
        )
        return generated, {
            "generation_budget_ms": round(time_left * 1000),
            "generation_ms": round((time.monotonic() - started) * 1000),
        }

    @staticmethod
    def _send(dispatcher: CollectingDispatcher, text: str, record: Dict[str, Any], in_a_row: int) -> None:
        record["fallbacks_in_a_row"] = in_a_row
        if in_a_row < FALLBACKS_BEFORE_HANDOFF:
            dispatcher.utter_message(text=text, llm_fallback=record)
            return
        # one message with the offer: no turn sends more than the
        # MessageBudgetPolicy allows
        dispatcher.utter_message(
            text=f"{text}\n\n{HANDOFF_OFFER}",
            buttons=[
                {"title": "Yes, a person please", "payload": "/human_handoff"},
                {"title": "No, thanks", "payload": "/deny"},
            ],
            llm_fallback=record,
        )
