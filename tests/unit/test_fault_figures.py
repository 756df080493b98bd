"""benchmarks.faults.figures: the figures of a fault scenario from client records."""
import pytest

from benchmarks.faults.figures import fault_figures


def record(started, latency, outcome="ok", attempts=1, visible=True, replayed=False):
    return {"started": started, "latency_s": latency, "final_outcome": outcome,
            "attempts": attempts, "visible": visible, "replayed": replayed}


def test_a_clean_run_recovers_at_once_and_shows_every_reply():
    fig = fault_figures([record(0, 1), record(2, 1.5)], fault_start=1, fault_end=1)
    assert fig["visible_share"] == 1.0 and fig["recover_s"] == 0.0
    assert fig["longest_reply_s"] == 1.5 and fig["troubled_messages"] == 0


def test_recovery_ends_with_the_last_message_that_met_the_fault():
    records = [record(10, 1), record(11, 6, attempts=3, replayed=True), record(20, 1),
               record(25, 2, outcome="retryable", visible=False)]
    fig = fault_figures(records, fault_start=10, fault_end=12)
    assert fig["recover_s"] == pytest.approx(25 - 12)
    assert fig["visible_share"] == 0.75 and fig["not_visible"] == 1
    assert fig["retried"] == 1 and fig["replayed"] == 1
    assert fig["messages_during_fault"] == 2


def test_troubles_before_the_end_cost_no_recovery_time():
    fig = fault_figures([record(5, 2, attempts=2), record(9, 1)], fault_start=4, fault_end=10)
    assert fig["recover_s"] == 0.0 and fig["troubled_messages"] == 1
