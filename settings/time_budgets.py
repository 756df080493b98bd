"""The three time limits of a turn, checked against each other at start-up.

A turn of a conversation holds that conversation's ticket lock
(TICKET_LOCK_LIFETIME, Rasa's setting) while the Rasa server waits for the
action server (ACTION_SERVER_TIMEOUT_S), which waits for the LLM fallback's
whole budget (LLM_DEADLINE_S). If an inner limit is not below the outer one,
the outer one fires first: a lock that expires while its turn still runs lets
another Rasa server process the conversation's next message at the same time
(one of the two turns is then lost from the tracker store), and an action call
that gives up before the fallback's canned reply turns a slow model into no
reply at all. So both servers refuse to start unless

    LLM_DEADLINE_S + MARGIN_S <= ACTION_SERVER_TIMEOUT_S
    ACTION_SERVER_TIMEOUT_S + MARGIN_S <= TICKET_LOCK_LIFETIME

`python -m settings.time_budgets` runs the check (exit 1 with the reason).
"""
import sys
from dataclasses import dataclass
from typing import List, Mapping, Optional

from settings.defaults import setting

# room for what happens around the inner call: the action's own database
# work and the reply, the Rasa server's NLU and policies
MARGIN_S = 2.0


@dataclass(frozen=True)
class TimeBudgets:
    llm_deadline_s: float
    action_timeout_s: float
    lock_lifetime_s: float

    @classmethod
    def from_environment(cls, environ: Optional[Mapping[str, str]] = None) -> "TimeBudgets":
        def seconds(name: str) -> float:
            value = setting(name, environ)
            try:
                number = float(value)
            except ValueError:
                raise ValueError(f"{name} must be a number of seconds, not {value!r}.") from None
            if number <= 0:
                raise ValueError(f"{name} must be positive, not {value!r}.")
            return number

        return cls(seconds("LLM_DEADLINE_S"), seconds("ACTION_SERVER_TIMEOUT_S"),
                   seconds("TICKET_LOCK_LIFETIME"))


def problems(budgets: TimeBudgets, margin_s: float = MARGIN_S) -> List[str]:
    """What is wrong with the limits; empty when they nest."""
    found = []
    if budgets.llm_deadline_s + margin_s > budgets.action_timeout_s:
        found.append(
            f"LLM_DEADLINE_S ({budgets.llm_deadline_s:g}) + {margin_s:g} s must not exceed "
            f"ACTION_SERVER_TIMEOUT_S ({budgets.action_timeout_s:g}): the Rasa server would "
            "give up on the action server before the fallback's own reply."
        )
    if budgets.action_timeout_s + margin_s > budgets.lock_lifetime_s:
        found.append(
            f"ACTION_SERVER_TIMEOUT_S ({budgets.action_timeout_s:g}) + {margin_s:g} s must not "
            f"exceed TICKET_LOCK_LIFETIME ({budgets.lock_lifetime_s:g}): a conversation's lock "
            "would expire while its turn still runs."
        )
    return found


def checked(environ: Optional[Mapping[str, str]] = None) -> TimeBudgets:
    """The limits from the environment; ValueError naming every problem."""
    budgets = TimeBudgets.from_environment(environ)
    found = problems(budgets)
    if found:
        raise ValueError("The time limits of a turn do not nest: " + " ".join(found))
    return budgets


def main() -> int:
    try:
        budgets = checked()
    except ValueError as error:
        print(error, file=sys.stderr)
        return 1
    print(f"time limits nest: LLM {budgets.llm_deadline_s:g} s < action call "
          f"{budgets.action_timeout_s:g} s < conversation lock {budgets.lock_lifetime_s:g} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
