"""What happens when an order form is complete: answer, cancel, register a
return. Every answer comes from the order database. Each action clears the
answers its form collected but keeps the order under discussion (`order_id`),
so that "cancel it" right after a status answer needs no number, and records
what the bot suggested next (`suggestion`), so that "yes" does that.
Nothing about an order is said before the conversation has verified it
(`actions/verification.py`); the forms ask for that."""
from datetime import date
from typing import Any, Dict, List, Optional, Text, Tuple

from rasa_sdk import Action, Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.config import get_settings
from actions.formatting import describe_order, format_date
from actions.dialogue import flow_of_an_address
from actions.forms import RETURN_REASONS, load_order, names_an_order
from actions.order_policy import ReturnDecision, can_cancel, return_deadline, return_decision
from actions.orders_db import Order, OrderRepository, OrderStatus
from actions.services import on_orders
from actions import verification
from knowledge.facts import load_facts

NOT_FOUND = "Sorry, I couldn't find that order any more. Could you check the number?"


def shop_facts() -> Dict[str, str]:
    """The facts the replies state (knowledge_base/facts.yml), as the
    documents state them."""
    return load_facts(get_settings().knowledge_base_dir)


def clear_slots(*names: Text) -> List[Dict[Text, Any]]:
    return [SlotSet(name, None) for name in names]


def suggest(intent: Optional[Text]) -> List[Dict[Text, Any]]:
    """What a "yes" to this reply starts (data/rules/suggestions.yml): one of
    the `suggestion` slot's values in domain/orders.yml, or None."""
    return [SlotSet("suggestion", intent)]


async def verified_order(
    dispatcher: CollectingDispatcher, tracker: Tracker
) -> Tuple[Optional[Order], List[Dict[Text, Any]]]:
    """The order under discussion when this conversation has verified it;
    else None, after saying why, with the events to return. A form ends
    without verification only when attempts are used up."""
    order_id = tracker.get_slot("order_id")
    if order_id and not await verification.is_verified(tracker, order_id):
        dispatcher.utter_message(text=verification.LOCKED_REPLY)
        return None, clear_slots("order_id") + suggest("human_handoff")
    order = await load_order(order_id)
    if order is None:
        dispatcher.utter_message(text=NOT_FOUND)
        return None, clear_slots("order_id") + suggest(None)
    return order, []


class ActionOrderStatus(Action):
    def name(self) -> Text:
        return "action_order_status"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        order, refused = await verified_order(dispatcher, tracker)
        if order is None:
            return refused
        message = describe_order(order)
        deadline = return_deadline(order, get_settings().return_window_days)
        if order.status is OrderStatus.DELIVERED and deadline >= date.today():
            message += f" You can return items until {format_date(deadline)}."
        dispatcher.utter_message(text=message)
        return suggest(None)


class ActionAskCancelConfirm(Action):
    """Asks for confirmation, naming what would be cancelled."""

    def name(self) -> Text:
        return "action_ask_cancel_confirm"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        order_id = tracker.get_slot("order_id")
        order = await load_order(order_id)
        if order is None or not await verification.is_verified(tracker, order_id):
            # the form asks this only for a verified order
            order = None
        what = f"Order #{order.order_id} ({order.item_summary}, {order.total})" if order else "This order"
        dispatcher.utter_message(
            text=f"{what} hasn't shipped yet, so I can still cancel it. Shall I cancel it?",
            buttons=[
                {"title": "Yes, cancel it", "payload": "/affirm"},
                {"title": "No, keep it", "payload": "/deny"},
            ],
        )
        return []


class ActionCancelOrder(Action):
    def name(self) -> Text:
        return "action_cancel_order"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        events = clear_slots("cancel_confirm")
        order, refused = await verified_order(dispatcher, tracker)
        if order is None:
            return events + refused

        if not can_cancel(order):
            dispatcher.utter_message(text=self._refusal(order))
            returnable = order.status is OrderStatus.DELIVERED
            return events + suggest("return_item" if returnable else None)
        events += suggest(None)
        if not tracker.get_slot("cancel_confirm"):
            dispatcher.utter_message(
                text=f"Okay, I haven't cancelled anything. Order #{order.order_id} stays as it is."
            )
            return events

        cancelled = await on_orders(OrderRepository.cancel_order, order.order_id, date.today())
        if cancelled:
            dispatcher.utter_message(
                text=f"Done: order #{order.order_id} is cancelled. You haven't been charged, "
                "because we only charge your card when an order ships. "
                "A confirmation e-mail is on its way."
            )
        else:
            # it shipped, or was cancelled elsewhere, between the question and the answer
            current = await load_order(order.order_id)
            dispatcher.utter_message(text=self._refusal(current or order))
        return events

    @staticmethod
    def _refusal(order) -> Text:
        window = get_settings().return_window_days
        if order.status is OrderStatus.SHIPPED:
            return (
                f"Order #{order.order_id} already shipped on {format_date(order.shipped_on)}, "
                "so it can't be cancelled any more. Once it arrives you can return it "
                f"within {window} days for a refund."
            )
        if order.status is OrderStatus.DELIVERED:
            return (
                f"Order #{order.order_id} was delivered on {format_date(order.delivered_on)}, "
                f"so it can't be cancelled, but you can return it within {window} days "
                "of delivery. Just say \"I want to return it\"."
            )
        return f"Order #{order.order_id} was already cancelled on {format_date(order.cancelled_on)}."


