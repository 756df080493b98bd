"""Slot validation for the three order forms.

Each `validate_<slot>` returns `{slot: value}` to accept or `{slot: None}` to
ask again, after telling the user what was wrong. Eligibility (can this order
still be cancelled or returned?) shortens the form through `required_slots`;
the submit actions then explain the decision.
"""
import re
from abc import ABC, abstractmethod
from datetime import date
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import FormValidationAction
from rasa_sdk.types import DomainDict

from actions.config import get_settings
from actions.order_policy import ReturnDecision, can_cancel, return_decision
from actions.orders_db import Order, OrderRepository
from actions.services import on_orders

ORDER_ID = re.compile(r"^\d{5}$")
# something the user probably meant as an order number: "1234", "#123456"
NUMBER_LIKE = re.compile(r"#?\s*(\d[\d\- ]*\d|\d)")
MAX_REASON_LENGTH = 500


def normalize_order_id(value: Any) -> str:
    return re.sub(r"[#\s\-]", "", str(value))


async def load_order(order_id: Optional[str]) -> Optional[Order]:
    if not order_id or not ORDER_ID.match(order_id):
        return None
    return await on_orders(OrderRepository.get_order, order_id)


class OrderFormValidation(FormValidationAction, ABC):
    """Shared by all order forms: finds and checks the order number."""

    @abstractmethod
    def name(self) -> Text:
        ...

    async def extract_order_id(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        # Well-formed numbers arrive as `order_id` entities. Only when the form
        # is asking for the number and none was found do we take whatever
        # digits the user typed, so that validation can say what is wrong.
        if tracker.get_slot("requested_slot") != "order_id":
            return {}
        if any(e.get("entity") == "order_id" for e in tracker.latest_message.get("entities", [])):
            return {}
        match = NUMBER_LIKE.search(tracker.latest_message.get("text") or "")
        return {"order_id": normalize_order_id(match.group(1))} if match else {}

    async def validate_order_id(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> Dict[Text, Any]:
        order_id = normalize_order_id(slot_value)
        if not ORDER_ID.match(order_id):
            # user sees why and is asked again
            dispatcher.utter_message(
                text=f"\"{order_id[:20]}\" isn't an order number: order numbers have "
                "five digits, like 10023. You'll find yours in the confirmation e-mail."
            )
            return {"order_id": None}
        if await load_order(order_id) is None:
            dispatcher.utter_message(
                text=f"I couldn't find order {order_id}. Please check the number "
                "in your confirmation e-mail."
            )
            return {"order_id": None}
        return {"order_id": order_id}


class ValidateOrderStatusForm(OrderFormValidation):
    def name(self) -> Text:
        return "validate_order_status_form"


class ValidateCancelOrderForm(OrderFormValidation):
    def name(self) -> Text:
        return "validate_cancel_order_form"

    async def required_slots(
        self,
        domain_slots: List[Text],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> List[Text]:
        # no confirmation question for an order that can't be cancelled:
        # the submit action explains why
        order = await load_order(tracker.get_slot("order_id"))
        if order is not None and not can_cancel(order):
            return ["order_id"]
        return domain_slots


class ValidateReturnForm(OrderFormValidation):
    def name(self) -> Text:
        return "validate_return_form"

    async def required_slots(
        self,
        domain_slots: List[Text],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> List[Text]:
        # don't ask for a reason when the order can't be returned
        order = await load_order(tracker.get_slot("order_id"))
        if order is not None:
            decision = return_decision(order, date.today(), get_settings().return_window_days)
            if decision is not ReturnDecision.ALLOWED:
                return ["order_id"]
        return domain_slots

    def validate_return_reason(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> Dict[Text, Any]:
        reason = " ".join(str(slot_value or "").split())
        if len(reason) < 2:
            dispatcher.utter_message(text="Could you tell me in a few words why you're returning it?")
            return {"return_reason": None}
        return {"return_reason": reason[:MAX_REASON_LENGTH]}
