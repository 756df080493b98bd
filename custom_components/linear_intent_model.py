"""A multinomial logistic regression over a message's features, for the router.

Fitted with scikit-learn at training time; stored as plain NumPy arrays and
JSON (no pickles in the model archive) and applied with one sparse-dense
product at run time, well under a millisecond per message.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import List, Sequence, Text, Union

import numpy as np
import scipy.sparse

Matrix = Union[np.ndarray, scipy.sparse.spmatrix]


@dataclass
class LinearIntentModel:
    intents: List[Text]
    weights: np.ndarray  # (features, intents), float32
    bias: np.ndarray  # (intents,)

    @classmethod
    def fit(
        cls, features: Matrix, labels: Sequence[Text], regularization: float, seed: int = 42
    ) -> "LinearIntentModel":
        from sklearn.linear_model import LogisticRegression

        intents = sorted(set(labels))
        if len(intents) < 2:
            raise ValueError("a classifier needs at least two intents")
        index = {intent: i for i, intent in enumerate(intents)}
        model = LogisticRegression(C=regularization, max_iter=3000, random_state=seed)
        model.fit(features, np.array([index[label] for label in labels]))
        weights, bias = model.coef_.T, model.intercept_
        if len(intents) == 2:
            # scikit-learn keeps one column for two classes, the second's log
            # odds: as softmax logits that is (0, w.x + b)
            weights = np.hstack([np.zeros_like(weights), weights])
            bias = np.concatenate([[0.0], bias])
        return cls(
            intents,
            np.ascontiguousarray(weights, dtype=np.float32),
            np.asarray(bias, dtype=np.float32),
        )

    @property
    def n_features(self) -> int:
        return int(self.weights.shape[0])

    def probabilities(self, features: Matrix) -> np.ndarray:
        """(messages, intents): each row sums to one."""
        logits = np.asarray(features @ self.weights) + self.bias
        logits = np.exp(logits - logits.max(axis=1, keepdims=True))
        return logits / logits.sum(axis=1, keepdims=True)

    def save(self, directory: Path, name: Text) -> None:
        (directory / f"{name}.intents.json").write_text(json.dumps(self.intents))
        np.save(directory / f"{name}.weights.npy", self.weights)
        np.save(directory / f"{name}.bias.npy", self.bias)

    @classmethod
    def exists(cls, directory: Path, name: Text) -> bool:
        return (directory / f"{name}.intents.json").exists()

    @classmethod
    def load(cls, directory: Path, name: Text) -> "LinearIntentModel":
        return cls(
            json.loads((directory / f"{name}.intents.json").read_text()),
            np.load(directory / f"{name}.weights.npy"),
            np.load(directory / f"{name}.bias.npy"),
        )
