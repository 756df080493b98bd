"""all-MiniLM-L6-v2 in NumPy (custom_components/sentence_encoder.py) and its
featurizer (custom_components/sentence_featurizer.py). The numbers themselves
are checked against Transformers in tests/integration/test_sentence_encoder_reference.py."""
import numpy as np
import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.shared.nlu.constants import INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from custom_components import sentence_encoder
from custom_components.sentence_encoder import SentenceEncoder
from custom_components.sentence_featurizer import SentenceEmbeddingFeaturizer


@pytest.fixture(scope="module")
def encoder() -> SentenceEncoder:
    return SentenceEncoder.packaged()


def test_vectors_are_unit_length_and_384_wide(encoder):
    vectors = encoder.encode(["where is my order?", "hi", "a " * 400])  # the last one is cut
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_paraphrases_are_closer_than_other_requests(encoder):
    order, parcel, refund, joke = encoder.encode([
        "where is my order?", "has my parcel shipped yet", "I want my money back", "tell me a joke",
    ])
    assert order @ parcel > order @ refund > order @ joke - 0.2
    assert order @ parcel > 0.5 > order @ joke


def test_a_message_gets_the_same_vector_alone_and_in_a_padded_batch(encoder):
    texts = ["ok", "can I return a sleeping bag I used outdoors last summer?", "cancel order 40521"]
    together = encoder.encode(texts, batch_size=3)
    alone = np.vstack([encoder.encode([text]) for text in texts])
    np.testing.assert_allclose(together, alone, atol=1e-5)


def test_no_texts_no_vectors(encoder):
    assert encoder.encode([]).shape == (0, 384)


def test_erf_is_accurate_to_a_millionth():
    from scipy.special import erf

    x = np.linspace(-6, 6, 20001, dtype=np.float32)
    assert np.abs(sentence_encoder._erf(x) - erf(x.astype(np.float64))).max() < 1e-6


def test_a_missing_model_package_says_what_to_install(monkeypatch):
    monkeypatch.setattr(sentence_encoder, "MODEL_PACKAGE", "no_such_model_package")
    with pytest.raises(FileNotFoundError, match="pip install -r requirements/rasa.txt"):
        sentence_encoder.packaged_model_dir()


def featurizer(encoder, **config) -> SentenceEmbeddingFeaturizer:
    settings = {**SentenceEmbeddingFeaturizer.get_default_config(), "alias": "sentence_embedding", **config}
    return SentenceEmbeddingFeaturizer(settings, "test", encoder)


def test_the_featurizer_adds_sentence_features_to_messages_with_text(encoder):
    with_text = Message(data={TEXT: "where is my order?"})
    without = Message(data={INTENT: "greet"})
    featurizer(encoder).process([with_text, without])
    sequence, sentence = with_text.get_dense_features(TEXT)
    assert sequence is None
    assert sentence.features.shape == (1, 384)
    assert [(f.type, f.origin) for f in with_text.features] == [("sentence", "sentence_embedding")]
    np.testing.assert_allclose(sentence.features[0], encoder.encode(["where is my order?"])[0], atol=1e-6)
    assert without.features == []


def test_training_data_is_featurized_in_batches(encoder):
    texts = [f"order number {n}" for n in range(7)]
    data = TrainingData([Message(data={TEXT: text, INTENT: "check_order_status"}) for text in texts])
    featurizer(encoder, batch_size=3).process_training_data(data)
    vectors = np.vstack([m.get_dense_features(TEXT)[1].features for m in data.training_examples])
    np.testing.assert_allclose(vectors, encoder.encode(texts), atol=1e-5)


def test_the_featurizer_is_created_as_rasa_creates_it():
    created = SentenceEmbeddingFeaturizer.create(
        SentenceEmbeddingFeaturizer.get_default_config(), None, None,
        ExecutionContext(GraphSchema({}), "test", node_name="run_sentence_embedding"),
    )
    message = Message(data={TEXT: "hello"})
    created.process([message])
    assert [f.origin for f in message.features] == ["run_sentence_embedding"]


def test_a_batch_size_below_one_is_refused():
    with pytest.raises(ValueError, match="batch_size must be at least 1"):
        SentenceEmbeddingFeaturizer.validate_config({"batch_size": 0})
