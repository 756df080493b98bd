"""Customer verification (actions/verification.py) and the forms' e-mail
question (actions/forms.py), against a seeded SQLite order database."""
import time
import uuid

import pytest
import redis
from rasa_sdk.events import SlotSet

from actions import verification
from actions.forms import ValidateCancelOrderForm, ValidateOrderStatusForm
from channels.identity import IDENTITY_KEY
from tests.conftest import bot_message, load_tracker, user_message


# pure parts --------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, found",
    [
        ("customer10002@example.com", "customer10002@example.com"),
        ("my email is Jane.Doe+shop@mail.co.uk, thanks", "Jane.Doe+shop@mail.co.uk"),
        ("it's bob@company.io.", "bob@company.io"),
        ("10002", None),
        ("jane at example dot com", None),
        ("@example.com", None),
        ("", None),
    ],
)
def test_find_email(text, found):
    assert verification.find_email(text) == found


def test_addresses_compare_without_case_or_spaces():
    assert verification.same_address(" Customer10002@Example.COM ", "customer10002@example.com")
    assert not verification.same_address("customer10003@example.com", "customer10002@example.com")
    assert not verification.same_address("", "customer10002@example.com")


def test_no_order_proves_nothing():
    assert not verification.proves_ownership(None, "no-such-order@invalid")


@pytest.mark.parametrize(
    "conversation, order, locked",
    [(0, 0, False), (2, 4, False), (3, 0, True), (0, 5, True), (9, 9, True)],
)
def test_limits(conversation, order, locked):
    assert verification.is_locked(conversation, order) is locked


def test_mismatch_reply_does_not_say_which_part_was_wrong():
    reply = verification.mismatch_reply("10002", locked=False)
    assert "order number or the address" in reply
    assert "again" in reply
    assert "again" not in verification.mismatch_reply("10002", locked=True)


async def test_in_memory_counter_forgets_failures_after_the_window(monkeypatch):
    counter = verification.OrderFailureCounter()
    now = time.time()
    monkeypatch.setattr(verification.time, "time", lambda: now)
    for _ in range(3):
        await counter.record("10002")
    assert await counter.recent("10002") == 3
    assert await counter.recent("10003") == 0
    monkeypatch.setattr(verification.time, "time", lambda: now + 3601)
    assert await counter.recent("10002") == 0


@pytest.mark.redis
async def test_redis_counter_is_shared_and_forgets_after_the_window(monkeypatch):
    url = "redis://127.0.0.1:6379/3"
    order_id = f"t{uuid.uuid4().hex[:8]}"
    first, second = verification.RedisOrderFailureCounter(url), verification.RedisOrderFailureCounter(url)
    now = time.time()
    monkeypatch.setattr(verification.time, "time", lambda: now)
    try:
        await first.record(order_id)
        await second.record(order_id)
        # two action servers see each other's failures
        assert await first.recent(order_id) == 2
        monkeypatch.setattr(verification.time, "time", lambda: now + 3601)
        assert await second.recent(order_id) == 0
    finally:
        redis.Redis.from_url(url).delete(verification.RedisOrderFailureCounter.KEY_PREFIX + order_id)


# the e-mail question in the forms ---------------------------------------------------


def asked_for_email(order_id="10002", text="x", failures=None, metadata=None, saved="order_status_form_asked"):
    message = user_message(text, "give_email")
    if metadata is not None:
        message["metadata"] = metadata
    slots = {"order_id": order_id, "requested_slot": "order_email"}
    if failures is not None:
        slots["verification_failures"] = failures
    return load_tracker(saved, slots=slots, latest_message=message)


async def check(text, dispatcher, domain, **kwargs):
    tracker = asked_for_email(text=text, **kwargs)
    return await ValidateOrderStatusForm().validate_order_email(text, dispatcher, tracker, domain)


async def test_the_address_on_the_order_verifies_it(database_url, dispatcher, domain):
    result = await check("it's Customer10002@example.com", dispatcher, domain)
    # the address itself is not kept
    assert result == {"order_email": None, "verified_orders": ["10002"]}
    assert dispatcher.messages == []


