"""When the assistant cannot serve a turn, it says so instead of guessing.

Rasa 3.6 wraps every tracker store in a `FailSafeTrackerStore`: a failed read
becomes an empty conversation (the customer's half-finished order check
silently starts over) and a failed write goes to that one process's memory
(the turn is missing from the shared store, and the next message, served by
another replica, does not see it). Here a failing tracker store raises
`AssistantUnavailable` instead; the channels (channels/turns.py) answer it,
and a lock store that cannot be reached, with UNAVAILABLE_REPLY, and store
nothing of that turn, so the customer can send the message again.
"""
import logging
from typing import Any, NoReturn

from rasa.core.lock_store import LockError
from rasa.core.tracker_store import FailSafeTrackerStore

logger = logging.getLogger(__name__)

UNAVAILABLE_REPLY = (
    "Sorry, I'm briefly unavailable and couldn't take that in. "
    "Please send it again in a moment."
)
# what a REST client is told to wait before sending the message again
RETRY_AFTER_S = 2


class AssistantUnavailable(Exception):
    """A store the turn depends on failed: the turn was not processed or not stored."""


def is_unavailable(error: BaseException) -> bool:
    """Errors after which the turn is told to come again, rather than apologised for."""
    return isinstance(error, (AssistantUnavailable, LockError))


def _fail_closed(error: Exception) -> NoReturn:
    logger.error("Tracker store failed (%s: %s): the turn is refused, not guessed.",
                 type(error).__name__, str(error)[:300])
    raise AssistantUnavailable("the tracker store failed") from error


def fail_closed(tracker_store: Any) -> bool:
    """Makes Rasa's fail-safe wrapper raise instead of falling back; True if
    it changed anything. (The agent builds the wrapper itself; its error
    callback is the one thing it lets a caller choose, so it is set here.)"""
    if not isinstance(tracker_store, FailSafeTrackerStore):
        return False
    tracker_store._on_tracker_store_error = _fail_closed
    return True
