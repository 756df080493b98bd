"""The domain's responses with the shop's facts filled in.

A response states a fact as a response variable, `{support_phone}`, and
this generator fills it from knowledge_base/facts.yml (knowledge/facts.py),
the same facts the documents and the actions state. endpoints.yml selects it:

    nlg:
      type: nlg.shop_facts.ShopFactsNaturalLanguageGenerator

Rasa 3.6 builds a custom generator as `cls(endpoint_config=..., domain=...)`
(rasa/core/nlg/generator.py) and, being a TemplatedNaturalLanguageGenerator,
it gets the responses of each model it loads. Commands that ignore
endpoints.yml (`rasa test core`) say the responses with the variables unfilled;
they compare actions, not texts.
"""
from pathlib import Path
from typing import Any, Dict, Optional, Text, Tuple

from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.utils.endpoints import EndpointConfig

from knowledge.documents import knowledge_base_dir
from knowledge.facts import facts_file, load_facts


def facts_file_signature(directory: Path) -> Optional[Tuple[int, int]]:
    path = facts_file(directory)
    if not path.is_file():
        return None
    stat = path.stat()
    return stat.st_size, stat.st_mtime_ns


class ShopFactsNaturalLanguageGenerator(TemplatedNaturalLanguageGenerator):
    """Responses with the shop's facts as variables next to the slots; a slot
    or a variable the action passes wins over a fact of the same name."""

    def __init__(
        self,
        endpoint_config: Optional[EndpointConfig] = None,
        domain: Optional[Domain] = None,
        **kwargs: Any,
    ) -> None:
        super().__init__((domain or Domain.empty()).responses)
        self._directory = knowledge_base_dir()
        self._facts: Dict[Text, Text] = {}
        self._signature: Optional[Tuple[int, int]] = None
        self._loaded = False

    def facts(self) -> Dict[Text, Text]:
        """The facts, read again when the file changed (a stat per response,
        not a read: responses are said on the server's event loop)."""
        signature = facts_file_signature(self._directory)
        if not self._loaded or signature != self._signature:
            self._facts = load_facts(self._directory)
            self._signature, self._loaded = signature, True
        return self._facts

    def _fill_response(
        self,
        response: Dict[Text, Any],
        filled_slots: Optional[Dict[Text, Any]] = None,
        **kwargs: Any,
    ) -> Dict[Text, Any]:
        variables = {**self.facts(), **(filled_slots or {})}
        return super()._fill_response(response, variables, **kwargs)
