"""settings.time_budgets: the servers refuse limits that do not nest."""
import pytest

from settings.time_budgets import MARGIN_S, TimeBudgets, checked, problems


def test_the_defaults_nest():
    budgets = checked({})
    assert budgets.llm_deadline_s + MARGIN_S <= budgets.action_timeout_s
    assert budgets.action_timeout_s + MARGIN_S <= budgets.lock_lifetime_s


@pytest.mark.parametrize("llm, action, lock, names", [
    (12, 13, 60, ["ACTION_SERVER_TIMEOUT_S"]),  # the action call would cut the fallback off
    (12, 15, 16, ["TICKET_LOCK_LIFETIME"]),  # the lock would expire mid-turn
    (30, 20, 10, ["ACTION_SERVER_TIMEOUT_S", "TICKET_LOCK_LIFETIME"]),
])
def test_limits_that_do_not_nest_are_named(llm, action, lock, names):
    found = problems(TimeBudgets(llm, action, lock))
    assert len(found) == len(names)
    for problem, name in zip(found, names):
        assert name in problem


def test_a_bad_environment_stops_the_start():
    with pytest.raises(ValueError, match="TICKET_LOCK_LIFETIME"):
        checked({"TICKET_LOCK_LIFETIME": "10"})
    with pytest.raises(ValueError, match="number of seconds"):
        checked({"LLM_DEADLINE_S": "soon"})
    with pytest.raises(ValueError, match="positive"):
        checked({"ACTION_SERVER_TIMEOUT_S": "0"})
