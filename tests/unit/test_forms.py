"""The three order forms' validation actions (actions/forms.py), against a
seeded SQLite order database, called the way Rasa calls them."""

import pytest
from rasa_sdk.events import ActionExecutionRejected, SlotSet

from actions.forms import (
    MAX_REASON_LENGTH,
    ValidateCancelOrderForm,
    ValidateOrderStatusForm,
    ValidateReturnForm,
)
from tests.conftest import bot_message, load_tracker, user_message, verified


def malformed(shown: str) -> dict:
    return bot_message(
        f"\"{shown}\" isn't an order number: order numbers have five digits, like 10023. "
        "You'll find yours in the confirmation e-mail."
    )


CANCEL_SLOTS = ["order_id", "order_email", "cancel_confirm"]
RETURN_SLOTS = ["order_id", "order_email", "return_reason"]


ALL_FORMS = [ValidateOrderStatusForm, ValidateCancelOrderForm, ValidateReturnForm]
ASKED = {
    ValidateOrderStatusForm: "order_status_form_asked",
    ValidateCancelOrderForm: "cancel_order_form_asked",
    ValidateReturnForm: "return_form_asked",
}


def test_names_match_the_domain_forms(domain):
    assert [form().name() for form in ALL_FORMS] == [
        "validate_order_status_form", "validate_cancel_order_form", "validate_return_form",
    ]
    assert {form().form_name() for form in ALL_FORMS} == set(domain["forms"])


# validate_order_id ----------------------------------------------------------


@pytest.mark.parametrize("form", ALL_FORMS)
async def test_validate_order_id_accepts_a_known_order(form, database_url, dispatcher, domain):
    tracker = load_tracker(ASKED[form])
    result = await form().validate_order_id("10002", dispatcher, tracker, domain)
    assert result == {"order_id": "10002"}
    assert dispatcher.messages == []


@pytest.mark.parametrize("typed", ["#10001", "# 10001", " 10001 ", "10 001", "10-001"])
async def test_validate_order_id_normalises_how_people_type_numbers(
    typed, database_url, dispatcher, domain
):
    tracker = load_tracker("order_status_form_asked")
    result = await ValidateOrderStatusForm().validate_order_id(typed, dispatcher, tracker, domain)
    assert result == {"order_id": "10001"}
    assert dispatcher.messages == []


@pytest.mark.parametrize("order_id", ["99999", "00000", "10011"])
async def test_validate_order_id_does_not_tell_whether_an_order_exists(
    order_id, database_url, dispatcher, domain
):
    # an unknown number goes on to the e-mail question like a known one
    tracker = load_tracker("order_status_form_asked")
    result = await ValidateOrderStatusForm().validate_order_id(order_id, dispatcher, tracker, domain)
    assert result == {"order_id": order_id}
    assert dispatcher.messages == []


@pytest.mark.parametrize(
    "typed, shown",
    [
        ("1234", "1234"),
        ("123456", "123456"),
        ("#1234", "1234"),
        ("abcde", "abcde"),
        ("1000l", "1000l"),
        # long input is cut to 20 characters in the reply
        ("1" * 40, "1" * 20),
    ],
)
async def test_validate_order_id_explains_a_malformed_number(
    typed, shown, database_url, dispatcher, domain
):
    tracker = load_tracker("order_status_form_asked")
    result = await ValidateOrderStatusForm().validate_order_id(typed, dispatcher, tracker, domain)
    assert result == {"order_id": None}
    assert dispatcher.messages == [malformed(shown)]


# extract_order_id -----------------------------------------------------------


@pytest.mark.parametrize(
    "text, extracted",
    [
        ("1234", "1234"),
        ("my order is #123456", "123456"),
        ("it's 10-002", "10002"),
        ("order 10 002 please", "10002"),
        ("7", "7"),
    ],
)
async def test_extract_order_id_takes_the_digits_when_asked_and_no_entity(
    text, extracted, database_url, dispatcher, domain
):
    tracker = load_tracker(
        "order_status_form_asked", latest_message=user_message(text, "check_order_status")
    )
    result = await ValidateOrderStatusForm().extract_order_id(dispatcher, tracker, domain)
    assert result == {"order_id": extracted}
    assert dispatcher.messages == []


async def test_extract_order_id_leaves_well_formed_numbers_to_the_entity(
    database_url, dispatcher, domain
):
    message = user_message("it's 10002, or was it 1234", "check_order_status", order_id="10002")
    tracker = load_tracker("order_status_form_asked", latest_message=message)
    assert await ValidateOrderStatusForm().extract_order_id(dispatcher, tracker, domain) == {}


