"""The load test's checker (benchmarks/load/checks.py): each kind of damage a
run can do to conversations is detected from the client's records and the
tracker store's events; a clean run counts none. Also the client's retry rule
and the conversations' reactions (benchmarks/load/retry.py, conversations.py)."""
from benchmarks.load import checks, conversations, retry


class Store:
    """Stored events of conversations, ids in storage order."""

    def __init__(self):
        self.events = []

    def add(self, sender, kind, **fields):
        self.events.append({"id": len(self.events) + 1, "sender": sender, "type": kind, **fields})
        return self

    def turn(self, sender, seq, text, *bot_texts, actions=()):
        self.add(sender, "user", seq=seq, message_id=f"{sender}:{seq}", text=text)
        for action in actions:
            self.add(sender, "action", action=action)
        for reply in bot_texts:
            self.add(sender, "bot", text=reply)
        return self.add(sender, "action", action="action_listen")


def record(sender, seq, *replies, outcome="ok", upstream="10.0.0.1:5005", **extra):
    return {"sender": sender, "seq": seq, "text": f"msg {seq}", "final_outcome": outcome,
            "replies": list(replies), "visible": outcome in ("ok", "unavailable"),
            "upstream": upstream, "attempts": 1, "statuses": [200], **extra}


def clean_conversation():
    store = Store().add("load-r-1", "action", action="action_session_start")
    store.turn("load-r-1", 1, "hi", "Hello!")
    store.turn("load-r-1", 2, "where is my order?", "What's your order number?")
    store.turn("load-r-1", 3, "10002", "For your security, what's the e-mail address?")
    client = [record("load-r-1", 1, "Hello!"),
              record("load-r-1", 2, "What's your order number?", upstream="10.0.0.2:5005"),
              record("load-r-1", 3, "For your security, what's the e-mail address?")]
    return client, store


def counts(client, store):
    return checks.check(client, store.events)["counts"]


def test_a_clean_run_counts_no_failure():
    client, store = clean_conversation()
    result = checks.check(client, store.events)
    assert checks.failures(result) == []
    assert result["counts"]["ok_messages"] == 3
    assert result["counts"]["stored_user_messages"] == 3
    assert result["counts"]["multi_replica_conversations"] == 1
    assert "OK" in checks.summary(result)


def test_a_message_answered_but_not_stored_is_lost():
    client, store = clean_conversation()
    client.append(record("load-r-1", 4, "Thanks, here it is"))
    result = checks.check(client, store.events)
    assert result["counts"]["lost"] == 1
    assert result["examples"]["lost"][0]["seq"] == 4
    assert ("lost", 1) in checks.failures(result)


def test_a_message_that_never_got_a_normal_reply_is_not_lost_but_unanswered():
    client, store = clean_conversation()
    client.append(record("load-r-1", 4, outcome="retryable", statuses=[0, 503, 503]))
    c = counts(client, store)
    assert c["lost"] == 0
    assert c["no_visible_reply"] == 1


def test_a_seq_stored_twice_is_a_duplicate():
    client, store = clean_conversation()
    store.turn("load-r-1", 3, "10002", "For your security, what's the e-mail address?")
    c = counts(client, store)
    assert c["duplicated"] == 1
    assert c["reordered"] == 0  # a repeat is a duplicate, not a reorder


def test_seqs_stored_out_of_order_are_reordered():
    store = Store()
    store.turn("load-r-2", 1, "hi", "Hello!")
    store.turn("load-r-2", 3, "thanks", "You're welcome")
    store.turn("load-r-2", 2, "where is my order?", "What's your order number?")
    client = [record("load-r-2", 1, "Hello!"), record("load-r-2", 2, "What's your order number?"),
              record("load-r-2", 3, "You're welcome")]
    c = counts(client, store)
    assert c["reordered"] == 1
    assert c["duplicated"] == 0 and c["lost"] == 0


def test_a_stored_user_message_without_a_bot_event_has_no_reply():
    client, store = clean_conversation()
    store.add("load-r-1", "user", seq=4, message_id="load-r-1:4", text="bye")
    store.add("load-r-1", "action", action="action_listen")
    client.append(record("load-r-1", 4, "Goodbye"))
    c = counts(client, store)
    assert c["no_reply"] == 1
    assert c["out_of_order"] == 1  # the client got "Goodbye", the store has nothing


