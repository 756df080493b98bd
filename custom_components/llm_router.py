"""Decides per message whether NLU can handle it or the LLM fallback should.

Runs after the intent classifier. First it asks a second opinion: its own
linear classifier over the message's dense sentence features (the sentence
encoder's, custom_components/sentence_featurizer.py) and character n-grams,
trained on the same examples, `out_of_scope` included. The intent ranking
becomes the average of the two classifiers' (DIET knows the shop's words, the
sentence encoder knows paraphrases; each is wrong in different places). Then
it combines the ranking's signals (the top intent's confidence and its gap to
the runner-up) with its own:

* the `out_of_scope` intent, trained on messages the assistant can't handle;
* lexical similarity to the in-scope training examples (TF-IDF over character
  n-grams, fitted at training time and persisted through model storage): a
  message unlike anything the assistant was trained on is out of scope even
  when the classifier is confident;
* a policy question, not a request: "can I return a sleeping bag I used
  once?" reads like `return_item`, but starting a return form would not answer
  it, and "who pays return shipping from Canada?" reads like `shipping_info`,
  whose reply states the general rates. When such a message (no order number)
  is closer to a sentence of the shop's knowledge base than to any training
  example (TF-IDF over words), the knowledge base should answer it. The
  knowledge base is read by knowledge/documents.py, with the shop's facts
  filled in, exactly as the LLM fallback reads it.

When any signal fires, the intent becomes `nlu_fallback` (as with Rasa's
FallbackClassifier) and the decision with every signal and threshold is
recorded under `llm_routing` in the parse data, so that logs and evaluation
show why. Everything is local and takes 2-4 ms (CLINC150's 150 intents):
Rasa 3.6 runs this graph on the server's event loop, so no network call is
made here.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path
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
    ENTITIES,
    INTENT,
    INTENT_NAME_KEY,
    INTENT_RANKING_KEY,
    PREDICTED_CONFIDENCE_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from custom_components.linear_intent_model import LinearIntentModel
from knowledge.documents import Passage, fingerprint, knowledge_base_dir, load_passages
from knowledge.facts import load_facts

logger = logging.getLogger(__name__)

# config keys
THRESHOLD = "threshold"
AMBIGUITY_THRESHOLD = "ambiguity_threshold"
MIN_SIMILARITY = "min_similarity"
OUT_OF_SCOPE_INTENTS = "out_of_scope_intents"
KNOWLEDGE_MARGIN = "knowledge_margin"
KNOWLEDGE_QUESTION_INTENTS = "knowledge_question_intents"
CLASSIFIER_WEIGHT = "classifier_weight"
CLASSIFIER_REGULARIZATION = "classifier_regularization"
RANKING_LENGTH = "ranking_length"

ROUTING_KEY = "llm_routing"  # where the decision is recorded in the parse data
ROUTING_VERSION = "4"  # bump when the decision logic changes: retrains the model

EXAMPLES_INDEX = "examples"  # char n-grams of the in-scope training examples
WORDS_INDEX = "words"  # words of the training examples ...
KNOWLEDGE_INDEX = "knowledge"  # ... and of the knowledge base's sentences
CLASSIFIER = "classifier"  # the second opinion on the intent
RECORDED = 5  # entries of each classifier's ranking recorded with the decision


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True
)
class LLMRouter(GraphComponent, IntentClassifier):
    """Routes open-ended and out-of-scope messages to `nlu_fallback`."""

    @classmethod
    def required_components(cls) -> List[type]:
        # Must come after the intent classifier in config.yml. Not declared as
        # [IntentClassifier]: in the training graph a trainable component only
        # follows the featurizers, so Rasa would refuse to train.
        return []

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            # below this top-intent confidence (of the averaged ranking,
            # flatter than DIET's own) the message goes to the LLM
            THRESHOLD: 0.3,
            # ... and also when the top two intents are closer than this
            AMBIGUITY_THRESHOLD: 0.05,
            # ... and when no in-scope training example is at least this
            # similar (cosine of TF-IDF character n-grams, 0..1)
            MIN_SIMILARITY: 0.2,
            # intents that mean "not for the structured flows"
            OUT_OF_SCOPE_INTENTS: ["out_of_scope"],
            # a question goes to the knowledge base when its best knowledge
            # base sentence is this much more similar than its best example
            KNOWLEDGE_MARGIN: 0.05,
            # intents whose reply would not answer a policy question: the
            # forms ask for an order, the shop-fact replies state the general
            # rates, hours and payment methods ("who pays return shipping
            # from Canada?" is not "how much is shipping?")
            KNOWLEDGE_QUESTION_INTENTS: [
                "check_order_status", "cancel_order", "return_item", "human_handoff",
                "shipping_info", "store_hours", "payment_methods",
            ],
            # the router's classifier's share of the intent ranking (0: DIET's
            # ranking alone, 1: the router's classifier alone)
            CLASSIFIER_WEIGHT: 0.8,
            # inverse L2 strength of its logistic regression (scikit-learn's C)
            CLASSIFIER_REGULARIZATION: 10.0,
            # intents kept in the ranking, as DIET's ranking_length
            RANKING_LENGTH: 10,
        }

    @classmethod
    def fingerprint_addon(cls, config: Dict[str, Any]) -> Optional[str]:
        # the decision logic and the knowledge base as the router reads it
        # (facts filled in), beyond the config Rasa hashes
        directory = knowledge_base_dir()
        decision_logic = json.dumps([ROUTING_VERSION, config], sort_keys=True, default=str)
        return fingerprint(directory, load_facts(directory), decision_logic)

    def __init__(
        self,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        indexes: Optional[Dict[Text, "TfidfIndex"]] = None,
        classifier: Optional[LinearIntentModel] = None,
    ) -> None:
        self.component_config = config
        self._model_storage = model_storage
        self._resource = resource
        self._indexes = indexes or {}
        self._classifier = classifier

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
            logger.warning("LLMRouter: no in-scope examples, similarity signals disabled.")
            return self._resource

        self._indexes = {EXAMPLES_INDEX: TfidfIndex.fit(_char_vectorizer(), texts)}
        self._classifier = self._train_classifier(training_data)
        directory = knowledge_base_dir()
        sentences = knowledge_sentences(load_passages(directory, load_facts(directory)))
        if sentences:
            words = _word_vectorizer().fit(texts + sentences)
            self._indexes[WORDS_INDEX] = TfidfIndex(words, words.transform(texts).tocsr())
            self._indexes[KNOWLEDGE_INDEX] = TfidfIndex(words, words.transform(sentences).tocsr())
        self.persist()
        return self._resource

    def _train_classifier(self, training_data: TrainingData) -> Optional[LinearIntentModel]:
        examples = [example for example in training_data.intent_examples if example.get(TEXT)]
        labels = [example.get(INTENT) for example in examples]
        if self.component_config[CLASSIFIER_WEIGHT] <= 0 or len(set(labels)) < 2:
            return None
        features = scipy.sparse.vstack([self._features(example) for example in examples]).tocsr()
        return LinearIntentModel.fit(
            features, labels, self.component_config[CLASSIFIER_REGULARIZATION]
        )

    def _features(self, message: Message) -> scipy.sparse.csr_matrix:
        """The classifier's input: dense sentence features (any dense
        featurizer's) next to the character n-grams of the examples index."""
        characters = self._indexes[EXAMPLES_INDEX].vector(message.get(TEXT) or "")
        _, sentence = message.get_dense_features(TEXT)
        if sentence is None:
            return characters
        dense = np.asarray(sentence.features, dtype=np.float32).reshape(-1)
        # one row built directly: scipy's hstack was a tenth of process()
        return _csr_row(
            np.concatenate([dense, characters.data]),
            np.concatenate([np.arange(dense.size, dtype=np.int32),
                            characters.indices.astype(np.int32) + dense.size]),
            dense.size + characters.shape[1],
        )

    def persist(self) -> None:
        with self._model_storage.write_to(self._resource) as directory:
            for name, index in self._indexes.items():
                index.save(directory, name)
            if self._classifier is not None:
                self._classifier.save(directory, CLASSIFIER)

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> LLMRouter:
        indexes, classifier = {}, None
        try:
            with model_storage.read_from(resource) as directory:
                for name, vectorizer in (
                    (EXAMPLES_INDEX, _char_vectorizer), (WORDS_INDEX, _word_vectorizer),
                    (KNOWLEDGE_INDEX, _word_vectorizer),
                ):
                    if (directory / f"{name}.vocabulary.json").exists():
                        indexes[name] = TfidfIndex.load(directory, name, vectorizer)
                if LinearIntentModel.exists(directory, CLASSIFIER):
                    classifier = LinearIntentModel.load(directory, CLASSIFIER)
        except ValueError:
            pass
        if EXAMPLES_INDEX not in indexes:
            logger.warning(
                "LLMRouter: no persisted similarity data; routing on the "
                "classifier's signals alone."
            )
        return cls(config, model_storage, resource, indexes, classifier)

    # inference --------------------------------------------------------------

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            rankings = self._rerank(message)
            decision = self.route(message)
            if rankings:
                decision["rankings"] = rankings
            message.set(ROUTING_KEY, decision, add_to_output=True)
            if decision["route"] == "llm":
                _predict_fallback(message, self.component_config[THRESHOLD])
        return messages

    def _rerank(self, message: Message) -> Dict[Text, List[Dict[Text, Any]]]:
        """The intent and ranking become the two classifiers' weighted
        average; returns the two rankings it was made of (their first few)."""
        if self._classifier is None or not (message.get(TEXT) or "").strip():
            return {}
        features = self._features(message)
        if features.shape[1] != self._classifier.n_features:
            # trained with other featurizers than this pipeline has now
            logger.warning(
                "LLMRouter: %d features where the classifier was trained on %d; "
                "the intent classifier's ranking is used alone.",
                features.shape[1], self._classifier.n_features,
            )
            return {}
        probabilities = self._classifier.probabilities(features)[0]
        scores = dict(zip(self._classifier.intents, probabilities.tolist()))
        first_opinion = message.get(INTENT_RANKING_KEY) or []
        length = self.component_config[RANKING_LENGTH]
        ranking = combined_ranking(
            first_opinion, scores, self.component_config[CLASSIFIER_WEIGHT], length
        )
        message.set(INTENT, dict(ranking[0]), add_to_output=True)
        message.set(INTENT_RANKING_KEY, ranking, add_to_output=True)
        return {
            "intent_classifier": [_rounded_entry(entry) for entry in first_opinion[:RECORDED]],
            "sentence_classifier": [
                _rounded_entry(entry) for entry in combined_ranking([], scores, 1.0, RECORDED)
            ],
        }

    def route(self, message: Message) -> Dict[Text, Any]:
        """The decision and every signal behind it."""
        config = self.component_config
        intent = message.get(INTENT) or {}
        ranking = message.get(INTENT_RANKING_KEY) or []
        confidence = float(intent.get(PREDICTED_CONFIDENCE_KEY) or 0.0)
        gap = _confidence_gap(ranking)
        text = message.get(TEXT) or ""
        similarity, example_words, knowledge_words = self._similarities(
            text, (EXAMPLES_INDEX, WORDS_INDEX, KNOWLEDGE_INDEX)
        )
        knowledge_question = (
            intent.get(INTENT_NAME_KEY) in config[KNOWLEDGE_QUESTION_INTENTS]
            and not message.get(ENTITIES)
            and knowledge_words is not None
            and knowledge_words > example_words + config[KNOWLEDGE_MARGIN]
        )

        checks: List[Tuple[Text, bool]] = [
            ("empty_message", not (message.get(TEXT) or "").strip()),
            ("out_of_scope_intent", intent.get(INTENT_NAME_KEY) in config[OUT_OF_SCOPE_INTENTS]),
            ("low_confidence", confidence < config[THRESHOLD]),
            ("ambiguous", gap is not None and gap < config[AMBIGUITY_THRESHOLD]),
            # an order number alone ("40521") is in scope however it looks
            ("unlike_training_data", similarity is not None and similarity < config[MIN_SIMILARITY]
             and not message.get(ENTITIES)),
            ("knowledge_question", knowledge_question),
        ]
        reasons = [name for name, fired in checks if fired]
        return {
            "route": "llm" if reasons else "nlu",
            "reasons": reasons,
            "signals": {
                "intent": intent.get(INTENT_NAME_KEY),
                "confidence": round(confidence, 4),
                "gap": None if gap is None else round(gap, 4),
                "similarity": _rounded(similarity),
                "example_word_similarity": _rounded(example_words),
                "knowledge_word_similarity": _rounded(knowledge_words),
            },
            "thresholds": {
                THRESHOLD: config[THRESHOLD],
                AMBIGUITY_THRESHOLD: config[AMBIGUITY_THRESHOLD],
                MIN_SIMILARITY: config[MIN_SIMILARITY],
                KNOWLEDGE_MARGIN: config[KNOWLEDGE_MARGIN],
            },
        }

    def _similarities(self, text: Text, names: Tuple[Text, ...]) -> List[Optional[float]]:
        """Best cosine per index (None: no such index); the text is
        vectorized once per vocabulary (the words and knowledge indexes share one)."""
        vectors: Dict[int, scipy.sparse.csr_matrix] = {}
        similarities: List[Optional[float]] = []
        for name in names:
            index = self._indexes.get(name)
            if index is None:
                similarities.append(None)
                continue
            key = index.vocabulary_key
            if key not in vectors:
                vectors[key] = index.vector(text)
            similarities.append(index.max_similarity_of(vectors[key]))
        return similarities


