"""Decides per message whether NLU can handle it or the LLM fallback should.

Runs after the intent classifier. It combines Rasa's own signals (the top
intent's confidence and its gap to the runner-up) with two of its own:

* the `out_of_scope` intent, trained on messages the assistant can't handle;
* lexical similarity to the in-scope training examples (TF-IDF over character
  n-grams, fitted at training time and persisted through model storage): a
  message unlike anything the assistant was trained on is out of scope even
  when the classifier is confident.

When any signal fires, the intent becomes `nlu_fallback` (as with Rasa's
FallbackClassifier) and the decision with every signal and threshold is
recorded under `llm_routing` in the parse data, so that logs and evaluation
show why. Everything is local and takes well under a millisecond: Rasa 3.6
runs this graph on the server's event loop, so no network call is made here.
"""
from __future__ import annotations

import hashlib
import json
import logging
from typing import Any, Dict, List, Optional, Text, Tuple

import numpy as np
import scipy.sparse
from sklearn.feature_extraction.text import TfidfVectorizer

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.constants import DEFAULT_NLU_FALLBACK_INTENT_NAME
from rasa.shared.nlu.constants import (
    INTENT,
    INTENT_NAME_KEY,
    INTENT_RANKING_KEY,
    PREDICTED_CONFIDENCE_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

logger = logging.getLogger(__name__)

# config keys
THRESHOLD = "threshold"
AMBIGUITY_THRESHOLD = "ambiguity_threshold"
MIN_SIMILARITY = "min_similarity"
OUT_OF_SCOPE_INTENTS = "out_of_scope_intents"

ROUTING_KEY = "llm_routing"  # where the decision is recorded in the parse data
ROUTING_VERSION = "1"  # bump when the decision logic changes: retrains the model

VOCABULARY_FILE = "vocabulary.json"
IDF_FILE = "idf.npy"
EXAMPLES_FILE = "examples.npz"


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True
)
class LLMRouter(GraphComponent, IntentClassifier):
    """Routes open-ended and out-of-scope messages to `nlu_fallback`."""

    @classmethod
    def required_components(cls) -> List[type]:
        return [IntentClassifier]

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            # below this top-intent confidence the message goes to the LLM
            THRESHOLD: 0.6,
            # ... and also when the top two intents are closer than this
            AMBIGUITY_THRESHOLD: 0.1,
            # ... and when no in-scope training example is at least this
            # similar (cosine of TF-IDF character n-grams, 0..1)
            MIN_SIMILARITY: 0.2,
            # intents that mean "not for the structured flows"
            OUT_OF_SCOPE_INTENTS: ["out_of_scope"],
        }

    @classmethod
    def fingerprint_addon(cls, config: Dict[str, Any]) -> Optional[str]:
        # the decision logic itself, beyond the config Rasa already hashes
        return hashlib.sha256(
            json.dumps([ROUTING_VERSION, config], sort_keys=True, default=str).encode()
        ).hexdigest()

    def __init__(
        self,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        vectorizer: Optional[TfidfVectorizer] = None,
        examples: Optional[scipy.sparse.csr_matrix] = None,
    ) -> None:
        self.component_config = config
        self._model_storage = model_storage
        self._resource = resource
        self._vectorizer = vectorizer
        self._examples = examples  # L2-normalised TF-IDF rows of in-scope examples

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> LLMRouter:
        return cls(config, model_storage, resource)

    # training ---------------------------------------------------------------

    def train(self, training_data: TrainingData) -> Resource:
        out_of_scope = set(self.component_config[OUT_OF_SCOPE_INTENTS])
        texts = [
            example.get(TEXT)
            for example in training_data.intent_examples
            if example.get(INTENT) not in out_of_scope and example.get(TEXT)
        ]
        if not texts:
            logger.warning("LLMRouter: no in-scope examples, similarity signal disabled.")
            return self._resource

        self._vectorizer = _new_vectorizer()
        self._examples = self._vectorizer.fit_transform(texts).tocsr()
        self.persist()
        return self._resource

    def persist(self) -> None:
        with self._model_storage.write_to(self._resource) as directory:
            (directory / VOCABULARY_FILE).write_text(
                json.dumps({term: int(i) for term, i in self._vectorizer.vocabulary_.items()})
            )
            np.save(directory / IDF_FILE, self._vectorizer.idf_)
            scipy.sparse.save_npz(directory / EXAMPLES_FILE, self._examples)

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> LLMRouter:
        try:
            with model_storage.read_from(resource) as directory:
                vocabulary = json.loads((directory / VOCABULARY_FILE).read_text())
                vectorizer = _new_vectorizer(vocabulary)
                vectorizer.idf_ = np.load(directory / IDF_FILE)
                examples = scipy.sparse.load_npz(directory / EXAMPLES_FILE).tocsr()
        except (ValueError, FileNotFoundError):
            logger.warning(
                "LLMRouter: no persisted similarity data; routing on the "
                "classifier's signals alone."
            )
            return cls(config, model_storage, resource)
        return cls(config, model_storage, resource, vectorizer, examples)

    # inference --------------------------------------------------------------

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            decision = self.route(message)
            message.set(ROUTING_KEY, decision, add_to_output=True)
            if decision["route"] == "llm":
                _predict_fallback(message, self.component_config[THRESHOLD])
        return messages

    def route(self, message: Message) -> Dict[Text, Any]:
        """The decision and every signal behind it."""
        config = self.component_config
        intent = message.get(INTENT) or {}
        ranking = message.get(INTENT_RANKING_KEY) or []
        confidence = float(intent.get(PREDICTED_CONFIDENCE_KEY) or 0.0)
        gap = _confidence_gap(ranking)
        similarity = self._max_similarity(message.get(TEXT) or "")

        checks: List[Tuple[Text, bool]] = [
            ("empty_message", not (message.get(TEXT) or "").strip()),
            ("out_of_scope_intent", intent.get(INTENT_NAME_KEY) in config[OUT_OF_SCOPE_INTENTS]),
            ("low_confidence", confidence < config[THRESHOLD]),
            ("ambiguous", gap is not None and gap < config[AMBIGUITY_THRESHOLD]),
            ("unlike_training_data", similarity is not None and similarity < config[MIN_SIMILARITY]),
        ]
        reasons = [name for name, fired in checks if fired]
        return {
            "route": "llm" if reasons else "nlu",
            "reasons": reasons,
            "signals": {
                "intent": intent.get(INTENT_NAME_KEY),
                "confidence": round(confidence, 4),
                "gap": None if gap is None else round(gap, 4),
                "similarity": None if similarity is None else round(similarity, 4),
            },
            "thresholds": {
                THRESHOLD: config[THRESHOLD],
                AMBIGUITY_THRESHOLD: config[AMBIGUITY_THRESHOLD],
                MIN_SIMILARITY: config[MIN_SIMILARITY],
            },
        }

    def _max_similarity(self, text: Text) -> Optional[float]:
        if self._vectorizer is None or self._examples is None:
            return None
        vector = self._vectorizer.transform([text])
        if vector.nnz == 0:
            return 0.0
        # rows are L2-normalised, so the dot product is the cosine similarity
        return float((self._examples @ vector.T).max())


def _new_vectorizer(vocabulary: Optional[Dict[Text, int]] = None) -> TfidfVectorizer:
    return TfidfVectorizer(
        analyzer="char_wb", ngram_range=(2, 4), lowercase=True,
        sublinear_tf=True, vocabulary=vocabulary,
    )


def _confidence_gap(ranking: List[Dict[Text, Any]]) -> Optional[float]:
    if len(ranking) < 2:
        return None
    return float(ranking[0].get(PREDICTED_CONFIDENCE_KEY, 0.0)) - float(
        ranking[1].get(PREDICTED_CONFIDENCE_KEY, 0.0)
    )


def _predict_fallback(message: Message, confidence: float) -> None:
    # same shape as Rasa's FallbackClassifier, so `rasa test nlu` can undo it
    fallback = {INTENT_NAME_KEY: DEFAULT_NLU_FALLBACK_INTENT_NAME, PREDICTED_CONFIDENCE_KEY: confidence}
    message.data[INTENT] = dict(fallback)
    message.data.setdefault(INTENT_RANKING_KEY, [])
    message.data[INTENT_RANKING_KEY].insert(0, dict(fallback))
