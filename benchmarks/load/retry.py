"""The client's retry rule and how it reads one REST attempt. Pure.

An attempt is retried, with the SAME body (same message_id, so the server
processes it at most once), on a connection error, a timeout, or HTTP
502/503/504. A 503 whose body is a list of bot messages carrying
`custom.pine_status == "unavailable"` is the server saying it is briefly
unavailable (tracker or lock store down): the customer has seen a reply, but
the message still has to go through, so it is retried too.

Bounded: at most `max_attempts` attempts, and no retry starts later than
`window_s` after the first failed attempt ended (a timed-out attempt gets its
retries too, not only quick failures).
"""
from dataclasses import dataclass
from typing import Any, List, Mapping, Optional

RETRY_STATUSES = (502, 503, 504)

OK = "ok"                    # 200 with at least one bot message
EMPTY = "empty"              # 200 with no bot message: nothing visible
UNAVAILABLE = "unavailable"  # 503 with the server's "briefly unavailable" messages
RETRYABLE = "retryable"      # connection error, timeout, 502/503/504
FAILED = "failed"            # anything else (4xx, 500, ...): not retried


@dataclass(frozen=True)
class Policy:
    max_attempts: int = 6
    window_s: float = 30.0
    default_wait_s: float = 1.0
    max_wait_s: float = 10.0
    timeout_s: float = 60.0


def bot_texts(body: Any) -> List[str]:
    """The texts of a REST reply (a list of bot messages); [] otherwise."""
    if not isinstance(body, list):
        return []
    return [m.get("text") or "" for m in body if isinstance(m, dict)]


def is_unavailable_notice(body: Any) -> bool:
    return isinstance(body, list) and any(
        isinstance(m, dict) and isinstance(m.get("custom"), dict)
        and m["custom"].get("pine_status") == "unavailable"
        for m in body
    )


def classify(status: int, body: Any) -> str:
    """status 0 = no HTTP response (connection error or timeout)."""
    if status == 200:
        return OK if isinstance(body, list) and body else EMPTY
    if status == 503 and is_unavailable_notice(body):
        return UNAVAILABLE
    if status == 0 or status in RETRY_STATUSES:
        return RETRYABLE
    return FAILED


def visible(outcome: str) -> bool:
    """Did the customer see something from the bot?"""
    return outcome in (OK, UNAVAILABLE)


def retry_after(headers: Mapping[str, str], policy: Policy) -> float:
    """Seconds to wait: the Retry-After header (seconds) if usable, else the default."""
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    try:
        wait = float(value) if value is not None else policy.default_wait_s
    except ValueError:
        wait = policy.default_wait_s  # an HTTP date: not worth parsing here
    return min(max(wait, 0.0), policy.max_wait_s)


def next_wait(outcome: str, headers: Mapping[str, str], attempts: int,
              since_first_failure_s: float, policy: Policy) -> Optional[float]:
    """Seconds to wait before resending, or None to stop with this outcome."""
    if outcome not in (RETRYABLE, UNAVAILABLE) or attempts >= policy.max_attempts:
        return None
    wait = retry_after(headers, policy)
    if since_first_failure_s + wait > policy.window_s:
        return None
    return wait
