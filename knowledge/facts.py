"""The shop's facts, each named once: `facts.yml` in the knowledge base folder
(phone number, hours, refund time, shipping rates, ...), plus the return
window, which is the RETURN_WINDOW_DAYS setting because the order rules
apply it (actions/order_policy.py).

Documents write a fact as `{{ name }}` (`render`); the domain's responses as
the response variable `{name}` (nlg/shop_facts.py); the actions read them with
`load_facts`. So a fact changes in one place, and the bot never contradicts
itself.
"""
import re
from pathlib import Path
from typing import Dict, Mapping

import yaml

from settings.defaults import setting

FACTS_FILE_NAME = "facts.yml"
RETURN_WINDOW_DAYS = "return_window_days"  # the fact the setting decides
FACT_NAME = re.compile(r"[a-z][a-z0-9_]*")
PLACEHOLDER = re.compile(r"\{\{([^{}\n]*)\}\}")


class FactsError(ValueError):
    """A facts file or a placeholder that can't be used; the message names
    the file and the fact."""


def facts_file(directory: Path) -> Path:
    return Path(directory) / FACTS_FILE_NAME


def return_window_days() -> int:
    """The return window, from the RETURN_WINDOW_DAYS setting: the one place
    that decides it, for the order rules and for every text that states it."""
    value = setting("RETURN_WINDOW_DAYS")
    try:
        days = int(value)
    except ValueError:
        days = 0
    if days <= 0:
        raise FactsError(f"RETURN_WINDOW_DAYS must be a positive number of days, not {value!r}")
    return days


def parse_facts(text: str, source: str) -> Dict[str, str]:
    """The named facts of a facts file's text, every value as text."""
    data = yaml.safe_load(text) or {}
    if not isinstance(data, dict):
        raise FactsError(f"{source}: expected `name: value` lines")
    facts = {}
    for name, value in data.items():
        if not isinstance(name, str) or not FACT_NAME.fullmatch(name):
            raise FactsError(f"{source}: {name!r} is not a fact name (lower case, digits, _)")
        if name == RETURN_WINDOW_DAYS:
            raise FactsError(f"{source}: {name} is the RETURN_WINDOW_DAYS setting (defaults.env)")
        if value is None or isinstance(value, (dict, list)):
            raise FactsError(f"{source}: {name} must be a single value")
        facts[name] = str(value)
    return facts


def load_facts(directory: Path) -> Dict[str, str]:
    """The facts of a knowledge base folder and the return window. A folder
    without a facts file has the return window only."""
    path = facts_file(directory)
    facts = parse_facts(path.read_text(encoding="utf-8"), str(path)) if path.is_file() else {}
    facts[RETURN_WINDOW_DAYS] = str(return_window_days())
    return facts


def render(text: str, facts: Mapping[str, str], source: str = "text") -> str:
    """The text with each `{{ name }}` replaced by that fact. An unknown or
    malformed placeholder is an error, not a silent gap in an answer."""

    def fact(match: re.Match) -> str:
        name = match.group(1).strip()
        if name not in facts:
            known = ", ".join(sorted(facts)) or "none"
            raise FactsError(
                f"{source}: unknown fact {{{{ {name} }}}} (facts: {known}; "
                f"add it to {FACTS_FILE_NAME} in the knowledge base folder)"
            )
        return facts[name]

    rendered = PLACEHOLDER.sub(fact, text)
    if "{{" in rendered or "}}" in rendered:
        raise FactsError(f"{source}: a '{{{{' or '}}}}' that is not a {{{{ name }}}} placeholder")
    return rendered