async def test_extract_order_id_needs_digits(database_url, dispatcher, domain):
    tracker = load_tracker(
        "order_status_form_asked", latest_message=user_message("I don't know it", "deny")
    )
    assert await ValidateOrderStatusForm().extract_order_id(dispatcher, tracker, domain) == {}


@pytest.mark.parametrize("requested_slot", ["cancel_confirm", None])
async def test_extract_order_id_only_while_the_form_asks_for_it(
    requested_slot, database_url, dispatcher, domain
):
    # e.g. "2" while the form asks for confirmation is not an order number
    tracker = load_tracker(
        "cancel_order_form_confirm",
        slots={"requested_slot": requested_slot},
        latest_message=user_message("2", "affirm"),
    )
    assert await ValidateCancelOrderForm().extract_order_id(dispatcher, tracker, domain) == {}


# required_slots -------------------------------------------------------------


@pytest.mark.parametrize(
    "order_id, required",
    [
        ("10001", ["order_id", "cancel_confirm"]),  # processing: ask to confirm
        ("10002", ["order_id"]),  # shipped
        ("10003", ["order_id"]),  # delivered
        ("10004", ["order_id"]),  # already cancelled
        ("99999", ["order_id", "cancel_confirm"]),
        ("1234", ["order_id", "cancel_confirm"]),
    ],
)
async def test_cancel_form_asks_for_confirmation_only_when_cancelling_is_possible(
    order_id, required, database_url, dispatcher, domain
):
    tracker = load_tracker("cancel_order_form_asked", slots=verified(order_id))
    slots = await ValidateCancelOrderForm().required_slots(CANCEL_SLOTS, dispatcher, tracker, domain)
    assert slots == required
    assert dispatcher.messages == []


@pytest.mark.parametrize(
    "form, saved, domain_slots",
    [
        (ValidateOrderStatusForm, "order_status_form_asked", ["order_id", "order_email"]),
        (ValidateCancelOrderForm, "cancel_order_form_asked", CANCEL_SLOTS),
        (ValidateReturnForm, "return_form_asked", RETURN_SLOTS),
    ],
)
@pytest.mark.parametrize("order_id", ["10001", "10002", "10003", "10005", "99999"])
async def test_an_unverified_order_gets_the_email_question_whatever_its_state(
    form, saved, domain_slots, order_id, database_url, dispatcher, domain
):
    # the questions asked tell nothing about the order before verification
    tracker = load_tracker(saved, slots={"order_id": order_id})
    slots = await form().required_slots(domain_slots, dispatcher, tracker, domain)
    assert slots == ["order_id", "order_email"]


async def test_no_order_yet_asks_for_the_number(database_url, dispatcher, domain):
    tracker = load_tracker("cancel_order_form_asked")
    assert await ValidateCancelOrderForm().required_slots(
        CANCEL_SLOTS, dispatcher, tracker, domain
    ) == CANCEL_SLOTS


@pytest.mark.parametrize(
    "order_id, required",
    [
        ("10003", ["order_id", "return_reason"]),  # delivered 7 days ago
        ("10010", ["order_id", "return_reason"]),  # delivered 20 days ago
        ("10001", ["order_id"]),  # not shipped
        ("10002", ["order_id"]),  # in transit
        ("10004", ["order_id"]),  # cancelled
        ("10005", ["order_id"]),  # delivered 60 days ago: window closed
        ("99999", ["order_id", "return_reason"]),
    ],
)
async def test_return_form_asks_for_a_reason_only_when_returnable(
    order_id, required, database_url, dispatcher, domain
):
    tracker = load_tracker("return_form_asked", slots=verified(order_id))
    slots = await ValidateReturnForm().required_slots(RETURN_SLOTS, dispatcher, tracker, domain)
    assert slots == required
    assert dispatcher.messages == []


async def test_return_form_follows_the_configured_window(
    database_url, dispatcher, domain, monkeypatch
):
    from actions.config import get_settings

    monkeypatch.setenv("RETURN_WINDOW_DAYS", "5")
    get_settings.cache_clear()
    # 10003 was delivered 7 days ago: outside a 5-day window
    tracker = load_tracker("return_form_asked", slots=verified("10003"))
    slots = await ValidateReturnForm().required_slots(RETURN_SLOTS, dispatcher, tracker, domain)
    assert slots == ["order_id"]


# validate_return_reason -----------------------------------------------------


