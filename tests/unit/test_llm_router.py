"""The LLM router graph component (custom_components/llm_router.py), built,
trained, persisted and loaded the way Rasa does it, with real model storage."""
import copy
import logging
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.constants import ENTITIES, INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from custom_components.llm_router import LLMRouter

TRAINING_EXAMPLES = {
    "check_order_status": [
        "where is my order?", "has my order shipped yet?", "track my package",
        "when will my parcel arrive", "order status please",
    ],
    "cancel_order": ["cancel my order", "I want to cancel order 10001", "please cancel it"],
    "return_item": ["I want to return something", "I'd like to return my boots"],
    "greet": ["hi", "hello there", "good morning"],
    "out_of_scope": ["what's the weather like today", "tell me a joke", "who won the game"],
}
THRESHOLDS = {
    "threshold": 0.6, "ambiguity_threshold": 0.1, "min_similarity": 0.2, "knowledge_margin": 0.05,
}
# a small knowledge base of the shop's policies (none of it about orders),
# split into passages at `##` headings like the real documents
KNOWLEDGE = """# Policies

## Returns

Unworn items can be returned within {{ return_window_days }} days of delivery.
Sleeping bags that were used outdoors can only be returned when they are faulty.

## Warranty

All gear has a 2-year warranty against defects.
"""


def training_data() -> TrainingData:
    return TrainingData(
        [
            Message(data={TEXT: text, INTENT: intent})
            for intent, texts in TRAINING_EXAMPLES.items()
            for text in texts
        ]
    )


