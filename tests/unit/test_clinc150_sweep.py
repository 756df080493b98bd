"""The sweep routes a recorded parse as the router would with other settings."""
import pytest

from benchmarks.clinc150.sweep import routed

RECORD = {
    "ranking": [{"name": "balance", "confidence": 0.9}, {"name": "transfer", "confidence": 0.1}],
    "sentence_ranking": [{"name": "transfer", "confidence": 0.6}, {"name": "balance", "confidence": 0.3}],
    "signals": {"similarity": 0.5},
}


@pytest.mark.parametrize("weight, threshold, ambiguity, expected", [
    (0.0, 0.3, 0.05, "balance"),  # DIET's alone
    (1.0, 0.3, 0.05, "transfer"),  # the classifier's alone
    (0.5, 0.3, 0.05, "balance"),  # 0.6 against 0.35
    (0.5, 0.7, 0.05, "nlu_fallback"),  # under the threshold
    (0.5, 0.3, 0.3, "nlu_fallback"),  # the two closer than the ambiguity threshold
])
def test_settings_decide_the_intent(weight, threshold, ambiguity, expected):
    assert routed(RECORD, weight, threshold, ambiguity) == expected


def test_out_of_scope_and_unlike_the_training_data_go_to_the_fallback():
    assert routed({**RECORD, "signals": {"similarity": 0.1}}, 0.5, 0.3, 0.05) == "nlu_fallback"
    oos = {**RECORD, "sentence_ranking": [{"name": "out_of_scope", "confidence": 1.0}]}
    assert routed(oos, 1.0, 0.3, 0.05) == "nlu_fallback"


def test_the_choice_is_the_best_in_scope_accuracy_above_the_oos_floor():
    from benchmarks.clinc150.metrics import Score
    from benchmarks.clinc150.sweep import choose

    scores = {
        (0.5, 0.2, 0.0): Score(0.99, 0.70, 100, 30),  # best in scope, too few oos caught
        (0.8, 0.3, 0.05): Score(0.96, 0.80, 100, 30),
        (0.9, 0.3, 0.05): Score(0.97, 0.83, 100, 30),  # the choice
        (1.0, 0.3, 0.05): Score(0.97, 0.80, 100, 30),  # as good in scope, fewer oos
    }
    assert choose(scores, floor=0.8) == (0.9, 0.3, 0.05)
    assert choose(scores, floor=0.9) is None