@pytest.mark.parametrize(
    "typed, kept",
    [
        ("Wrong size", "Wrong size"),
        ("  the   zip\nbroke  ", "the zip broke"),
        ("ok", "ok"),
        ("x" * (MAX_REASON_LENGTH + 100), "x" * MAX_REASON_LENGTH),
    ],
)
def test_validate_return_reason_keeps_a_tidy_reason(typed, kept, dispatcher, domain):
    tracker = load_tracker("return_form_reason")
    result = ValidateReturnForm().validate_return_reason(typed, dispatcher, tracker, domain)
    assert result == {"return_reason": kept}
    assert dispatcher.messages == []


@pytest.mark.parametrize("typed", ["", "   ", "?"])
def test_validate_return_reason_asks_again_for_no_reason(typed, dispatcher, domain):
    tracker = load_tracker("return_form_reason")
    result = ValidateReturnForm().validate_return_reason(typed, dispatcher, tracker, domain)
    assert result == {"return_reason": None}
    assert dispatcher.messages == [
        bot_message("Could you tell me in a few words why you're returning it?")
    ]


# run(): what Rasa's form action gets back ----------------------------------


async def test_order_status_form_accepts_the_number(database_url, dispatcher, domain):
    tracker = load_tracker("order_status_form_asked", slot_events={"order_id": "10002"})
    events = await ValidateOrderStatusForm().run(dispatcher, tracker, domain)
    # required slots as in the domain: Rasa asks for the e-mail address next
    assert events == [SlotSet("order_id", "10002")]
    assert dispatcher.messages == []


async def test_order_status_form_extracts_and_rejects_a_malformed_number(
    database_url, dispatcher, domain
):
    tracker = load_tracker(
        "order_status_form_asked", latest_message=user_message("1234", "check_order_status")
    )
    events = await ValidateOrderStatusForm().run(dispatcher, tracker, domain)
    assert events == [SlotSet("order_id", None)]
    assert dispatcher.messages == [malformed("1234")]


async def test_order_status_form_treats_an_unknown_number_like_a_known_one(
    database_url, dispatcher, domain
):
    message = user_message("99999", "check_order_status", order_id="99999")
    tracker = load_tracker(
        "order_status_form_asked", latest_message=message, slot_events={"order_id": "99999"}
    )
    events = await ValidateOrderStatusForm().run(dispatcher, tracker, domain)
    assert events == [SlotSet("order_id", "99999")]
    assert dispatcher.messages == []


async def test_cancel_form_goes_on_to_confirmation_for_a_processing_order(
    database_url, dispatcher, domain
):
    tracker = load_tracker(
        "cancel_order_form_asked", slots={"verified_orders": ["10009"]},
        slot_events={"order_id": "10009"},
    )
    events = await ValidateCancelOrderForm().run(dispatcher, tracker, domain)
    assert events == [SlotSet("order_id", "10009"), SlotSet("requested_slot", "cancel_confirm")]
    assert dispatcher.messages == []


@pytest.mark.parametrize("order_id", ["10002", "10003", "10004"])
async def test_cancel_form_ends_without_confirmation_when_cancelling_is_impossible(
    order_id, database_url, dispatcher, domain
):
    message = user_message(order_id, "cancel_order", order_id=order_id)
    tracker = load_tracker(
        "cancel_order_form_asked", latest_message=message, slots={"verified_orders": [order_id]},
        slot_events={"order_id": order_id},
    )
    events = await ValidateCancelOrderForm().run(dispatcher, tracker, domain)
    # requested_slot None ends the form; action_cancel_order explains why
    assert events == [SlotSet("order_id", order_id), SlotSet("requested_slot", None)]
    assert dispatcher.messages == []


@pytest.mark.parametrize("answer, intent, confirmed", [("yes", "affirm", True), ("no", "deny", False)])
async def test_cancel_form_keeps_the_confirmation(
    answer, intent, confirmed, database_url, dispatcher, domain
):
    tracker = load_tracker(
        "cancel_order_form_confirm",
        latest_message=user_message(answer, intent),
        slot_events={"cancel_confirm": confirmed},
    )
    events = await ValidateCancelOrderForm().run(dispatcher, tracker, domain)
    # nothing left to ask: the form ends and action_cancel_order runs
    assert events == [SlotSet("cancel_confirm", confirmed), SlotSet("requested_slot", None)]
    assert dispatcher.messages == []


async def test_return_form_goes_on_to_the_reason_for_a_returnable_order(
    database_url, dispatcher, domain
):
    tracker = load_tracker(
        "return_form_asked", slots={"verified_orders": ["10003"]}, slot_events={"order_id": "10003"}
    )
    events = await ValidateReturnForm().run(dispatcher, tracker, domain)
    assert events == [SlotSet("order_id", "10003"), SlotSet("requested_slot", "return_reason")]
    assert dispatcher.messages == []