class TfidfIndex:
    """A fitted TF-IDF vectorizer and the L2-normalised rows it was fitted on,
    stored as plain JSON/NumPy files (no pickles in the model archive)."""

    def __init__(self, vectorizer: TfidfVectorizer, rows: scipy.sparse.csr_matrix) -> None:
        self.vectorizer = vectorizer
        self.rows = rows
        # by term: a message's few terms pick their columns, instead of a
        # product with every row (12x faster on CLINC150's 15,000 examples)
        self._by_term = rows.tocsc()
        # indexes with the same terms and weights take the same vectors
        self.vocabulary_key = hash(vectorizer.idf_.tobytes())
        self._last: Tuple[Optional[Text], Optional[scipy.sparse.csr_matrix]] = (None, None)
        # vectorizer.transform's arithmetic without its checks and
        # conversions, which were most of its time on one short message
        self._analyze = vectorizer.build_analyzer()
        self._columns: Dict[Text, int] = (
            getattr(vectorizer, "vocabulary_", None) or vectorizer.vocabulary
        )
        self._idf = np.asarray(vectorizer.idf_, dtype=np.float64)

    @classmethod
    def fit(cls, vectorizer: TfidfVectorizer, texts: List[Text]) -> "TfidfIndex":
        rows = vectorizer.fit_transform(texts).tocsr()
        return cls(vectorizer, rows)

    def vector(self, text: Text) -> scipy.sparse.csr_matrix:
        # the classifier and the similarity check ask for the same message's
        last_text, last_vector = self._last
        if text != last_text:
            last_vector = self._transform(text)
            self._last = (text, last_vector)
        return last_vector

    def _transform(self, text: Text) -> scipy.sparse.csr_matrix:
        """vectorizer.transform([text]) as float32 (sublinear term
        frequencies times idf, unit length; tests/unit/test_llm_router.py
        checks it against scikit-learn's)."""
        counts: Dict[int, int] = {}
        for term in self._analyze(text):
            column = self._columns.get(term)
            if column is not None:
                counts[column] = counts.get(column, 0) + 1
        columns = np.array(sorted(counts), dtype=np.int32)
        values = np.log(np.array([counts[c] for c in columns], dtype=np.float64)) + 1.0
        values *= self._idf[columns]
        norm = np.sqrt(values @ values)
        if norm > 0:
            values /= norm
        return _csr_row(values.astype(np.float32), columns, len(self._idf))

    def max_similarity(self, text: Text) -> float:
        return self.max_similarity_of(self.vector(text))

    def max_similarity_of(self, vector: scipy.sparse.csr_matrix) -> float:
        if vector.nnz == 0:
            return 0.0
        # rows are unit length: cosine
        return float((self._by_term[:, vector.indices] @ vector.data).max())

    def save(self, directory: Path, name: Text) -> None:
        vocabulary = {term: int(i) for term, i in self.vectorizer.vocabulary_.items()}
        (directory / f"{name}.vocabulary.json").write_text(json.dumps(vocabulary))
        np.save(directory / f"{name}.idf.npy", self.vectorizer.idf_)
        scipy.sparse.save_npz(directory / f"{name}.rows.npz", self.rows)

    @classmethod
    def load(cls, directory: Path, name: Text, new_vectorizer) -> "TfidfIndex":
        vectorizer = new_vectorizer(json.loads((directory / f"{name}.vocabulary.json").read_text()))
        vectorizer.idf_ = np.load(directory / f"{name}.idf.npy")
        return cls(vectorizer, scipy.sparse.load_npz(directory / f"{name}.rows.npz").tocsr())


