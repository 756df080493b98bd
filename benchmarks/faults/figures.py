"""The figures of one fault scenario, pure: from the client's records (the
load test's client log, with `started` epoch seconds) and the fault's window.

- visible share: messages whose customer saw a bot message (a reply, or the
  "briefly unavailable" notice) among all messages sent;
- longest time to reply: the longest a message took until its final answer,
  over all its attempts (what the customer waited, retries included);
- time to recover: from the fault's end until the start of the last message
  that needed more than one attempt or did not end normally: from then on
  every new message is served at its first attempt (0: none after the end).
  A message sent during the fault may still be waiting for its retry then;
  its wait is in the longest time to reply;
- retried messages and repeats answered from the store (replayed).
"""
from typing import Dict, Mapping, Optional, Sequence

OK = "ok"


def _end(record: Mapping) -> float:
    return record["started"] + record["latency_s"]


def troubled(record: Mapping) -> bool:
    """Did this message meet the fault (an error, a retry, an abnormal end)?"""
    return record["final_outcome"] != OK or record.get("attempts", 1) > 1


def fault_figures(records: Sequence[Mapping], fault_start: float,
                  fault_end: float) -> Dict[str, Optional[float]]:
    visible = [r for r in records if r.get("visible")]
    during = [r for r in records if r["started"] <= fault_end and _end(r) >= fault_start]
    hit = [r for r in records if troubled(r)]
    last_trouble = max((r["started"] for r in hit), default=None)
    return {
        "messages": len(records),
        "visible_share": len(visible) / len(records) if records else None,
        "not_visible": len(records) - len(visible),
        "messages_during_fault": len(during),
        "longest_reply_s": max((r["latency_s"] for r in visible), default=None),
        "longest_reply_during_fault_s": max((r["latency_s"] for r in during), default=None),
        "troubled_messages": len(hit),
        "retried": sum(1 for r in records if r.get("attempts", 1) > 1),
        "replayed": sum(1 for r in records if r.get("replayed")),
        "recover_s": max(0.0, last_trouble - fault_end) if last_trouble is not None else 0.0,
    }
