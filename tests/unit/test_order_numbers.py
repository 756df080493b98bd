"""Which numbers are order numbers (custom_components/order_numbers.py) and
the NLU component that extracts them."""
import pytest
from rasa.shared.nlu.training_data.message import Message

from custom_components.order_number_extractor import OrderNumberExtractor
from custom_components.order_numbers import find_order_numbers, malformed_order_number


def values(text):
    return [number.value for number in find_order_numbers(text)]


@pytest.mark.parametrize("text, expected", [
    ("where is 10023", ["10023"]),
    # no space between the words and the number in Chinese or Japanese
    ("我的订单10002在哪里？", ["10002"]),
    ("注文番号10003を確認して", ["10003"]),
    # the digits of an e-mail address are not an order number
    ("customer10002@example.com", []),
    ("10002@example.com", []),
    ("#10023", ["10023"]),
    ("order no. 10023", ["10023"]),
    ("order no.10023", ["10023"]),
    ("(10002)", ["10002"]),
    ("has order #10005 arrived?", ["10005"]),
    ("10001 and 10002", ["10001", "10002"]),
    # look-alike letters
    ("where is order 1OOO8", ["10008"]),
    ("whats the status of 1ooo2", ["10002"]),
    ("I want to return 1000l", ["10001"]),
    # other kinds of numbers
    ("my zip code is 04101, where is order 10002?", ["10002"]),
    ("where is my order? zip 04101", []),
    ("I live at 5 Elm Street, Portland, ME 04101", []),
    ("postal code 90210", []),
    ("it cost $18900", []),
    ("I paid 12995 dollars", []),
    ("we hiked 10000 feet", []),
    ("call me on 55501", []),
    ("04101-1234", []),
    ("123456", []),
    ("10.023", []),
    ("words like IOOOl are not numbers", []),
])
def test_find_order_numbers(text, expected):
    assert values(text) == expected


def test_positions_point_at_the_number():
    (number,) = find_order_numbers("order #10023 please")
    assert "order #10023 please"[number.start:number.end] == "10023"


@pytest.mark.parametrize("text, expected", [
    ("1234", "1234"), ("#123456", "123456"), ("10 0023", "100023"),
    ("zip 04101", None), ("no digits here", None),
])
def test_malformed_order_number(text, expected):
    assert malformed_order_number(text) == expected


def test_the_component_adds_order_id_entities():
    message = Message.build(text="my zip is 04101 and the order is 1OOO8")
    (processed,) = OrderNumberExtractor().process([message])
    entities = processed.get("entities")
    assert [(e["entity"], e["value"], e["extractor"]) for e in entities] == [
        ("order_id", "10008", "OrderNumberExtractor")
    ]
    assert "my zip is 04101 and the order is 1OOO8"[entities[0]["start"]:entities[0]["end"]] == "1OOO8"
