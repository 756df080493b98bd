"""Hand-off to a human: record a ticket with the conversation so far, then
tell the user what happens next."""
from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.orders_db import OrderRepository
from actions.services import on_orders

TRANSCRIPT_TURNS = 20


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
        ticket = await on_orders(
            OrderRepository.create_handoff_ticket,
            tracker.sender_id,
            transcript(tracker),
            tracker.get_slot("order_id"),
        )
        dispatcher.utter_message(
            text=f"I've passed our conversation to the support team, ticket {ticket}. "
            "A person from the team will reply by e-mail within one business day, usually "
            "within 4 hours during customer-service hours (Mon-Fri 8:00-20:00, "
            "Sat 9:00-17:00 ET). You can also call us on 1-800-555-0142."
        )
        return [SlotSet("order_id", None), SlotSet("suggestion", None)]
