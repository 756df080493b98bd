"""What the client saw against what the tracker store kept: the counting of
check_store.py, as pure functions (tests/unit/test_load_checker.py).

Inputs:
- client records, one per message (the locustfile's JSON lines): `sender`,
  `seq`, `final_outcome` ("ok" = a normal 200 reply), `replies` (texts),
  `visible`, `upstream`, `attempts`, `replayed`, `expected`;
- stored events of the same conversations, in storage order (`id`): `sender`,
  `type` ("user", "bot", "action"), `seq` and `message_id` (a user event's
  metadata), `text`, `action`.

Python 3.10 and the standard library only: the Rasa environment's pytest runs
the tests, the load environment (3.11) runs the checker.
"""
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

OK = "ok"
EMPTY = "empty"
FALLBACK_ACTION = "action_llm_fallback"
# any of these above 0 fails the check
FAILURES = ("lost", "duplicated", "reordered", "no_reply", "out_of_order", "no_visible_reply")
EXAMPLES = 5  # evidence kept per count


@dataclass
class StoredTurn:
    """A stored user message and what the bot did before the next one."""
    seq: Optional[int]
    message_id: Optional[str]
    text: str
    bot_texts: List[str] = field(default_factory=list)
    bot_events: int = 0
    actions: List[str] = field(default_factory=list)


def by_sender(rows: Iterable[Mapping]) -> Dict[str, List[Mapping]]:
    grouped: Dict[str, List[Mapping]] = defaultdict(list)
    for row in rows:
        grouped[row["sender"]].append(row)
    return dict(grouped)


def stored_turns(events: Sequence[Mapping]) -> List[StoredTurn]:
    """One conversation's events (storage order) as turns. Bot events before the
    first user message (a session start) belong to no turn."""
    turns: List[StoredTurn] = []
    for event in sorted(events, key=lambda e: e["id"]):
        if event["type"] == "user":
            turns.append(StoredTurn(event.get("seq"), event.get("message_id"), event.get("text") or ""))
        elif turns and event["type"] == "bot":
            turns[-1].bot_events += 1
            turns[-1].bot_texts.append(event.get("text") or "")
        elif turns and event["type"] == "action" and event.get("action"):
            turns[-1].actions.append(event["action"])
    return turns


def same_texts(client: Sequence[str], stored: Sequence[str]) -> bool:
    """The texts the client got are the texts stored for that turn, in order."""
    return [t.strip() for t in client] == [t.strip() for t in stored]


def duplicated_seqs(turns: Sequence[StoredTurn]) -> List[int]:
    counts = Counter(t.seq for t in turns if t.seq is not None)
    return sorted(seq for seq, n in counts.items() if n > 1)


def reordered_seqs(turns: Sequence[StoredTurn]) -> List[int]:
    """Stored seqs lower than one stored before them (repeats of an earlier seq
    are duplicates, not reorders)."""
    seen, highest, out = set(), None, []
    for turn in turns:
        if turn.seq is None:
            continue
        if turn.seq not in seen and highest is not None and turn.seq < highest:
            out.append(turn.seq)
        seen.add(turn.seq)
        highest = turn.seq if highest is None else max(highest, turn.seq)
    return out


