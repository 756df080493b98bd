"""channels.turns and channels.exactly_once: what a customer gets back from a
turn whatever failed, and which stored reply a repeated message gets."""
import pytest
import redis
from rasa.core.channels.channel import CollectingOutputChannel, OutputChannel, UserMessage
from rasa.core.lock_store import InMemoryLockStore, LockError
from rasa.core.tracker_store import InMemoryTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet, UserUttered

from channels import exactly_once, turns
from rasa_server import metrics
from rasa_server.unavailable import UNAVAILABLE_REPLY, AssistantUnavailable


class SentOutput(OutputChannel):
    """An output that sends at once, like socket.io and Slack."""

    def __init__(self):
        self.sent = []

    async def send_text_message(self, recipient_id, text, **kwargs):
        self.sent.append(("text", text))

    async def send_text_with_buttons(self, recipient_id, text, buttons, **kwargs):
        self.sent.append(("buttons", text, [b["title"] for b in buttons]))


def handler(*bot_texts, error=None, buttons=None):
    async def on_new_message(message):
        for text in bot_texts:
            await message.output_channel.send_text_message(message.sender_id, text)
        if buttons:
            await message.output_channel.send_text_with_buttons(message.sender_id, "pick", buttons)
        if error is not None:
            raise error
    return on_new_message


def count(channel, outcome):
    return metrics.MESSAGES.labels(channel, outcome)._value.get()


async def test_a_turn_whose_store_failed_shows_only_the_unavailable_reply():
    output = CollectingOutputChannel()
    handle = turns.guarded(handler("Your order shipped.", error=AssistantUnavailable("db")),
                           2000, "unit")
    before = count("unit", "unavailable")
    outcome = await handle(UserMessage("where is my order?", output, "u1"))
    assert outcome is turns.TurnOutcome.UNAVAILABLE
    assert [m["text"] for m in output.messages] == [UNAVAILABLE_REPLY]
    assert output.messages[0]["custom"]["pine_status"] == "unavailable"
    assert count("unit", "unavailable") == before + 1


async def test_a_lock_store_failure_is_unavailable_too():
    output = SentOutput()
    outcome = await turns.guarded(handler(error=LockError("redis down")), 2000, "unit")(
        UserMessage("hi", output, "u1"))
    assert outcome is turns.TurnOutcome.UNAVAILABLE
    assert output.sent == [("text", UNAVAILABLE_REPLY)]


async def test_messages_sent_at_once_are_held_until_the_turn_is_stored():
    output = SentOutput()
    outcome = await turns.guarded(handler("one moment", error=AssistantUnavailable("save")),
                                  2000, "unit")(UserMessage("hi", output, "u1"))
    assert outcome is turns.TurnOutcome.UNAVAILABLE
    assert ("text", "one moment") not in output.sent  # never shown: it was not stored


async def test_a_stored_turn_sends_what_was_held_in_order_with_buttons():
    output = SentOutput()
    buttons = [{"title": "Yes", "payload": "/affirm"}]
    outcome = await turns.guarded(handler("a", "b", buttons=buttons), 2000, "unit")(
        UserMessage("hi", output, "u1"))
    assert outcome is turns.TurnOutcome.REPLIED
    assert output.sent == [("text", "a"), ("text", "b"), ("buttons", "pick", ["Yes"])]


async def test_any_other_failure_gets_an_apology_not_silence():
    output = CollectingOutputChannel()
    outcome = await turns.guarded(handler("half", error=RuntimeError("bug")), 2000, "unit")(
        UserMessage("hi", output, "u1"))
    assert outcome is turns.TurnOutcome.FAILED
    assert [m["text"] for m in output.messages] == [turns.TURN_FAILED_REPLY]


def test_turn_time_is_observed_per_channel():
    samples = {s.name: s.value for s in metrics.TURN_SECONDS.collect()[0].samples
               if s.labels.get("channel") == "unit"}
    assert samples.get("pine_turn_seconds_count", 0) >= 1