class ActionSubmitReturn(Action):
    def name(self) -> Text:
        return "action_submit_return"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        events = clear_slots("return_reason")
        order, refused = await verified_order(dispatcher, tracker)
        if order is None:
            return events + refused

        window = get_settings().return_window_days
        decision = return_decision(order, date.today(), window)
        if decision is not ReturnDecision.ALLOWED:
            dispatcher.utter_message(text=self._refusal(order, decision, window))
            return events + suggest(SUGGESTION_AFTER_REFUSAL.get(decision))
        events += suggest(None)

        existing = await on_orders(OrderRepository.find_return, order.order_id)
        if existing is not None:
            dispatcher.utter_message(
                text=f"There's already a return for order #{order.order_id} "
                f"(return number {existing.rma}). The label is in your e-mail."
            )
            return events

        request = await on_orders(
            OrderRepository.create_return, order.order_id, tracker.get_slot("return_reason")
        )
        dispatcher.utter_message(
            text=f"Your return for order #{order.order_id} is registered, return number "
            f"{request.rma}. We've e-mailed you a free return label. Please send the items "
            "unworn with their tags; the refund goes to your original payment method within "
            f"{shop_facts()['refund_time']} after the return arrives."
        )
        return events

    @staticmethod
    def _refusal(order, decision: ReturnDecision, window: int) -> Text:
        if decision is ReturnDecision.NOT_SHIPPED:
            return (
                f"Order #{order.order_id} hasn't shipped yet, so there's nothing to return. "
                "I can cancel it instead: just say \"cancel my order\"."
            )
        if decision is ReturnDecision.IN_TRANSIT:
            return (
                f"Order #{order.order_id} is still on its way (expected "
                f"{format_date(order.expected_delivery)}). Once it's delivered you have "
                f"{window} days to return it."
            )
        if decision is ReturnDecision.CANCELLED:
            return f"Order #{order.order_id} was cancelled, so there's nothing to return."
        warranty_years = shop_facts()["warranty_years"]
        return (
            f"Order #{order.order_id} was delivered on {format_date(order.delivered_on)}, "
            f"more than {window} days ago, so it's outside our return window. If an item is "
            f"faulty, our {warranty_years}-year warranty may cover it: ask for a human and "
            "we'll look into it."
        )


# "yes" to a refused return: cancel the unshipped order, or a person for an
# old one (the refusals below say so)
SUGGESTION_AFTER_REFUSAL = {
    ReturnDecision.NOT_SHIPPED: "cancel_order",
    ReturnDecision.WINDOW_CLOSED: "human_handoff",
}


class ActionClearOrderSlots(Action):
    """After the user stops a form or says goodbye: forget the order and
    what the form had collected (verified orders stay verified for the
    conversation)."""

    def name(self) -> Text:
        return "action_clear_order_slots"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        return clear_slots("order_id", "order_email", "cancel_confirm", "return_reason", "suggestion")


def order_id_question(form: Optional[Text], facts: Dict[str, str]) -> Text:
    """What each form says when it asks for the order number; the cancel and
    return questions also answer the policy question people often mean."""
    if form == "order_status_form":
        return "Sure, I can check that. What's your order number? It has five digits, like 10023."
    if form == "cancel_order_form":
        return (
            "I can help with that. An order can be cancelled while it is still processing; your card "
            "is only charged when the order ships. Once it has shipped it can't be cancelled, but you "
            "can return it instead. Which order is it? Please give me the five-digit order number."
        )
    if form == "return_form":
        return (
            f"Items can be returned within {facts['return_window_days']} days of delivery, unworn and "
            "unused with tags attached; US return labels are free, and the refund goes to your original "
            f"payment method within {facts['refund_time']} after the return arrives. Let's start your "
            "return: what's the order number? It's the five-digit number in your confirmation e-mail."
        )
    return "What's your five-digit order number?"


class ActionAskOrderId(Action):
    def name(self) -> Text:
        return "action_ask_order_id"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        form = (tracker.active_loop or {}).get("name")
        dispatcher.utter_message(text=order_id_question(form, shop_facts()))
        return []


class ActionEmailWithoutOrder(Action):
    """An address while no form asked for one: the flow the message also
    asks for (the forms read the address from it), or a short answer."""

    def name(self) -> Text:
        return "action_email_without_order"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        message = tracker.latest_message or {}
        ranking = [(i.get("name"), float(i.get("confidence") or 0)) for i in message.get("intent_ranking", [])]
        form = flow_of_an_address(ranking, names_an_order(tracker))
        if form is not None:
            return [FollowupAction(form)]
        dispatcher.utter_message(response="utter_email_without_order")
        return []


class ActionAskOrderEmail(Action):
    def name(self) -> Text:
        return "action_ask_order_email"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        dispatcher.utter_message(text=verification.email_question(tracker.get_slot("order_id")))
        return []


class ActionAskReturnReason(Action):
    def name(self) -> Text:
        return "action_ask_return_reason"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        order_id = tracker.get_slot("order_id")
        dispatcher.utter_message(
            text=f"Order #{order_id} can be returned. Why are you sending it back? "
            "For example: wrong size, damaged, not as described, or changed my mind.",
            buttons=[{"title": reason, "payload": reason} for reason in RETURN_REASONS],
        )
        return []