def check(client_records: Sequence[Mapping], stored_events: Sequence[Mapping]) -> Dict:
    """Every count of the report, with a few examples of each non-zero one."""
    counts: Counter = Counter()
    examples: Dict[str, List] = defaultdict(list)

    def note(name: str, example, n: int = 1) -> None:
        counts[name] += n
        if len(examples[name]) < EXAMPLES:
            examples[name].append(example)

    clients = by_sender(client_records)
    stores = {sender: stored_turns(events) for sender, events in by_sender(stored_events).items()}
    senders = set(clients) | set(stores)

    for sender in sorted(senders):
        records = sorted(clients.get(sender, []), key=lambda r: r["seq"])
        turns = stores.get(sender, [])
        first_turn: Dict[int, StoredTurn] = {}
        for turn in turns:
            counts["stored_user_messages"] += 1
            if turn.seq is None:
                note("unsequenced", {"sender": sender, "text": turn.text})
                continue
            first_turn.setdefault(turn.seq, turn)
            if turn.bot_events == 0:
                note("no_reply", {"sender": sender, "seq": turn.seq, "text": turn.text})
            if FALLBACK_ACTION in turn.actions:
                counts["fallback_turns"] += 1
        for seq in duplicated_seqs(turns):
            note("duplicated", {"sender": sender, "seq": seq,
                                "stored": sum(t.seq == seq for t in turns)})
        for seq in reordered_seqs(turns):
            note("reordered", {"sender": sender, "seq": seq, "order": [t.seq for t in turns]})

        upstreams = set()
        for record in records:
            counts["client_messages"] += 1
            seq, outcome = record["seq"], record["final_outcome"]
            counts["attempts"] += record.get("attempts", 1)
            if record.get("attempts", 1) > 1:
                counts["retried"] += 1
            if record.get("replayed"):
                counts["replayed"] += 1
            if record.get("upstream"):
                upstreams.add(record["upstream"])
            if not record.get("visible"):
                note("no_visible_reply", {"sender": sender, "seq": seq, "outcome": outcome,
                                          "statuses": record.get("statuses")})
            if outcome == EMPTY:
                note("empty_reply", {"sender": sender, "seq": seq, "text": record.get("text")})
            if outcome == OK and record.get("expected") is False:
                note("unexpected_reply", {"sender": sender, "seq": seq, "text": record.get("text"),
                                          "replies": record.get("replies")})
            turn = first_turn.get(seq)
            if outcome == OK:
                counts["ok_messages"] += 1
                if turn is None:
                    note("lost", {"sender": sender, "seq": seq, "text": record.get("text")})
                elif not same_texts(record.get("replies", []), turn.bot_texts):
                    note("out_of_order", {"sender": sender, "seq": seq,
                                          "client": record.get("replies"), "stored": turn.bot_texts})
            elif turn is not None:
                # stored although the client never got a normal reply (e.g. timed out)
                note("stored_without_ok", {"sender": sender, "seq": seq, "outcome": outcome})
        if records:
            counts["conversations"] += 1
            if len(upstreams) >= 2:
                counts["multi_replica_conversations"] += 1
        elif turns:
            note("stored_only_conversations", {"sender": sender})

    for name in FAILURES:
        counts.setdefault(name, 0)
    return {"counts": dict(sorted(counts.items())), "examples": dict(examples)}


def failures(result: Mapping) -> List[Tuple[str, int]]:
    """The failing counts, e.g. [("lost", 2)]; [] when the run is clean."""
    return [(name, result["counts"][name]) for name in FAILURES if result["counts"].get(name)]


def summary(result: Mapping) -> str:
    c = result["counts"]
    lines = [
        f"{c.get('client_messages', 0)} messages sent in {c.get('conversations', 0)} conversations "
        f"({c.get('ok_messages', 0)} answered normally, {c.get('retried', 0)} retried, "
        f"{c.get('replayed', 0)} answered by replay); {c.get('stored_user_messages', 0)} user messages stored; "
        f"{c.get('multi_replica_conversations', 0)} conversations served by 2+ replicas; "
        f"{c.get('fallback_turns', 0)} LLM fallback turns",
        "  " + ", ".join(f"{name} {c.get(name, 0)}" for name in FAILURES),
    ]
    info = [f"{name} {c[name]}" for name in ("empty_reply", "unexpected_reply", "stored_without_ok",
                                            "unsequenced", "stored_only_conversations") if c.get(name)]
    if info:
        lines.append("  also: " + ", ".join(info))
    bad = failures(result)
    lines.append("FAIL: " + ", ".join(f"{n} {v}" for n, v in bad) if bad else "OK: nothing lost, "
                 "duplicated, reordered or unanswered")
    return "\n".join(lines)