def _csr_row(values: np.ndarray, columns: np.ndarray, width: int) -> scipy.sparse.csr_matrix:
    """A one-row matrix from its non-zero entries (columns in order)."""
    return scipy.sparse.csr_matrix(
        (values, columns, np.array([0, len(columns)], dtype=np.int32)), shape=(1, width)
    )


def _char_vectorizer(vocabulary: Optional[Dict[Text, int]] = None) -> TfidfVectorizer:
    return TfidfVectorizer(
        analyzer="char_wb", ngram_range=(2, 4), lowercase=True,
        sublinear_tf=True, vocabulary=vocabulary,
    )


def _word_vectorizer(vocabulary: Optional[Dict[Text, int]] = None) -> TfidfVectorizer:
    return TfidfVectorizer(
        analyzer="word", ngram_range=(1, 2), lowercase=True, stop_words="english",
        sublinear_tf=True, vocabulary=vocabulary,
    )


def knowledge_sentences(passages: List[Passage]) -> List[Text]:
    """What a policy question is compared with: each document's title, then
    its sections' headings and sentences (a word or two matches too much)."""
    texts: List[Text] = []
    for index, passage in enumerate(passages):
        if index == 0 or passages[index - 1].source != passage.source:
            texts.append(passage.document)
        texts += [passage.heading, *passage.sentences]
    return [text for text in texts if len(text) > 3]


