"""benchmarks.clinc150: a set's figures from parsed records (run.evaluate),
the issue's targets and the results page (report.py)."""
import copy

import pytest

from benchmarks.clinc150 import report
from benchmarks.clinc150.run import evaluate


def record(gold, predicted, diet, reasons=(), router_s=0.001, parse_s=0.02, sentence=None):
    ranking = [{"name": name, "confidence": confidence} for name, confidence in diet]
    sentence_ranking = [{"name": name, "confidence": c} for name, c in (sentence or diet)]
    return {"gold": gold, "predicted": predicted, "ranking": ranking, "reasons": list(reasons),
            "sentence_ranking": sentence_ranking,
            "signals": {"intent": diet[0][0]}, "router_s": router_s, "parse_s": parse_s}


RECORDS = [
    record("alarm", "alarm", [("alarm", 0.9), ("timer", 0.05)]),
    record("timer", "nlu_fallback", [("timer", 0.5), ("alarm", 0.3)], ["low_confidence"]),
    record("oos", "nlu_fallback", [("out_of_scope", 0.7), ("alarm", 0.1)], ["out_of_scope_intent"]),
    record("oos", "alarm", [("alarm", 0.8), ("timer", 0.1)], router_s=0.009,
           sentence=[("out_of_scope", 0.6), ("alarm", 0.3)]),
]


def test_a_set_has_our_figures_stock_rasas_and_diet_alone():
    figures = evaluate(RECORDS, threshold=0.6)
    assert (figures["in_scope_accuracy"], figures["oos_recall"]) == (0.5, 0.5)
    assert (figures["n_in_scope"], figures["n_oos"]) == (2, 2)
    # stock at 0.6: timer (0.5) falls back, DIET's out_of_scope is caught
    assert figures["stock_rasa"]["in_scope_accuracy"] == 0.5 and figures["stock_rasa"]["oos_recall"] == 0.5
    assert figures["stock_rasa"]["threshold"] == 0.6
    assert figures["diet_alone"]["in_scope_accuracy"] == 1.0 and figures["diet_alone"]["oos_recall"] == 0.5
    assert figures["routing_reasons"]["oos"] == {"out_of_scope_intent": 1}
    # the router's classifier alone: its top intent, here out_of_scope for the last one
    assert figures["sentence_classifier_alone"]["in_scope_accuracy"] == 1.0
    assert figures["sentence_classifier_alone"]["oos_recall"] == 1.0
    assert figures["router_ms"]["max"] == 9.0 and figures["parse_ms"]["p50"] == 20.0


def results(intents=150, command="python -m benchmarks.clinc150.run", training_seconds=1200.0):
    val = evaluate(RECORDS, threshold=0.6)
    return {
        "metadata": {
            "command": command, "data": "data.json", "started_utc": "2026-12-02T15:00:00+00:00",
            "intents": intents, "epochs": 60, "pipeline": ["WhitespaceTokenizer", "DIETClassifier",
                                                          "custom_components.llm_router.LLMRouter"],
            "router_config": {"threshold": 0.6},
            "holdout": {"per_intent": 10, "oos": 30, "seed": 42},
            "n_training_examples": {"in_scope": 13500, "oos": 70},
            "training_seconds": training_seconds,
            "router_ms": val["router_ms"], "parse_ms": val["parse_ms"],
            "stock_rasa": {"threshold": 0.6, "ambiguity_threshold": 0.1, "rule": "the rule",
                           "same_diet": "the same model."},
            "oos_counted_as": "nlu_fallback or out_of_scope",
            "machine": {"cpus": 2, "processor": "x86_64", "load_average_before": [1.0, 1, 1],
                        "load_average_after": [2.0, 1, 1]},
        },
        "holdout": evaluate(RECORDS, threshold=0.6),
        "val": val,
    }


def test_the_targets_say_met_or_missed():
    rows = {name: (measured, met) for name, _, measured, met in report.targets(results(), "val")}
    assert rows["in-scope accuracy"] == ("50.0 %", False)
    assert rows["out-of-scope recall"] == ("50.0 %", False)
    assert rows["training time (2 cores)"] == ("20.0 min", True)
    assert rows["router time per message, p95"][1] is False  # p95 of 1, 1, 1, 9 ms: 7.8 ms


def test_training_over_half_an_hour_misses_and_a_missing_set_is_na():
    slow = {name: met for name, _, _, met in report.targets(results(training_seconds=1801), "val")}
    assert slow["training time (2 cores)"] is False
    assert {met for _, _, _, met in report.targets(results(), "test")} - {True, False} == {None}


def test_the_page_has_the_command_our_figures_stock_rasa_and_the_papers_rows():
    page = report.markdown(results())
    assert "python -m benchmarks.clinc150.run" in page and "D19-1131" in page
    assert "| val | **ours**: the pipeline as is (LLMRouter) | 50.0 % | 50.0 % | 2 / 2 |" in page
    assert "threshold 0.60" in page
    for name, accuracy, recall in report.PAPER_ROWS:
        assert f"| {name} | {accuracy:.1f} % | {recall:.1f} % |" in page
    assert "**missed**" in page and "Small run" not in page
    assert "| val | `low_confidence` | 1 | 0 |" in page


@pytest.mark.parametrize("intents, command", [(20, "run"), (150, "run --epochs 3")])
def test_a_small_run_says_so(intents, command):
    small = results(intents=intents, command=command)
    assert not report.is_full_run(small)
    assert "**Small run**" in report.markdown(small)


def test_the_test_split_is_reported_when_there():
    with_test = results()
    with_test["test"] = copy.deepcopy(with_test["val"])
    page = report.markdown(with_test)
    assert "| test | **ours**" in page and "| test | in-scope accuracy |" in page
    assert "test:" in report.summary(with_test)


def test_a_model_is_reused_only_for_the_data_and_config_it_was_trained_on(tmp_path):
    from benchmarks.clinc150.run import MODEL_NAME, TRAINING_RECORD, reuse_problem

    inputs = {"nlu.yml": "nlu", "config.yml": "config"}
    assert "is not what this run would train on" in reuse_problem(tmp_path, inputs)
    for name, text in inputs.items():
        (tmp_path / name).write_text(text)
    assert "train first" in reuse_problem(tmp_path, inputs)
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / f"{MODEL_NAME}.tar.gz").write_bytes(b"model")
    (tmp_path / TRAINING_RECORD).write_text('{"seconds": 12.5}')
    assert reuse_problem(tmp_path, inputs) is None
    assert "config.yml is not what" in reuse_problem(tmp_path, {**inputs, "config.yml": "other"})


@pytest.mark.parametrize("flag, note", [
    ("retrained_changed", "trained only the components whose settings changed"),
    ("model_reused", "scored that model again"),
])
def test_a_training_time_from_an_earlier_run_says_so(flag, note):
    earlier = results()
    earlier["metadata"][flag] = True
    assert note in report.markdown(earlier)
    assert note not in report.markdown(results())
