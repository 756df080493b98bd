"""Which numbers in a message are order numbers.

Pure functions, shared by the NLU component that extracts `order_id`
entities (`custom_components/order_number_extractor.py`) and by the forms'
validators (`actions/forms.py`), so that both agree on what an order number
is. Order numbers have five digits. A five-digit number is *not* taken as one
when its context says it is something else: a ZIP or postal code, a phone
number, a price, a quantity with a unit, a product or item number, or the
ZIP of a US address ("Portland, ME 04101", "04101-1234"). Digits typed with
look-alike letters ("1OOO8", "1000l") are read as the digits they look like.
"""
import re
from dataclasses import dataclass
from typing import List, Optional

ORDER_NUMBER_LENGTH = 5

# a run of digits and digit look-alikes that is not part of a longer token
# (ASCII word characters only: "订单10002" has no space between the words and the number)
_CANDIDATE = re.compile(
    r"(?<![A-Za-z0-9_$£€-])(?<!\d[.,])#?\s?([0-9OoIl|]{5})(?![A-Za-z0-9_%@-]|[.,]\d)"
)
_LOOKALIKES = str.maketrans({"O": "0", "o": "0", "I": "1", "l": "1", "|": "1"})

# words shortly before a number that name another kind of number
_OTHER_NUMBER_BEFORE = re.compile(
    r"\b(zip|zipcode|zip-code|postal|postcode|post\s+code|phone|telephone|tel|mobile|cell|fax|"
    r"call|sku|model|style|product|part|serial|extension|ext|pin|cvv|"
    r"card|account|invoice|ticket|rma|price|costs?|paid|pay|spent|dollars?|usd|cad|"
    r"miles?|km|feet|ft|meters?|elevation|altitude|calories|steps)\b[\s:#.\w-]{0,16}$",
    re.IGNORECASE,
)
# a currency sign right before, or a unit right after
_CURRENCY_BEFORE = re.compile(r"[$£€]\s?#?\s?$")
_UNIT_AFTER = re.compile(
    r"^\s?(dollars?|usd|cad|bucks|miles?|mi|km|kilometers?|meters?|m|ft|feet|lbs?|pounds|kg|g|"
    r"grams|mah|calories|kcal|steps|people|pieces|pcs|units|times|years?)\b",
    re.IGNORECASE,
)
# a US address: "City, ST 04101", a capitalised city then a state code
_STATE_BEFORE = re.compile(r"\b[A-Z][a-z]+,?\s+[A-Z]{2},?\s$")
# "order", "number", "#" shortly before: says it *is* an order number
_ORDER_BEFORE = re.compile(r"\b(order|orders|ordered|purchase|package|parcel)\b[\s:#.\w-]{0,12}$|#\s?$", re.IGNORECASE)


@dataclass(frozen=True)
class OrderNumber:
    start: int
    end: int
    text: str
    value: str


def read_digits(token: str) -> Optional[str]:
    """The digits a token of digits and look-alike letters stands for, when
    it is mostly digits ("1OOO8" -> "10008"); otherwise None ("IOOOl")."""
    digits = sum(ch.isdigit() for ch in token)
    if digits < 2 and not token.isdigit():
        return None
    value = token.translate(_LOOKALIKES)
    return value if value.isdigit() else None


def is_other_kind_of_number(before: str, after: str) -> bool:
    """True when the words around a five-digit number say it is a ZIP code,
    a phone number, a price, a quantity or a product number."""
    if _ORDER_BEFORE.search(before[-24:]):
        return False
    return bool(
        _OTHER_NUMBER_BEFORE.search(before[-40:])
        or _CURRENCY_BEFORE.search(before[-3:])
        or _UNIT_AFTER.match(after)
        or _STATE_BEFORE.search(before[-40:])
        or re.match(r"^-\d{4}\b", after)  # ZIP+4
    )


def find_order_numbers(text: str) -> List[OrderNumber]:
    """Every five-digit order number in the message, with its position."""
    found = []
    for match in _CANDIDATE.finditer(text or ""):
        token = match.group(1)
        value = read_digits(token)
        if value is None or len(value) != ORDER_NUMBER_LENGTH:
            continue
        if is_other_kind_of_number(text[: match.start(1)], text[match.end(1):]):
            continue
        found.append(OrderNumber(match.start(1), match.end(1), token, value))
    return found


# something the user probably meant as an order number, but malformed:
# "1234", "#123456", "10 0023"
_NUMBER_LIKE = re.compile(r"#?\s*(\d[\d\- ]*\d|\d)")


def malformed_order_number(text: str) -> Optional[str]:
    """The digits of the first number in the message that is not another
    kind of number, to tell the user what is wrong with it ("1234")."""
    for match in _NUMBER_LIKE.finditer(text or ""):
        if not is_other_kind_of_number(text[: match.start(1)], text[match.end(1):]):
            return re.sub(r"[\s\-]", "", match.group(1))
    return None