def _rounded_entry(entry: Dict[Text, Any]) -> Dict[Text, Any]:
    confidence = float(entry.get(PREDICTED_CONFIDENCE_KEY) or 0.0)
    return {INTENT_NAME_KEY: entry.get(INTENT_NAME_KEY), PREDICTED_CONFIDENCE_KEY: round(confidence, 4)}


def _rounded(value: Optional[float]) -> Optional[float]:
    return None if value is None else round(value, 4)


def _confidence_gap(ranking: List[Dict[Text, Any]]) -> Optional[float]:
    if len(ranking) < 2:
        return None
    return float(ranking[0].get(PREDICTED_CONFIDENCE_KEY, 0.0)) - float(
        ranking[1].get(PREDICTED_CONFIDENCE_KEY, 0.0)
    )


def combined_ranking(
    ranking: List[Dict[Text, Any]],
    probabilities: Dict[Text, float],
    weight: float,
    length: int,
) -> List[Dict[Text, Any]]:
    """`weight` of `probabilities` and the rest of `ranking` (intents missing
    from either count as 0 there), best first, the first `length`."""
    scores = {intent: weight * p for intent, p in probabilities.items()}
    for entry in ranking:
        name = entry.get(INTENT_NAME_KEY)
        confidence = float(entry.get(PREDICTED_CONFIDENCE_KEY) or 0.0)
        scores[name] = scores.get(name, 0.0) + (1.0 - weight) * confidence
    best = sorted(scores.items(), key=lambda item: (-item[1], item[0]))[:length]
    return [{INTENT_NAME_KEY: name, PREDICTED_CONFIDENCE_KEY: score} for name, score in best]


def _predict_fallback(message: Message, confidence: float) -> None:
    # same shape as Rasa's FallbackClassifier, so `rasa test nlu` can undo it
    fallback = {INTENT_NAME_KEY: DEFAULT_NLU_FALLBACK_INTENT_NAME, PREDICTED_CONFIDENCE_KEY: confidence}
    message.data[INTENT] = dict(fallback)
    message.data.setdefault(INTENT_RANKING_KEY, [])
    message.data[INTENT_RANKING_KEY].insert(0, dict(fallback))