async def test_verified_orders_add_up(database_url, dispatcher, domain):
    tracker = asked_for_email(order_id="10003", text="customer10003@example.com")
    tracker.slots["verified_orders"] = ["10002"]
    result = await ValidateOrderStatusForm().validate_order_email(
        "customer10003@example.com", dispatcher, tracker, domain
    )
    assert result["verified_orders"] == ["10002", "10003"]


async def test_another_address_fails_and_counts(database_url, dispatcher, domain):
    result = await check("customer10003@example.com", dispatcher, domain)
    assert result == {"order_email": None, "verification_failures": 1}
    assert dispatcher.messages == [bot_message(verification.mismatch_reply("10002", locked=False))]


async def test_an_unknown_order_fails_exactly_like_a_wrong_address(database_url, domain):
    from rasa_sdk.executor import CollectingDispatcher

    replies = {}
    for order_id in ("10002", "99999"):
        dispatcher = CollectingDispatcher()
        tracker = asked_for_email(order_id=order_id, text="someone@example.com")
        result = await ValidateOrderStatusForm().validate_order_email(
            "someone@example.com", dispatcher, tracker, domain
        )
        assert result == {"order_email": None, "verification_failures": 1}
        replies[order_id] = dispatcher.messages[0]["text"].replace(order_id, "N")
    assert replies["10002"] == replies["99999"]


async def test_no_address_is_not_an_attempt(database_url, dispatcher, domain):
    result = await check("I don't remember which one I used", dispatcher, domain)
    assert result == {"order_email": None}
    assert dispatcher.messages == [bot_message(verification.NOT_AN_ADDRESS_REPLY)]


async def test_the_third_failure_ends_the_attempts(database_url, dispatcher, domain):
    result = await check("guess@example.com", dispatcher, domain, failures=2)
    assert result == {"order_email": None, "verification_failures": 3}
    assert dispatcher.messages == [bot_message(verification.mismatch_reply("10002", locked=True))]
    # the form then asks nothing more: action_order_status refuses
    tracker = asked_for_email(failures=3)
    assert await ValidateOrderStatusForm().required_slots(
        ["order_id", "order_email"], dispatcher, tracker, domain
    ) == []


async def test_after_the_limit_even_the_right_address_is_refused(database_url, dispatcher, domain):
    result = await check("customer10002@example.com", dispatcher, domain, failures=3)
    assert result == {"order_email": None}


async def test_five_failures_on_one_order_lock_it_for_every_conversation(
    database_url, dispatcher, domain
):
    for _ in range(verification.MAX_FAILURES_PER_ORDER):
        await verification.order_failures().record("10002")
    # a new conversation, with the right address
    result = await check("customer10002@example.com", dispatcher, domain)
    assert result == {"order_email": None}
    tracker = asked_for_email()
    assert await ValidateOrderStatusForm().required_slots(
        ["order_id", "order_email"], dispatcher, tracker, domain
    ) == []
    # other orders are not affected
    tracker = asked_for_email(order_id="10003")
    assert await ValidateOrderStatusForm().required_slots(
        ["order_id", "order_email"], dispatcher, tracker, domain
    ) == ["order_id", "order_email"]


async def test_failed_attempts_are_logged_without_what_was_typed(database_url, dispatcher, domain, caplog):
    caplog.set_level("DEBUG")
    await check("my address is secret.person@example.com", dispatcher, domain)
    assert "Verification failed for order 10002" in caplog.text
    assert "secret.person" not in caplog.text


async def test_an_address_given_with_the_number_is_read_at_once(database_url, dispatcher, domain):
    # "cancel 10009, my email is ...": no question needed
    message = user_message(
        "cancel 10009, my email is customer10009@example.com", "cancel_order", order_id="10009"
    )
    tracker = load_tracker("cancel_order_form_asked", latest_message=message, slots={"order_id": "10009"})
    extracted = await ValidateCancelOrderForm().extract_order_email(dispatcher, tracker, domain)
    assert verification.find_email(extracted["order_email"]) == "customer10009@example.com"


# channels that know the user ------------------------------------------------------