@pytest.mark.parametrize("order_id", ["10001", "10002", "10004", "10005"])
async def test_return_form_ends_without_a_reason_when_not_returnable(
    order_id, database_url, dispatcher, domain
):
    message = user_message(order_id, "return_item", order_id=order_id)
    tracker = load_tracker(
        "return_form_asked", latest_message=message, slots={"verified_orders": [order_id]},
        slot_events={"order_id": order_id},
    )
    events = await ValidateReturnForm().run(dispatcher, tracker, domain)
    assert events == [SlotSet("order_id", order_id), SlotSet("requested_slot", None)]
    assert dispatcher.messages == []


async def test_return_form_tidies_the_reason(database_url, dispatcher, domain):
    tracker = load_tracker("return_form_reason", slot_events={"return_reason": "  wrong   size "})
    events = await ValidateReturnForm().run(dispatcher, tracker, domain)
    assert events == [SlotSet("return_reason", "wrong size"), SlotSet("requested_slot", None)]
    assert dispatcher.messages == []


async def test_forms_only_read_the_database(database_url, repository, dispatcher, domain):
    for form, order_id in [(ValidateCancelOrderForm, "10001"), (ValidateReturnForm, "10003")]:
        tracker = load_tracker(ASKED[form], slot_events={"order_id": order_id})
        await form().run(dispatcher, tracker, domain)
    assert repository.get_order("10001").status.value == "processing"
    assert repository.find_return("10003") is None


# switches, corrections, interruptions (actions/dialogue.py) ------------------


async def test_another_flow_named_mid_form_rejects_the_form_and_keeps_its_order(
    database_url, dispatcher, domain
):
    text = "actually cancel order 10006 instead"
    tracker = load_tracker(
        "return_form_reason",  # asked why 10003 goes back
        latest_message=user_message(text, "cancel_order", order_id="10006"),
        slot_events={"order_id": "10006", "return_reason": text},
    )
    events = await ValidateReturnForm().run(dispatcher, tracker, domain)
    # the switching rule runs next; 10006 stays the order under discussion
    assert events == [SlotSet("return_reason", None), ActionExecutionRejected("return_form")]
    assert dispatcher.messages == []


async def test_a_corrected_number_asks_again_about_the_new_order(database_url, dispatcher, domain):
    tracker = load_tracker(
        "cancel_order_form_confirm",  # asked to confirm cancelling 10009
        latest_message=user_message("no sorry, I meant 10006", "deny", order_id="10006"),
        slot_events={"cancel_confirm": False, "order_id": "10006"},
    )
    events = await ValidateCancelOrderForm().run(dispatcher, tracker, domain)
    assert SlotSet("order_id", "10006") in events
    # the "no" was about the old order: not an answer for the new one
    assert SlotSet("cancel_confirm", None) in events
    # the form goes on: Rasa asks the confirmation again, now about 10006
    assert SlotSet("requested_slot", None) not in events
    assert not any(e["event"] == "action_execution_rejected" for e in events)


async def test_a_question_while_asked_for_the_reason_is_not_the_reason(
    database_url, dispatcher, domain
):
    text = "how long does the refund take?"
    tracker = load_tracker(
        "return_form_reason",
        latest_message=user_message(text, "return_item"),
        slot_events={"return_reason": text},
    )
    events = await ValidateReturnForm().run(dispatcher, tracker, domain)
    assert events == [SlotSet("return_reason", None), ActionExecutionRejected("return_form")]


async def test_a_murmur_at_the_confirmation_asks_again(database_url, dispatcher, domain):
    tracker = load_tracker(
        "cancel_order_form_confirm",
        latest_message=user_message("hmmmm", "affirm"),
        slot_events={"cancel_confirm": True},
    )
    events = await ValidateCancelOrderForm().run(dispatcher, tracker, domain)
    assert events == [SlotSet("cancel_confirm", None), SlotSet("cancel_confirm", None)]


async def test_a_carried_order_is_dropped_for_another_order(database_url, dispatcher, domain):
    """At activation the order under discussion fills the form, unless the
    user asks about another one."""
    tracker = load_tracker(
        "order_status_form_completed",  # 10002 was the order under discussion
        latest_message=user_message("and where is my other order?", "check_order_status"),
    )
    tracker.events.append({"event": "user", "text": "and where is my other order?"})
    tracker.events.append({"event": "active_loop", "name": "order_status_form"})
    tracker.events.append({"event": "slot", "name": "order_id", "value": "10002"})
    events = await ValidateOrderStatusForm().run(dispatcher, tracker, domain)
    assert events == [SlotSet("order_id", None)]
