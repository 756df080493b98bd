"""benchmarks.clinc150.dataset: splits, the holdout, Rasa's training data and
the NLU-only config, on small hand-made splits."""
from collections import Counter

import pytest
import yaml
from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLReader

from benchmarks.clinc150 import dataset
from tests.conftest import PROJECT_ROOT


def rows(intent, count, prefix=None):
    return [[f"{prefix or intent} example {i}", intent] for i in range(count)]


RAW = {
    "train": rows("b_intent", 5) + rows("a_intent", 5) + rows("c_intent", 5),
    "val": rows("a_intent", 2) + rows("c_intent", 2),
    "oos_train": rows("oos", 6),
    "oos_val": rows("oos", 3),
    "train_small": rows("a_intent", 1),  # the original file's variants are ignored
}


def test_read_splits_keeps_the_known_splits_as_tuples():
    splits = dataset.read_splits(RAW)
    assert set(splits) == {"train", "val", "oos_train", "oos_val"}
    assert splits["train"][0] == ("b_intent example 0", "b_intent")
    assert dataset.evaluation_sets(splits) == ["val"]


def test_test_is_evaluated_only_with_both_halves():
    assert dataset.evaluation_sets(dataset.read_splits({**RAW, "test": rows("a_intent", 1)})) == ["val"]
    both = dataset.read_splits({**RAW, "test": rows("a_intent", 1), "oos_test": rows("oos", 1)})
    assert dataset.evaluation_sets(both) == ["val", "test"]


@pytest.mark.parametrize("raw", [
    {"train": RAW["train"]},  # no oos_train
    {**RAW, "val": [["only text"]]},
    {**RAW, "val": [["two\nlines", "a_intent"]]},
    {**RAW, "val": [["   ", "a_intent"]]},
])
def test_read_splits_refuses_what_it_cannot_train_or_score(raw):
    with pytest.raises(ValueError):
        dataset.read_splits(raw)


def test_the_first_n_intents_are_the_first_by_name_with_every_oos_example():
    splits = dataset.select_intents(dataset.read_splits(RAW), 2)
    assert dataset.intents(splits["train"]) == ["a_intent", "b_intent"]
    assert {intent for _, intent in splits["val"]} == {"a_intent"}
    assert len(splits["oos_train"]) == 6 and len(splits["oos_val"]) == 3
    assert dataset.select_intents(dataset.read_splits(RAW), None)["train"] == dataset.read_splits(RAW)["train"]
    with pytest.raises(ValueError):
        dataset.select_intents(dataset.read_splits(RAW), 4)


def test_the_holdout_takes_the_same_number_of_every_intent_and_nothing_twice():
    examples = dataset.read_splits(RAW)["train"]
    rest, holdout = dataset.stratified_holdout(examples, 2, seed=42)
    assert Counter(intent for _, intent in holdout) == {"a_intent": 2, "b_intent": 2, "c_intent": 2}
    assert sorted(rest + holdout) == sorted(examples) and not set(rest) & set(holdout)
    # both keep the input's order
    assert rest == [row for row in examples if row in rest]
    assert holdout == [row for row in examples if row in holdout]


def test_the_holdout_depends_on_the_seed_only():
    examples = [(f"text {i}", "x") for i in range(50)]
    assert dataset.stratified_holdout(examples, 10, 1) == dataset.stratified_holdout(examples, 10, 1)
    assert dataset.stratified_holdout(examples, 10, 1)[1] != dataset.stratified_holdout(examples, 10, 2)[1]


def test_an_intent_must_keep_something_to_train_on():
    with pytest.raises(ValueError, match="a_intent"):
        dataset.stratified_holdout([("t1", "a_intent"), ("t2", "a_intent")], 2, seed=0)


TRICKY = [
    ("is there a travel alert for [country]", "travel_alert"),
    ("remind me in (x) hours", "reminder"),
    ('how do they say "who is your father" in german', "translate"),
    ("i need to know chase banks routing #", "routing"),
    ("make a reservation at 2:00pm - for 4: thanks", "accept_reservations"),
    ("how much is an overdraft fee for bank", "oos"),
    ("a show on broadway", "oos"),
]


def test_rasa_reads_the_training_data_back_unchanged_with_oos_as_out_of_scope():
    data = RasaYAMLReader().reads(dataset.nlu_yaml(TRICKY))
    read = [(m.get("text"), m.get("intent")) for m in data.intent_examples]
    assert read == [(text, dataset.training_intent(intent)) for text, intent in TRICKY]
    assert ("a show on broadway", "out_of_scope") in read
    assert not any(m.get("entities") for m in data.intent_examples)


@pytest.mark.parametrize("text", ["book [paris](city) please", "a [b]{\"entity\": \"c\"}", "two\nlines"])
def test_texts_rasa_would_read_differently_are_refused(text):
    with pytest.raises(ValueError):
        dataset.nlu_yaml([(text, "x")])


CONFIG = {
    "recipe": "default.v1", "language": "en", "assistant_id": "pine",
    "pipeline": [{"name": "WhitespaceTokenizer"}, {"name": "DIETClassifier", "epochs": 60},
                 {"name": "custom_components.llm_router.LLMRouter", "threshold": 0.6}],
    "policies": [{"name": "RulePolicy"}],
}


def test_the_nlu_config_is_the_pipeline_without_policies():
    nlu = dataset.nlu_config(CONFIG)
    assert nlu == {key: value for key, value in CONFIG.items() if key != "policies"}


def test_epochs_replace_diets_and_leave_the_project_config_alone():
    nlu = dataset.nlu_config(CONFIG, epochs=3)
    assert nlu["pipeline"][1] == {"name": "DIETClassifier", "epochs": 3}
    assert CONFIG["pipeline"][1]["epochs"] == 60
    with pytest.raises(ValueError):
        dataset.nlu_config({**CONFIG, "pipeline": [{"name": "WhitespaceTokenizer"}]}, epochs=3)
    with pytest.raises(ValueError):
        dataset.nlu_config({"recipe": "default.v1", "policies": []})


def test_the_project_config_gives_an_nlu_config_with_the_router():
    nlu = dataset.nlu_config(yaml.safe_load((PROJECT_ROOT / "config.yml").read_text()))
    names = [component["name"] for component in nlu["pipeline"]]
    assert "policies" not in nlu and nlu["language"] == "en" and nlu["recipe"] == "default.v1"
    assert names.index("DIETClassifier") < names.index("custom_components.llm_router.LLMRouter")
