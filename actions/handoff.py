"""Hand-off to a human: record a ticket with the conversation so far, then
tell the user what happens next. Asking again ("this is useless", twice)
updates the conversation's ticket instead of opening another one."""
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, List, Optional, Text, Tuple

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.config import get_settings
from actions.orders_db import OrderRepository
from actions import verification
from actions.services import on_orders
from knowledge.facts import load_facts

TRANSCRIPT_TURNS = 20
# a second request within this time goes to the same ticket
TICKET_REUSE = timedelta(hours=24)


def open_or_update_ticket(
    repository: OrderRepository, sender_id: Text, text: Text, order_id: Optional[Text]
) -> Tuple[str, bool]:
    """The conversation's ticket, and whether it was opened now."""
    since = datetime.now(timezone.utc) - TICKET_REUSE
    existing = repository.recent_handoff_ticket(sender_id, since)
    if existing:
        repository.update_handoff_ticket(existing, text, order_id)
        return existing, False
    return repository.create_handoff_ticket(sender_id, text, order_id), True


def next_steps(facts: Dict[str, str]) -> Text:
    """What happens after the hand-off, from the shop's facts."""
    return (
        f"A person from the team will reply by e-mail {facts['agent_reply_time']} "
        f"({facts['service_hours']}). You can also call us on {facts['support_phone']}."
    )


def transcript(tracker: Tracker, turns: int = TRANSCRIPT_TURNS) -> Text:
    """The last messages of the conversation, for the human who takes over."""
    lines = [
        f"{'user' if event['event'] == 'user' else 'bot'}: {event.get('text') or ''}"
        for event in tracker.events
        if event.get("event") in ("user", "bot")
    ]
    return "\n".join(lines[-turns:])


class ActionHandoff(Action):
    def name(self) -> Text:
        return "action_handoff"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        # the ticket names the order only when this conversation verified it
        order_id = tracker.get_slot("order_id")
        if not await verification.is_verified(tracker, order_id):
            order_id = None
        ticket, opened = await on_orders(
            open_or_update_ticket, tracker.sender_id, transcript(tracker), order_id
        )
        then = next_steps(load_facts(get_settings().knowledge_base_dir))
        if opened:
            text = f"I've passed our conversation to the support team, ticket {ticket}. {then}"
        else:
            text = (
                f"Our support team already has this conversation, ticket {ticket}, and I've "
                f"added your latest messages. {then}"
            )
        dispatcher.utter_message(text=text)
        return [SlotSet("order_id", None), SlotSet("suggestion", None)]
