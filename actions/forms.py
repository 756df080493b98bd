"""Slot validation for the three order forms.

Each `validate_<slot>` returns `{slot: value}` to accept or `{slot: None}` to
ask again, after telling the user what was wrong. Every form asks for the
e-mail address on the order before anything about it is shown or changed
(`actions/verification.py`), unless this conversation already verified that
order. Eligibility (can this order still be cancelled or returned?) shortens
the form through `required_slots`, but only once the order is verified; the
submit actions then explain the decision.
"""
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import date
from typing import Any, Dict, List, Optional, Text, Tuple

from rasa_sdk import Tracker
from rasa_sdk.events import ActionExecutionRejected, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import FormValidationAction
from rasa_sdk.types import DomainDict

from actions.config import get_settings
from actions.formatting import describe_order
from actions.dialogue import (
    Turn,
    TurnKind,
    confirmation,
    interpret,
    matches_choice,
    names_another_order,
)
from actions.order_policy import ReturnDecision, can_cancel, return_decision
from actions.orders_db import Order, OrderRepository
from actions.services import on_orders
from actions import verification
from custom_components.order_numbers import malformed_order_number

ORDER_ID = re.compile(r"^\d{5}$")
MAX_REASON_LENGTH = 500
# the return form's suggested reasons, offered as buttons
RETURN_REASONS = ("Wrong size", "Damaged", "Not as described", "Changed my mind")


def normalize_order_id(value: Any) -> str:
    return re.sub(r"[#\s\-]", "", str(value))


async def load_order(order_id: Optional[str]) -> Optional[Order]:
    if not order_id or not ORDER_ID.match(order_id):
        return None
    return await on_orders(OrderRepository.get_order, order_id)


@dataclass(frozen=True)
class StateBefore:
    """The conversation as it was when the user sent the latest message."""

    slots: Dict[Text, Any]
    active_loop: Optional[Text]


def latest_user_index(events: List[Dict[Text, Any]]) -> Optional[int]:
    return max((i for i, e in enumerate(events) if e.get("event") == "user"), default=None)


def state_before_latest_message(events: List[Dict[Text, Any]]) -> StateBefore:
    last_user = latest_user_index(events)
    last_user = len(events) if last_user is None else last_user
    slots: Dict[Text, Any] = {}
    active_loop = None
    for event in events[:last_user]:
        if event.get("event") == "slot":
            slots[event["name"]] = event.get("value")
        elif event.get("event") == "active_loop":
            active_loop = event.get("name")
        elif event.get("event") in ("restart", "session_started"):
            slots, active_loop = {}, None
    return StateBefore(slots, active_loop)


def answered_since_user_spoke(events: List[Dict[Text, Any]], form: Text) -> bool:
    """True when the bot already acted on the latest message (a digression
    rule answered it) and Rasa runs the form again only to ask its question."""
    last_user = latest_user_index(events)
    since = events[last_user + 1:] if last_user is not None else events
    actions = [e.get("name") for e in since if e.get("event") == "action"]
    # the last one is the form itself, added by Rasa for this validation
    return any(name not in ("action_listen", "action_extract_slots", form) for name in actions)


def names_an_order(tracker: Tracker) -> bool:
    """The latest message has a well-formed order number (an `order_id` entity)."""
    return any(e.get("entity") == "order_id" for e in tracker.latest_message.get("entities", []))


def latest_turn(tracker: Tracker) -> Turn:
    message = tracker.latest_message or {}
    order_ids = tuple(
        str(e.get("value")) for e in message.get("entities", []) if e.get("entity") == "order_id"
    )
    intent = message.get("intent") or {}
    return Turn(
        text=message.get("text") or "",
        intent=intent.get("name") or "",
        order_ids=order_ids,
        confidence=float(intent.get("confidence") or 0.0),
    )


