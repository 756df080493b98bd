"""The hard bound on bot messages per user message
(custom_components/message_budget_policy.py), on the project's domain."""
import pytest
from rasa.core.policies.ensemble import DefaultPolicyPredictionEnsemble
from rasa.core.policies.policy import PolicyPrediction
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from custom_components.message_budget_policy import MessageBudgetPolicy
from tests.conftest import PROJECT_ROOT


@pytest.fixture(scope="module")
def domain():
    return Domain.load(str(PROJECT_ROOT / "domain"))


@pytest.fixture
def policy(tmp_path):
    return MessageBudgetPolicy.create(
        MessageBudgetPolicy.get_default_config(),
        LocalModelStorage(tmp_path),
        Resource("message_budget"),
        ExecutionContext(GraphSchema({}), "test"),
    )


def tracker_with(domain, bot_messages_this_turn):
    events = [
        ActionExecuted("action_listen"),
        UserUttered("hi", {"name": "greet", "confidence": 1.0}),
        BotUttered("Hello!"),  # an earlier turn's message does not count
        ActionExecuted("action_listen"),
        UserUttered("tell me a joke", {"name": "nlu_fallback", "confidence": 1.0}),
    ]
    for _ in range(bot_messages_this_turn):
        events += [ActionExecuted("action_llm_fallback"), BotUttered("...")]
    return DialogueStateTracker.from_events("budget", events, domain.slots)


@pytest.mark.parametrize("sent", [0, 1, 2])
def test_abstains_below_the_budget(policy, domain, sent):
    prediction = policy.predict_action_probabilities(tracker_with(domain, sent), domain)
    assert max(prediction.probabilities) == 0.0


@pytest.mark.parametrize("sent", [3, 4, 10])
def test_listens_once_the_budget_is_spent(policy, domain, sent):
    prediction = policy.predict_action_probabilities(tracker_with(domain, sent), domain)
    assert domain.action_names_or_texts[prediction.max_confidence_index] == "action_listen"
    assert prediction.max_confidence == 1.0


def test_wins_over_a_rule_that_would_loop(policy, domain):
    """The RulePolicy's own loop predictions are "no user" predictions at
    confidence 1.0 and priority 6: ours beats them on priority."""
    tracker = tracker_with(domain, 3)
    ours = policy.predict_action_probabilities(tracker, domain)
    looping = [0.0] * domain.num_actions
    looping[domain.index_for_action("action_llm_fallback")] = 1.0
    rule = PolicyPrediction(looping, "RulePolicy", policy_priority=6, is_no_user_prediction=True)
    best = DefaultPolicyPredictionEnsemble._pick_best_policy([rule, ours])
    assert domain.action_names_or_texts[best.max_confidence_index] == "action_listen"