@pytest.mark.parametrize(
    "identity, order_id, verified",
    [
        ({"channel": "slack", "user": "U10002"}, "10002", True),
        ({"channel": "socketio", "user": "customer-10003"}, "10003", True),
        ({"channel": "api", "user": "customer-10004"}, "10004", True),
        # a known customer, someone else's order
        ({"channel": "slack", "user": "U10002"}, "10003", False),
        # an unknown user, and a user of another channel with the same id
        ({"channel": "slack", "user": "U99999"}, "10002", False),
        ({"channel": "socketio", "user": "U10002"}, "10002", False),
    ],
)
async def test_a_channel_identity_verifies_only_its_own_orders(
    identity, order_id, verified, database_url
):
    tracker = asked_for_email(order_id=order_id, metadata={IDENTITY_KEY: identity})
    assert await verification.is_verified(tracker, order_id) is verified


async def test_an_owned_order_skips_the_email_question(database_url, dispatcher, domain):
    tracker = asked_for_email(
        order_id="10009", saved="cancel_order_form_asked",
        metadata={IDENTITY_KEY: {"channel": "slack", "user": "U10009"}},
    )
    slots = await ValidateCancelOrderForm().required_slots(
        ["order_id", "order_email", "cancel_confirm"], dispatcher, tracker, domain
    )
    assert slots == ["order_id", "cancel_confirm"]


async def test_the_order_under_discussion_is_not_described_unverified(database_url, dispatcher, domain):
    # "is that the one for $129?" while the e-mail is asked
    message = user_message("what's in that order?", "check_order_status")
    tracker = load_tracker("cancel_order_form_asked", latest_message=message)
    tracker.slots.update(order_id="10002", requested_slot="order_email")
    tracker.events.append({"event": "slot", "name": "order_id", "value": "10002"})
    tracker.events.append({"event": "slot", "name": "requested_slot", "value": "order_email"})
    tracker.events.append({"event": "user", "text": message["text"], "parse_data": message})
    events = await ValidateCancelOrderForm().run(dispatcher, tracker, domain)
    assert not any("Trail Runner" in m.get("text", "") for m in dispatcher.messages)
    assert events[-1] == SlotSet("order_email", None)  # the form asks again


async def test_another_number_at_the_email_question_is_not_taken_for_an_address(
    database_url, dispatcher, domain
):
    # "sorry, I meant 10007": a correction, not a wrong address
    message = user_message("sorry, I meant 10007", "check_order_status", order_id="10007")
    tracker = load_tracker("order_status_form_asked", latest_message=message,
                           slots={"order_id": "10002", "requested_slot": "order_email"})
    assert await ValidateOrderStatusForm().extract_order_email(dispatcher, tracker, domain) == {}


def test_the_protected_slots_are_the_domains_verification_slots(domain):
    from channels.identity import VERIFICATION_SLOTS

    assert VERIFICATION_SLOTS <= set(domain["slots"])
    assert all(not domain["slots"][slot]["influence_conversation"] for slot in VERIFICATION_SLOTS)


async def test_a_question_a_rule_answered_is_not_taken_for_an_address(database_url, dispatcher, domain):
    # "why do you need my email?" was answered by the fallback; the form runs again to ask
    message = user_message("why do you need my email?", "nlu_fallback")
    tracker = load_tracker("order_status_form_asked", latest_message=message,
                           slots={"order_id": "10002", "requested_slot": "order_email"})
    tracker.events += [
        {"event": "action", "name": "action_llm_fallback"},
        {"event": "bot", "text": "We ask to check that the order is yours."},
        {"event": "action", "name": "order_status_form"},
    ]
    assert await ValidateOrderStatusForm().extract_order_email(dispatcher, tracker, domain) == {}


async def test_a_form_another_action_started_reads_the_address(database_url, dispatcher, domain):
    # "where is order 10002? my email is ...": action_email_without_order started the form
    text = "where is order 10002? my email is customer10002@example.com"
    message = user_message(text, "give_email", order_id="10002")
    tracker = load_tracker("order_status_form_completed", latest_message=message, slots={"verified_orders": []})
    tracker.events += [
        {"event": "user", "text": text, "parse_data": message},
        {"event": "action", "name": "action_email_without_order"},
        {"event": "action", "name": "order_status_form"},
        {"event": "active_loop", "name": "order_status_form"},
    ]
    extracted = await ValidateOrderStatusForm().extract_order_email(dispatcher, tracker, domain)
    assert extracted == {"order_email": text}
