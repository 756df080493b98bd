"""The router's logistic regression (custom_components/linear_intent_model.py):
the same probabilities as scikit-learn's, stored without pickles."""
import numpy as np
import pytest
import scipy.sparse
from sklearn.linear_model import LogisticRegression

from custom_components.linear_intent_model import LinearIntentModel


def blobs(classes: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(classes, 6)) * 3
    labels = [f"intent_{i}" for i in range(classes) for _ in range(20)]
    features = np.vstack([centres[i] + rng.normal(size=(20, 6)) for i in range(classes)])
    return features, labels


@pytest.mark.parametrize("classes", [2, 3, 7])
def test_probabilities_are_scikit_learns(classes):
    features, labels = blobs(classes)
    model = LinearIntentModel.fit(features, labels, regularization=10.0)
    reference = LogisticRegression(C=10.0, max_iter=3000, random_state=42).fit(
        features, [model.intents.index(label) for label in labels]
    )
    assert model.intents == sorted(set(labels))
    np.testing.assert_allclose(
        model.probabilities(features), reference.predict_proba(features), atol=1e-4
    )
    assert model.n_features == 6


def test_sparse_features_give_the_same_probabilities_as_dense_ones():
    features, labels = blobs(3)
    model = LinearIntentModel.fit(scipy.sparse.csr_matrix(features), labels, regularization=1.0)
    np.testing.assert_allclose(
        model.probabilities(scipy.sparse.csr_matrix(features[:5])),
        model.probabilities(features[:5]), rtol=1e-6,
    )
    assert np.allclose(model.probabilities(features).sum(axis=1), 1.0)


def test_a_saved_model_loads_unchanged(tmp_path):
    features, labels = blobs(4)
    model = LinearIntentModel.fit(features, labels, regularization=10.0)
    assert not LinearIntentModel.exists(tmp_path, "classifier")
    model.save(tmp_path, "classifier")
    assert LinearIntentModel.exists(tmp_path, "classifier")
    loaded = LinearIntentModel.load(tmp_path, "classifier")
    assert loaded.intents == model.intents
    np.testing.assert_array_equal(loaded.probabilities(features), model.probabilities(features))
    assert {p.suffix for p in tmp_path.iterdir()} == {".json", ".npy"}  # no pickles


def test_one_intent_is_not_a_classifier():
    with pytest.raises(ValueError, match="at least two intents"):
        LinearIntentModel.fit(np.ones((3, 2)), ["greet"] * 3, regularization=1.0)
