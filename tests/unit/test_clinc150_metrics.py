"""benchmarks.clinc150.metrics: the paper's two figures, the stock-Rasa
baseline's predictions and the choice of its threshold."""
import numpy as np
import pytest

from benchmarks.clinc150 import metrics
from benchmarks.clinc150.metrics import FALLBACK_INTENT, Score


def ranking(*pairs):
    return [{"name": name, "confidence": confidence} for name, confidence in pairs]


def test_a_fallback_or_out_of_scope_is_wrong_in_scope_and_caught_out_of_scope():
    golds = ["alarm", "alarm", "balance", "balance", "oos", "oos", "oos", "oos"]
    predicted = ["alarm", FALLBACK_INTENT, "out_of_scope", "alarm", FALLBACK_INTENT,
                 "out_of_scope", "alarm", "balance"]
    assert metrics.score(golds, predicted) == Score(
        in_scope_accuracy=0.25, oos_recall=0.5, n_in_scope=4, n_oos=4
    )


def test_a_set_without_oos_has_no_recall():
    result = metrics.score(["alarm"], ["alarm"])
    assert result.oos_recall is None and result.in_scope_accuracy == 1.0
    assert result.joint == 1.0
    with pytest.raises(ValueError):
        metrics.score(["alarm", "oos"], ["alarm"])


def test_diets_ranking_is_what_follows_the_routers_fallback_entry():
    diet = ranking(("alarm", 0.55), ("timer", 0.3))
    assert metrics.classifier_ranking([{"name": FALLBACK_INTENT, "confidence": 0.6}, *diet]) == diet
    assert metrics.classifier_ranking(diet) == diet
    assert metrics.classifier_ranking([]) == []


@pytest.mark.parametrize("entries, threshold, expected", [
    ((("alarm", 0.9), ("timer", 0.05)), 0.3, "alarm"),
    ((("alarm", 0.29), ("timer", 0.05)), 0.3, FALLBACK_INTENT),  # below the threshold
    ((("alarm", 0.3), ("timer", 0.05)), 0.3, "alarm"),  # at it: not below
    ((("alarm", 0.5), ("timer", 0.45)), 0.3, FALLBACK_INTENT),  # ambiguous: gap 0.05 < 0.1
    ((("out_of_scope", 0.8), ("alarm", 0.1)), 0.3, "out_of_scope"),  # DIET's own oos stays
    ((("alarm", 0.95),), 0.3, "alarm"),  # one intent: nothing to be ambiguous with
    ((), 0.3, FALLBACK_INTENT),
])
def test_stock_prediction_is_the_fallback_classifiers_rule(entries, threshold, expected):
    assert metrics.stock_prediction(ranking(*entries), threshold) == expected


def test_diet_alone_never_falls_back():
    assert metrics.stock_prediction(ranking(("alarm", 0.01), ("timer", 0.01)), 0.0, 0.0) == "alarm"


def test_the_threshold_maximises_accuracy_plus_recall_on_the_holdout():
    golds = ["alarm", "alarm", "timer", "oos", "oos"]
    rankings = [
        ranking(("alarm", 0.9), ("timer", 0.05)),
        ranking(("alarm", 0.6), ("timer", 0.2)),
        ranking(("timer", 0.45), ("alarm", 0.2)),
        ranking(("alarm", 0.5), ("timer", 0.2)),
        ranking(("timer", 0.4), ("alarm", 0.1)),
    ]
    # accuracy + recall: up to 0.40 1 + 0; 0.41..0.45 1 + 1/2; 0.46..0.50
    # 2/3 + 1/2; 0.51..0.60 2/3 + 1 (the best; the lowest of them wins);
    # 0.61..0.90 1/3 + 1
    threshold, result = metrics.choose_threshold(golds, rankings, grid=metrics.THRESHOLD_GRID)
    assert threshold == 0.51
    assert result.in_scope_accuracy == pytest.approx(2 / 3) and result.oos_recall == 1.0


def test_on_a_tie_the_lowest_threshold_wins():
    threshold, _ = metrics.choose_threshold(["alarm"], [ranking(("alarm", 0.9))], grid=[0.5, 0.1, 0.3])
    assert threshold == 0.1
    with pytest.raises(ValueError):
        metrics.choose_threshold(["alarm"], [ranking(("alarm", 0.9))], grid=[])


def test_the_grid_is_every_hundredth_below_one():
    assert metrics.THRESHOLD_GRID[:3] == (0.0, 0.01, 0.02) and metrics.THRESHOLD_GRID[-1] == 0.99
    assert len(metrics.THRESHOLD_GRID) == 100


@pytest.mark.parametrize("values", [[3.0], [1.0, 2.0], [5.0, 1.0, 4.0, 2.0, 3.0, 10.0, 0.5]])
@pytest.mark.parametrize("q", [0, 50, 95, 100])
def test_percentiles_are_numpys(values, q):
    assert metrics.percentile(values, q) == pytest.approx(np.percentile(values, q))


def test_timings_are_reported_in_milliseconds():
    summary = metrics.timing_summary([0.001, 0.002, 0.003, 0.010])
    assert summary["p50"] == 2.5 and summary["max"] == 10.0 and summary["n"] == 4
    assert summary["mean"] == 4.0
    with pytest.raises(ValueError):
        metrics.timing_summary([])


def test_routing_reasons_are_counted_per_kind_of_message():
    counts = metrics.routing_reasons(
        ["alarm", "oos", "oos", "timer"],
        [["low_confidence"], ["low_confidence", "ambiguous"], ["out_of_scope_intent"], []],
    )
    assert counts == {
        "in_scope": {"low_confidence": 1},
        "oos": {"ambiguous": 1, "low_confidence": 1, "out_of_scope_intent": 1},
    }