@pytest.fixture(autouse=True)
def knowledge_base(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The router reads the knowledge base of the KNOWLEDGE_BASE_DIR setting."""
    directory = tmp_path / "knowledge_base"
    directory.mkdir()
    (directory / "returns.md").write_text(KNOWLEDGE)
    monkeypatch.setenv("KNOWLEDGE_BASE_DIR", str(directory))
    return directory


@pytest.fixture
def config():
    def merged(**overrides: Any) -> Dict[str, Any]:
        # as Rasa merges a component's defaults with config.yml; the routing
        # rules are tested on the given ranking alone (no second opinion),
        # the router's classifier at the end of this file; DIET-like
        # thresholds, as the given rankings are DIET-like
        return {
            **LLMRouter.get_default_config(), **THRESHOLDS, "classifier_weight": 0.0, **overrides
        }

    return merged


@pytest.fixture
def model_storage(tmp_path: Path) -> LocalModelStorage:
    storage = tmp_path / "model_storage"
    storage.mkdir()
    return LocalModelStorage.create(storage)


@pytest.fixture
def execution_context() -> ExecutionContext:
    return ExecutionContext(GraphSchema({}), "test")


@pytest.fixture
def trained(model_storage, execution_context, config) -> Resource:
    """Trains the router and returns the resource it persisted."""
    resource = Resource("llm_router")
    router = LLMRouter.create(config(), model_storage, resource, execution_context)
    assert router.train(training_data()) is resource
    return resource


@pytest.fixture
def router(trained, model_storage, execution_context, config) -> LLMRouter:
    """The router as a Rasa server has it: loaded from model storage."""
    return LLMRouter.load(config(), model_storage, trained, execution_context)


def classified(text: str, ranking: List[tuple], order_id: Optional[str] = None) -> Message:
    """A message as the intent classifier and the entity extractor leave it."""
    intents = [{"name": name, "confidence": confidence} for name, confidence in ranking]
    entities = []
    if order_id:
        start = text.index(order_id)
        entities = [{"entity": "order_id", "start": start, "end": start + 5, "value": order_id}]
    return Message(data={TEXT: text, INTENT: dict(intents[0]) if intents else None,
                         INTENT_RANKING_KEY: intents, ENTITIES: entities})


def routing(message: Message) -> Optional[Dict[str, Any]]:
    return message.get("llm_routing")


def test_training_persists_the_similarity_data(trained, model_storage):
    with model_storage.read_from(trained) as directory:
        assert sorted(path.name for path in directory.iterdir()) == [
            f"{index}.{part}"
            for index in ("examples", "knowledge", "words")
            for part in ("idf.npy", "rows.npz", "vocabulary.json")
        ]


def test_a_confident_in_scope_message_is_left_unchanged(router):
    message = classified("where is my order?", [("check_order_status", 0.95), ("cancel_order", 0.03)])
    before = copy.deepcopy(message.data)
    router.process([message])
    assert message.get(INTENT) == before[INTENT]
    assert message.get(INTENT_RANKING_KEY) == before[INTENT_RANKING_KEY]
    assert {key: value for key, value in message.data.items() if key != "llm_routing"} == before
    assert routing(message) == {
        "route": "nlu",
        "reasons": [],
        "signals": {"intent": "check_order_status", "confidence": 0.95, "gap": 0.92,
                    "similarity": 1.0, "example_word_similarity": 1.0,
                    "knowledge_word_similarity": 0.0},
        "thresholds": THRESHOLDS,
    }


def test_the_decision_is_part_of_the_parse_data(router):
    message = classified("hi", [("greet", 0.99), ("cancel_order", 0.01)])
    router.process([message])
    assert message.as_dict(only_output_properties=True)["llm_routing"] == routing(message)


@pytest.mark.parametrize(
    "text, ranking, reasons",
    [
        ("has my order shipped", [("check_order_status", 0.45), ("greet", 0.2)], ["low_confidence"]),
        ("cancel my order", [("cancel_order", 0.62), ("check_order_status", 0.58)], ["ambiguous"]),
        ("tell me a joke", [("out_of_scope", 0.99), ("greet", 0.01)], ["out_of_scope_intent"]),
        # confident, but like nothing the assistant was trained on
        ("zzqx vvkw", [("greet", 0.97), ("cancel_order", 0.02)], ["unlike_training_data"]),
        ("你好，今天天气怎么样？", [("greet", 0.9), ("cancel_order", 0.05)], ["unlike_training_data"]),
        ("", [("greet", 0.4), ("cancel_order", 0.35)],
         ["empty_message", "low_confidence", "ambiguous", "unlike_training_data"]),
        # no intent at all: the classifier had nothing to go on
        ("where is my order?", [], ["low_confidence"]),
    ],
)
def test_messages_nlu_cannot_handle_go_to_the_llm(router, text, ranking, reasons):
    message = classified(text, ranking)
    router.process([message])
    decision = routing(message)
    assert (decision["route"], decision["reasons"]) == ("llm", reasons)
    fallback = {"name": "nlu_fallback", "confidence": 0.6}
    assert message.get(INTENT) == fallback
    original = [{"name": name, "confidence": confidence} for name, confidence in ranking]
    assert message.get(INTENT_RANKING_KEY) == [fallback] + original


def test_signals_and_thresholds_are_recorded(router):
    message = classified("你好，今天天气怎么样？", [("out_of_scope", 0.5), ("greet", 0.45)])
    router.process([message])
    assert routing(message) == {
        "route": "llm",
        "reasons": ["out_of_scope_intent", "low_confidence", "ambiguous", "unlike_training_data"],
        # no character n-gram or word of the message was seen in training
        "signals": {"intent": "out_of_scope", "confidence": 0.5, "gap": 0.05, "similarity": 0.0,
                    "example_word_similarity": 0.0, "knowledge_word_similarity": 0.0},
        "thresholds": THRESHOLDS,
    }


def test_configured_thresholds_are_used(trained, model_storage, execution_context, config):
    strict = LLMRouter.load(
        config(threshold=0.99, min_similarity=0.0), model_storage, trained, execution_context
    )
    message = classified("zzqx vvkw", [("greet", 0.97), ("cancel_order", 0.02)])
    strict.process([message])
    assert routing(message)["reasons"] == ["low_confidence"]
    assert routing(message)["thresholds"] == {
        "threshold": 0.99, "ambiguity_threshold": 0.1, "min_similarity": 0.0, "knowledge_margin": 0.05,
    }


def test_process_handles_each_message_of_a_batch(router):
    confident = classified("hello there", [("greet", 0.98), ("cancel_order", 0.01)])
    unsure = classified("hello there", [("greet", 0.3), ("cancel_order", 0.01)])
    assert router.process([confident, unsure]) == [confident, unsure]
    assert [routing(m)["route"] for m in (confident, unsure)] == ["nlu", "llm"]
    assert [m.get(INTENT)["name"] for m in (confident, unsure)] == ["greet", "nlu_fallback"]


def test_loaded_router_decides_like_the_trained_one(model_storage, execution_context, config):
    resource = Resource("llm_router")
    trained = LLMRouter.create(config(), model_storage, resource, execution_context)
    trained.train(training_data())
    loaded = LLMRouter.load(config(), model_storage, resource, execution_context)
    for text in [
        "where's my parcel", "cancel order 10002", "你好", "quantum physics", "hey",
        "can I return a sleeping bag I used outdoors?",
    ]:
        message = classified(text, [("greet", 0.9), ("cancel_order", 0.05)])
        assert loaded.route(message) == trained.route(message)


def test_load_without_persisted_data_routes_on_the_classifier_alone(
    model_storage, execution_context, config, caplog
):
    with caplog.at_level(logging.WARNING, logger="custom_components.llm_router"):
        router = LLMRouter.load(config(), model_storage, Resource("never_trained"), execution_context)
    assert caplog.messages == [
        "LLMRouter: no persisted similarity data; routing on the classifier's signals alone."
    ]
    unlike = classified("zzqx vvkw", [("greet", 0.97), ("cancel_order", 0.02)])
    unsure = classified("hello", [("greet", 0.3), ("cancel_order", 0.1)])
    router.process([unlike, unsure])
    assert (routing(unlike)["route"], routing(unlike)["signals"]["similarity"]) == ("nlu", None)
    assert routing(unsure)["reasons"] == ["low_confidence"]


def test_training_without_in_scope_examples_disables_the_similarity_signals(
    model_storage, execution_context, config, caplog
):
    resource = Resource("llm_router")
    router = LLMRouter.create(config(), model_storage, resource, execution_context)
    only_out_of_scope = TrainingData(
        [Message(data={TEXT: text, INTENT: "out_of_scope"}) for text in TRAINING_EXAMPLES["out_of_scope"]]
    )
    with caplog.at_level(logging.WARNING, logger="custom_components.llm_router"):
        assert router.train(only_out_of_scope) is resource
    assert caplog.messages == ["LLMRouter: no in-scope examples, similarity signals disabled."]
    loaded = LLMRouter.load(config(), model_storage, resource, execution_context)
    message = classified("zzqx vvkw", [("greet", 0.97), ("cancel_order", 0.02)])
    assert loaded.route(message)["route"] == "nlu"


def test_fingerprint_changes_with_the_settings(config):
    default = LLMRouter.fingerprint_addon(config())
    assert LLMRouter.fingerprint_addon(config()) == default
    changed = [
        LLMRouter.fingerprint_addon(config(threshold=0.5)),
        LLMRouter.fingerprint_addon(config(ambiguity_threshold=0.2)),
        LLMRouter.fingerprint_addon(config(min_similarity=0.3)),
        LLMRouter.fingerprint_addon(config(out_of_scope_intents=["out_of_scope", "chitchat"])),
    ]
    assert len({default, *changed}) == 5


def test_fingerprint_changes_with_the_knowledge_base(config, knowledge_base):
    before = LLMRouter.fingerprint_addon(config())
    (knowledge_base / "warranty.md").write_text("# Warranty\n\nRepairs are free for 2 years.\n")
    assert LLMRouter.fingerprint_addon(config()) != before


def test_an_order_number_alone_is_in_scope(router):
    # nothing like the training examples, but the extractor found an order number
    message = classified("40521", [("check_order_status", 0.97), ("greet", 0.01)], order_id="40521")
    router.process([message])
    assert routing(message)["route"] == "nlu"
    assert message.get(INTENT)["name"] == "check_order_status"


def test_a_policy_question_goes_to_the_knowledge_base(router):
    # reads like return_item, but a return form would not answer it
    message = classified(
        "can I return a sleeping bag I used outdoors?", [("return_item", 0.97), ("greet", 0.01)]
    )
    router.process([message])
    assert (routing(message)["route"], routing(message)["reasons"]) == ("llm", ["knowledge_question"])
    assert message.get(INTENT) == {"name": "nlu_fallback", "confidence": 0.6}


@pytest.mark.parametrize(
    "text, ranking, order_id",
    [
        # a request about a given order starts the flow
        ("can I return order 10003? the sleeping bag was used outdoors",
         [("return_item", 0.97), ("greet", 0.01)], "10003"),
        # only for the intents whose flow would not answer it
        ("sleeping bags used outdoors", [("greet", 0.97), ("return_item", 0.01)], None),
        # a request worded like the training examples
        ("I want to return my boots", [("return_item", 0.97), ("greet", 0.01)], None),
    ],
)
def test_requests_are_not_knowledge_questions(router, text, ranking, order_id):
    message = classified(text, ranking, order_id)
    assert "knowledge_question" not in router.route(message)["reasons"]


def test_without_a_knowledge_base_there_are_no_knowledge_questions(
    model_storage, execution_context, config, tmp_path, monkeypatch
):
    monkeypatch.setenv("KNOWLEDGE_BASE_DIR", str(tmp_path / "no_documents"))
    resource = Resource("llm_router")
    no_knowledge = config()
    LLMRouter.create(no_knowledge, model_storage, resource, execution_context).train(training_data())
    router = LLMRouter.load(no_knowledge, model_storage, resource, execution_context)
    message = classified(
        "can I return a sleeping bag I used outdoors?", [("return_item", 0.97), ("greet", 0.01)]
    )
    decision = router.route(message)
    assert decision["reasons"] == []
    assert (decision["signals"]["example_word_similarity"], decision["signals"]["knowledge_word_similarity"]) == (None, None)


# the router's own classifier: a second opinion on the intent -----------------

@pytest.fixture
def second_opinion(model_storage, execution_context, config) -> LLMRouter:
    """Trained with the classifier (the default config), loaded as Rasa loads it."""
    with_classifier = config(classifier_weight=0.5)
    resource = Resource("llm_router_with_classifier")
    LLMRouter.create(with_classifier, model_storage, resource, execution_context).train(training_data())
    return LLMRouter.load(with_classifier, model_storage, resource, execution_context)


def test_the_classifier_is_on_by_default_and_persisted(model_storage, execution_context):
    assert LLMRouter.get_default_config()["classifier_weight"] == 0.8
    resource = Resource("llm_router")
    LLMRouter.create(LLMRouter.get_default_config(), model_storage, resource, execution_context).train(
        training_data()
    )
    with model_storage.read_from(resource) as directory:
        assert {"classifier.intents.json", "classifier.weights.npy", "classifier.bias.npy"} <= {
            path.name for path in directory.iterdir()
        }


def test_the_second_opinion_corrects_a_wrong_first_one(second_opinion):
    # DIET would have said greet; the examples say order status
    message = classified("has my order shipped yet?", [("greet", 0.55), ("check_order_status", 0.4)])
    second_opinion.process([message])
    decision = routing(message)
    assert message.get(INTENT)["name"] == "check_order_status"
    assert message.get(INTENT_RANKING_KEY)[0] == message.get(INTENT)
    assert decision["signals"]["intent"] == "check_order_status"
    assert decision["rankings"]["intent_classifier"][0] == {"name": "greet", "confidence": 0.55}
    assert decision["rankings"]["sentence_classifier"][0]["name"] == "check_order_status"
    # the confidence is the two opinions' average
    sentence = {e["name"]: e["confidence"] for e in decision["rankings"]["sentence_classifier"]}
    assert message.get(INTENT)["confidence"] == pytest.approx(
        0.5 * 0.4 + 0.5 * sentence["check_order_status"], abs=1e-4
    )


def test_the_second_opinion_reads_dense_sentence_features(model_storage, execution_context, config):
    """Trained with a dense featurizer's sentence features, the classifier
    separates what the character n-grams alone cannot."""
    import numpy as np
    from rasa.shared.nlu.training_data.features import Features

    def with_features(message: Message, intent_axis: int) -> Message:
        vector = np.zeros((1, 4), dtype=np.float32)
        vector[0, intent_axis] = 1.0
        message.add_features(Features(vector, "sentence", TEXT, "sentence_embedding"))
        return message

    # the same words for both intents: only the dense feature tells them apart
    examples = [with_features(Message(data={TEXT: "same words", INTENT: intent}), axis)
                for intent, axis in (("greet", 0), ("cancel_order", 1)) for _ in range(5)]
    resource = Resource("dense")
    settings = config(classifier_weight=1.0)
    LLMRouter.create(settings, model_storage, resource, execution_context).train(TrainingData(examples))
    router = LLMRouter.load(settings, model_storage, resource, execution_context)
    for axis, intent in ((0, "greet"), (1, "cancel_order")):
        message = with_features(classified("same words", [("greet", 0.5), ("cancel_order", 0.5)]), axis)
        router.process([message])
        assert routing(message)["rankings"]["sentence_classifier"][0]["name"] == intent


def test_features_unlike_the_trained_ones_leave_the_first_ranking(second_opinion, caplog):
    import numpy as np
    from rasa.shared.nlu.training_data.features import Features

    message = classified("has my order shipped yet?", [("greet", 0.55), ("check_order_status", 0.4)])
    message.add_features(Features(np.ones((1, 3), dtype=np.float32), "sentence", TEXT, "new"))
    with caplog.at_level(logging.WARNING, logger="custom_components.llm_router"):
        second_opinion.process([message])
    assert "rankings" not in routing(message)
    assert routing(message)["signals"]["intent"] == "greet"
    assert "the intent classifier's ranking is used alone" in caplog.text


def test_an_empty_message_gets_no_second_opinion(second_opinion):
    message = classified("", [("greet", 0.4), ("cancel_order", 0.35)])
    second_opinion.process([message])
    assert "rankings" not in routing(message)
    assert routing(message)["route"] == "llm"


@pytest.mark.parametrize(
    "ranking, probabilities, weight, length, expected",
    [
        # each opinion weighted; an intent missing from one counts 0 there; a tie by name
        ([("a", 0.8), ("b", 0.2)], {"b": 0.6, "c": 0.4}, 0.5, 10, [("a", 0.4), ("b", 0.4), ("c", 0.2)]),
        ([("a", 0.8), ("b", 0.2)], {"b": 1.0}, 0.25, 10, [("a", 0.6), ("b", 0.4)]),
        # weight 1: the second opinion alone
        ([("a", 0.9)], {"b": 0.7, "a": 0.3}, 1.0, 10, [("b", 0.7), ("a", 0.3)]),
        # cut to the ranking length
        ([("a", 0.5), ("b", 0.3), ("c", 0.2)], {}, 0.0, 2, [("a", 0.5), ("b", 0.3)]),
    ],
)
def test_combined_ranking(ranking, probabilities, weight, length, expected):
    from custom_components.llm_router import combined_ranking

    first = [{"name": name, "confidence": confidence} for name, confidence in ranking]
    combined = combined_ranking(first, probabilities, weight, length)
    assert [(e["name"], pytest.approx(e["confidence"])) for e in combined] == [
        (name, pytest.approx(confidence)) for name, confidence in expected
    ]


@pytest.mark.parametrize("vectorizer_name", ["_char_vectorizer", "_word_vectorizer"])
def test_the_index_vectorizes_like_scikit_learn(vectorizer_name, tmp_path):
    """TfidfIndex.vector skips scikit-learn's checks for speed, not its arithmetic."""
    import numpy as np

    from custom_components import llm_router

    new_vectorizer = getattr(llm_router, vectorizer_name)
    texts = [text for examples in TRAINING_EXAMPLES.values() for text in examples]
    fitted = llm_router.TfidfIndex.fit(new_vectorizer(), texts)
    fitted.save(tmp_path, "index")
    loaded = llm_router.TfidfIndex.load(tmp_path, "index", new_vectorizer)
    messages = [
        "Where is my ORDER??", "order order order status", "cancel it, cancel it now",
        "zzz qqq", "", "   ", "I'd like to return my boots & my tent (order 10001)",
    ]
    for index in (fitted, loaded):
        for text in messages:
            expected = fitted.vectorizer.transform([text]).astype(np.float32)
            vector = index.vector(text)
            assert vector.shape == expected.shape, text
            assert vector.indices.tolist() == expected.indices.tolist(), text
            np.testing.assert_allclose(vector.data, expected.data, rtol=1e-6, err_msg=text)