def test_replies_that_belong_to_another_turn_are_out_of_order():
    client, store = clean_conversation()
    # the client got turn 3's answer for turn 2 and the other way round
    client[1]["replies"], client[2]["replies"] = client[2]["replies"], client[1]["replies"]
    result = checks.check(client, store.events)
    assert result["counts"]["out_of_order"] == 2
    assert result["examples"]["out_of_order"][0]["stored"] == ["What's your order number?"]


def test_unsequenced_and_fallback_turns_are_counted():
    store = Store()
    store.turn("load-r-3", 1, "which tent?", "A tunnel tent.", actions=("action_llm_fallback",))
    store.add("load-r-3", "user", seq=None, message_id=None, text="no metadata")
    store.add("load-r-3", "bot", text="ok")
    c = counts([record("load-r-3", 1, "A tunnel tent.")], store)
    assert c["fallback_turns"] == 1
    assert c["unsequenced"] == 1


def test_only_a_normal_reply_or_the_unavailable_notice_is_visible():
    notice = [{"recipient_id": "x", "text": "I'm briefly unavailable",
               "custom": {"pine_status": "unavailable"}}]
    assert retry.classify(200, [{"text": "Hello"}]) == retry.OK
    assert retry.classify(200, []) == retry.EMPTY
    assert retry.classify(503, notice) == retry.UNAVAILABLE
    assert retry.classify(503, {"error": "no ready replica"}) == retry.RETRYABLE
    assert retry.classify(0, None) == retry.RETRYABLE
    assert retry.classify(500, None) == retry.FAILED
    assert [retry.visible(o) for o in (retry.OK, retry.UNAVAILABLE, retry.EMPTY, retry.RETRYABLE)] \
        == [True, True, False, False]


def test_retries_are_bounded_and_follow_retry_after():
    policy = retry.Policy(max_attempts=6, window_s=30)
    assert retry.next_wait(retry.RETRYABLE, {"Retry-After": "3"}, 1, 0, policy) == 3
    assert retry.next_wait(retry.UNAVAILABLE, {}, 1, 0, policy) == policy.default_wait_s
    assert retry.next_wait(retry.RETRYABLE, {}, 6, 0, policy) is None      # attempts used up
    assert retry.next_wait(retry.RETRYABLE, {}, 2, 29.5, policy) is None   # window over
    assert retry.next_wait(retry.FAILED, {}, 1, 0, policy) is None
    assert retry.next_wait(retry.OK, {}, 1, 0, policy) is None


def test_a_customer_asked_for_the_email_gives_it_and_bodies_carry_the_idempotency_key():
    conversation = conversations.start("structured", "r", 2)
    assert conversation.name == "cancellation"
    step = conversations.next_message(conversation)
    conversations.react(conversation, step, ["For your security, what's the e-mail address on "
                                             "order #10009? I only use it ..."])
    assert conversations.next_message(conversation).text == "customer10009@example.com"
    assert conversations.next_message(conversation).kind == "cancel_decline"
    body = conversations.message_body("load-r-2", "hi", 3, "r")
    assert body["metadata"] == {"message_id": "load-r-2:3", "seq": 3, "load_run": "r"}


def test_the_structured_mix_never_asks_an_open_question():
    assert "open_question" not in conversations.schedule("structured")
    assert "open_question" in conversations.schedule("mixed")


def test_the_capacity_model_is_arithmetic_on_measured_costs():
    from benchmarks.load import figures
    structured = {"rasa": 0.14, "model": 0.0}
    # 10 % fallbacks costing 0.3 (rasa) and 2.0 (model) CPU-seconds each
    mixed = {"rasa": 0.9 * 0.14 + 0.1 * 0.3, "model": 0.1 * 2.0}
    fallback = figures.fallback_cost(structured, mixed, 0.1)
    assert abs(fallback["rasa"] - 0.3) < 1e-9 and abs(fallback["model"] - 2.0) < 1e-9
    cores = figures.capacity(structured, fallback, 0.1)
    assert abs(cores["model"][100] - 20.0) < 1e-9
    assert abs(cores["rasa"][1000] - 1000 * (0.9 * 0.14 + 0.1 * 0.3)) < 1e-9
    assert figures.percentile([3, 1, 2, 4], 50) == 2 and figures.percentile([], 95) is None