def events_of_two_turns():
    return [
        ActionExecuted("action_listen"),
        UserUttered("where is my order?", metadata={"message_id": "c1:1"}),
        BotUttered("Which order number?"),
        ActionExecuted("action_listen"),
        UserUttered("10002", metadata={"message_id": "c1:2"}),
        SlotSet("order_number", "10002"),
        BotUttered("What is the e-mail on it?", data={"buttons": [{"title": "x", "payload": "/x"}]}),
        BotUttered("(Or say stop.)"),
        ActionExecuted("action_listen"),
        UserUttered("thanks", metadata={}),
        BotUttered("You're welcome!"),
    ]


def test_the_stored_reply_is_the_bot_messages_of_that_turn_only():
    reply = exactly_once.stored_reply(events_of_two_turns(), "c1:2", "c1")
    assert [m["text"] for m in reply] == ["What is the e-mail on it?", "(Or say stop.)"]
    assert reply[0]["buttons"] == [{"title": "x", "payload": "/x"}]
    assert reply[0]["recipient_id"] == "c1"


def test_an_unknown_key_has_no_stored_reply():
    assert exactly_once.stored_reply(events_of_two_turns(), "c1:9", "c1") is None


def test_a_stored_turn_without_bot_messages_replays_as_empty():
    events = [UserUttered("hm", metadata={"message_id": "k"})]
    assert exactly_once.stored_reply(events, "k", "c") == []


@pytest.mark.parametrize("metadata, headers, expected", [
    ({"message_id": "a:1"}, {}, "a:1"),
    ({}, {"Idempotency-Key": "h-1"}, "h-1"),
    ({"message_id": "m"}, {"Idempotency-Key": "h"}, "m"),
    (None, {}, None),
])
def test_message_id_comes_from_metadata_then_the_header(metadata, headers, expected):
    assert exactly_once.message_id(metadata, headers) == expected


@pytest.mark.parametrize("value", [7, "", "x" * 129, {"a": 1}])
def test_a_message_id_that_is_not_a_short_string_is_refused(value):
    with pytest.raises(ValueError, match="message_id"):
        exactly_once.message_id({"message_id": value}, {})


class ReleaseFailsLockStore(InMemoryLockStore):
    """A lock store whose release fails, like Redis restarting mid-turn."""

    def cleanup(self, conversation_id, ticket_number):
        raise redis.exceptions.ConnectionError("Redis restarted")


class StoringAgent:
    """What handle_once uses of Rasa's agent: the lock and tracker stores and a
    processor that stores the turn, as Rasa's does."""

    def __init__(self, lock_store):
        self.lock_store = lock_store
        self.tracker_store = InMemoryTrackerStore(Domain.empty())
        self.processor = self

    def is_ready(self):
        return True

    async def handle_message(self, message):
        tracker = await self.tracker_store.get_or_create_tracker(message.sender_id)
        tracker.update(UserUttered(message.text, metadata=message.metadata))
        tracker.update(BotUttered("Stored reply."))
        await self.tracker_store.save(tracker)
        await message.output_channel.send_text_message(message.sender_id, "Stored reply.")


def keyed(text, key):
    return UserMessage(text, CollectingOutputChannel(), "c1", metadata={"message_id": key})


async def test_a_stored_turn_whose_lock_release_failed_keeps_its_real_reply():
    agent = StoringAgent(ReleaseFailsLockStore())
    message = keyed("hi", "k1")
    assert await exactly_once.handle_once(agent, message, "k1") is turns.TurnOutcome.REPLIED
    assert [m["text"] for m in message.output_channel.messages] == ["Stored reply."]


async def test_a_repeat_is_answered_from_the_store_not_processed_again():
    agent = StoringAgent(InMemoryLockStore())
    await exactly_once.handle_once(agent, keyed("hi", "k1"), "k1")
    again = keyed("hi", "k1")
    assert await exactly_once.handle_once(agent, again, "k1") is turns.TurnOutcome.REPLAYED
    assert [m["text"] for m in again.output_channel.messages] == ["Stored reply."]
    tracker = await agent.tracker_store.retrieve("c1")
    assert sum(isinstance(e, UserUttered) for e in tracker.events) == 1
