"""The action server's metrics plugin: outcomes and labels (rasa_sdk_plugins)."""
from types import SimpleNamespace

import pytest

from rasa_sdk_plugins.metrics import action_name, outcome


@pytest.mark.parametrize("status, expected", [
    (200, "ok"), (400, "rejected"), (404, "not_found"), (500, "error"), (502, "error"),
])
def test_an_action_call_outcome_follows_the_status(status, expected):
    assert outcome(status) == expected


@pytest.mark.parametrize("body, expected", [
    ({"next_action": "action_order_status"}, "action_order_status"),
    ({"next_action": ""}, "unknown"),
    ({"next_action": 7}, "unknown"),
    ({}, "unknown"),
    (["not", "a", "call"], "unknown"),
    (None, "unknown"),
])
def test_the_action_label_is_the_called_action_or_unknown(body, expected):
    assert action_name(SimpleNamespace(json=body)) == expected


def test_a_body_that_is_not_json_is_labelled_unknown():
    class NotJson:
        @property
        def json(self):
            raise ValueError("not JSON")

    assert action_name(NotJson()) == "unknown"
