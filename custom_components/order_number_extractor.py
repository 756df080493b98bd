"""Extracts `order_id` entities: five-digit order numbers, told apart from
other numbers by their context (`custom_components/order_numbers.py`).

Replaces a bare regular expression, which took every five-digit number for an
order ("my ZIP is 04101") and missed numbers typed with look-alike letters
("1OOO8"). Needs no training and makes no network call: it is a few regular
expressions over the text, run on Rasa's event loop.
"""
from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.nlu.constants import (
    ENTITIES,
    ENTITY_ATTRIBUTE_END,
    ENTITY_ATTRIBUTE_START,
    ENTITY_ATTRIBUTE_TYPE,
    ENTITY_ATTRIBUTE_VALUE,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message

from custom_components.order_numbers import find_order_numbers

ENTITY = "order_id"


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=False
)
class OrderNumberExtractor(GraphComponent, EntityExtractorMixin):
    """Adds an `order_id` entity for each order number in the message."""

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> OrderNumberExtractor:
        return cls()

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            found = [
                {
                    ENTITY_ATTRIBUTE_TYPE: ENTITY,
                    ENTITY_ATTRIBUTE_START: number.start,
                    ENTITY_ATTRIBUTE_END: number.end,
                    ENTITY_ATTRIBUTE_VALUE: number.value,
                }
                for number in find_order_numbers(message.get(TEXT) or "")
            ]
            message.set(
                ENTITIES,
                message.get(ENTITIES, []) + self.add_extractor_name(found),
                add_to_output=True,
            )
        return messages