class OrderFormValidation(FormValidationAction, ABC):
    """Shared by all order forms: tells answers from switches, corrections and
    interruptions (`actions/dialogue.py`), and finds and checks the order
    number. The order under discussion (`order_id`) is carried from one flow
    to the next, so a form that starts without a number uses it."""

    # the slots asked after the order number and the e-mail address, reset
    # when the order changes
    later_slots: Tuple[Text, ...] = ()

    @abstractmethod
    def name(self) -> Text:
        ...

    def choices(self, requested_slot: Optional[Text]) -> Tuple[Text, ...]:
        """The answers offered as buttons for the slot being asked."""
        return ()

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        turn = latest_turn(tracker)
        before = state_before_latest_message(tracker.events)
        if before.active_loop != self.form_name():
            return await self._activate(turn, dispatcher, tracker, domain)
        if answered_since_user_spoke(tracker.events, self.form_name()):
            return await super().run(dispatcher, tracker, domain)
        kind = self._interpret(turn, before, tracker)
        candidates = tracker.slots_to_validate()
        undo = [SlotSet(slot, before.slots.get(slot)) for slot in candidates if slot != "order_id"]
        if kind is TurnKind.ABOUT_THIS_ORDER:
            order_id = before.slots.get("order_id")
            order = await load_order(order_id)
            if order is not None and await verification.is_verified(tracker, order_id):
                dispatcher.utter_message(text=describe_order(order))
        if kind in (TurnKind.ABOUT_THIS_ORDER, TurnKind.NO_ANSWER):
            # the form asks its question again
            return undo + [SlotSet(before.slots.get("requested_slot"), None)]
        if kind in (TurnKind.SWITCH, TurnKind.INTERRUPTION):
            # not an answer: the rules of data/rules/forms.yml take over; an
            # order the user named stays the order under discussion
            return undo + [ActionExecutionRejected(self.form_name())]
        if kind is TurnKind.CORRECTION:
            # the questions about the old order are asked again (the reset
            # is returned too: Rasa keeps candidates the validation skips)
            reset = [SlotSet(slot, None) for slot in ("order_email",) + self.later_slots]
            tracker.add_slots(reset)
            return reset + await super().run(dispatcher, tracker, domain)
        return await super().run(dispatcher, tracker, domain)

    async def required_slots(
        self,
        domain_slots: List[Text],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> List[Text]:
        """The order number, then the e-mail address unless the order is
        verified, then the form's own questions for a verified order. None
        at all once attempts are used up: the submit action says so."""
        order_id = tracker.get_slot("order_id")
        if not order_id:
            return domain_slots
        if not await verification.is_verified(tracker, order_id):
            if not await verification.may_try(tracker, order_id):
                return []
            return ["order_id", "order_email"]
        order = await load_order(order_id)
        slots = [slot for slot in domain_slots if slot != "order_email"]
        return slots if order is None else self.questions_for(slots, order)

    def questions_for(self, slots: List[Text], order: Order) -> List[Text]:
        """The slots to ask about a verified order (fewer when it is not eligible)."""
        return slots

    def _interpret(self, turn: Turn, before: StateBefore, tracker: Tracker) -> TurnKind:
        requested = before.slots.get("requested_slot")
        # malformed numbers are extracted later (extract_order_id), to say what is wrong
        typed_a_number = requested == "order_id" and malformed_order_number(turn.text) is not None
        return interpret(
            turn,
            self.form_name(),
            requested,
            before.slots.get("order_id"),
            self.choices(requested),
            has_candidates=bool(tracker.slots_to_validate()) or typed_a_number,
        )

    async def _activate(
        self,
        turn: Turn,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> List[EventType]:
        carried = tracker.get_slot("order_id")
        if carried and carried not in turn.order_ids and names_another_order(turn.text):
            # "and my other order?": not the one we talked about
            tracker.add_slots([SlotSet("order_id", None)])
        return await super().run(dispatcher, tracker, domain)

    def _answered_by_a_rule(self, tracker: Tracker) -> bool:
        """The form was asking, and a digression rule answered the latest
        message: the form runs again only to ask its question. (A form that
        another action started for this message, e.g. action_email_without_order,
        reads it.)"""
        asking = state_before_latest_message(tracker.events).active_loop == self.form_name()
        return asking and answered_since_user_spoke(tracker.events, self.form_name())

    async def extract_order_email(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        # an address anywhere in the form ("10002, jane@example.com"); while
        # the address is asked, any answer, so that validation can reply; not
        # a message a digression rule already answered ("why do you need it?")
        if self._answered_by_a_rule(tracker):
            return {}
        text = tracker.latest_message.get("text") or ""
        if verification.find_email(text):
            return {"order_email": text}
        asked = tracker.get_slot("requested_slot") == "order_email"
        if asked and text.strip() and not names_an_order(tracker):
            return {"order_email": text}
        # "sorry, I meant 10007": a correction (see run), not an answer
        return {}

    async def validate_order_email(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> Dict[Text, Any]:
        # the address is never kept in a slot: only the verified order is
        order_id = tracker.get_slot("order_id")
        typed = verification.find_email(str(slot_value or ""))
        if not order_id or slot_value is None:
            return {"order_email": None}
        if typed is None:
            dispatcher.utter_message(text=verification.NOT_AN_ADDRESS_REPLY)
            return {"order_email": None}
        if not await verification.may_try(tracker, order_id):
            return {"order_email": None}  # the submit action refuses
        if verification.proves_ownership(await load_order(order_id), typed):
            verified = verification.verified_orders(tracker) + [order_id]
            return {"order_email": None, "verified_orders": verified}
        failures, locked = await verification.record_failure(tracker, order_id)
        dispatcher.utter_message(text=verification.mismatch_reply(order_id, locked))
        return {"order_email": None, "verification_failures": failures}

    async def extract_order_id(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        # Well-formed numbers arrive as `order_id` entities. Only when the form
        # is asking for the number and none was found do we take whatever
        # digits the user typed, so that validation can say what is wrong.
        if tracker.get_slot("requested_slot") != "order_id":
            return {}
        if names_an_order(tracker) or self._answered_by_a_rule(tracker):
            return {}
        digits = malformed_order_number(tracker.latest_message.get("text") or "")
        return {"order_id": digits} if digits else {}

    async def validate_order_id(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> Dict[Text, Any]:
        if slot_value is None:
            return {"order_id": None}
        order_id = normalize_order_id(slot_value)
        if not ORDER_ID.match(order_id):
            # user sees why and is asked again
            dispatcher.utter_message(
                text=f"\"{order_id[:20]}\" isn't an order number: order numbers have "
                "five digits, like 10023. You'll find yours in the confirmation e-mail."
            )
            return {"order_id": None}
        # whether the order exists is told only after verification
        return {"order_id": order_id}


class ValidateOrderStatusForm(OrderFormValidation):
    def name(self) -> Text:
        return "validate_order_status_form"


class ValidateCancelOrderForm(OrderFormValidation):
    later_slots = ("cancel_confirm",)

    def name(self) -> Text:
        return "validate_cancel_order_form"

    def validate_cancel_confirm(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> Dict[Text, Any]:
        # the slot mappings read the intent; "don't cancel it", often read as
        # `cancel_order`, is a no
        answer = confirmation(latest_turn(tracker)) if slot_value is not None else None
        return {"cancel_confirm": answer}

    def questions_for(self, slots: List[Text], order: Order) -> List[Text]:
        # no confirmation question for an order that can't be cancelled:
        # the submit action explains why
        return slots if can_cancel(order) else ["order_id"]


class ValidateReturnForm(OrderFormValidation):
    later_slots = ("return_reason",)

    def name(self) -> Text:
        return "validate_return_form"

    def choices(self, requested_slot: Optional[Text]) -> Tuple[Text, ...]:
        return RETURN_REASONS if requested_slot == "return_reason" else ()

    def questions_for(self, slots: List[Text], order: Order) -> List[Text]:
        # don't ask for a reason when the order can't be returned
        decision = return_decision(order, date.today(), get_settings().return_window_days)
        return slots if decision is ReturnDecision.ALLOWED else ["order_id"]

    def validate_return_reason(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> Dict[Text, Any]:
        reason = " ".join(str(slot_value or "").split())
        if slot_value is None:
            return {"return_reason": None}
        if matches_choice(reason, RETURN_REASONS):
            # a button, even when the classifier reads "Changed my mind" as "stop"
            return {"return_reason": reason}
        if len(reason) < 2 or latest_turn(tracker).intent == "affirm":
            dispatcher.utter_message(text="Could you tell me in a few words why you're returning it?")
            return {"return_reason": None}
        return {"return_reason": reason[:MAX_REASON_LENGTH]}
