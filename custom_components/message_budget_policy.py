"""A hard bound on the bot messages sent in answer to one user message.

Rasa's only bound is on predicted actions (`MAX_NUMBER_OF_PREDICTIONS`, 10),
so a loop of the fallback and a form's question can send ten messages before
it stops. This policy does nothing until the bot has sent `max_bot_messages`
since the user's latest message; then it predicts `action_listen` with full
confidence and a priority above the RulePolicy's, so nothing more is sent
until the user speaks again. Every legitimate turn of this assistant sends at
most two messages (an answer and the form's next question).
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa.core.policies.policy import Policy, PolicyPrediction
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import BotUttered, UserUttered
from rasa.shared.core.generator import TrackerWithCachedStates
from rasa.shared.core.trackers import DialogueStateTracker

MAX_BOT_MESSAGES = "max_bot_messages"


def bot_messages_since_user(tracker: DialogueStateTracker) -> int:
    """How many messages the bot has sent since the user's latest message."""
    count = 0
    for event in reversed(tracker.events):
        if isinstance(event, UserUttered):
            break
        if isinstance(event, BotUttered):
            count += 1
    return count


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT, is_trainable=False
)
class MessageBudgetPolicy(Policy):
    """Stops a turn once it has sent `max_bot_messages` messages."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        # priority 7: above the RulePolicy (6), so that it wins a tie at 1.0
        return {MAX_BOT_MESSAGES: 3, "priority": 7}

    def train(
        self, training_trackers: List[TrackerWithCachedStates], domain: Domain, **kwargs: Any
    ) -> Resource:
        return self._resource

    def predict_action_probabilities(
        self,
        tracker: DialogueStateTracker,
        domain: Domain,
        rule_only_data: Optional[Dict[Text, Any]] = None,
        **kwargs: Any,
    ) -> PolicyPrediction:
        probabilities = [0.0] * domain.num_actions
        spent = bot_messages_since_user(tracker)
        if spent < self.config[MAX_BOT_MESSAGES]:
            return self._prediction(probabilities)
        probabilities[domain.index_for_action(ACTION_LISTEN_NAME)] = 1.0
        # "no user prediction" overrules the other policies' predictions, as
        # the RulePolicy's own loop predictions do
        return self._prediction(
            probabilities,
            is_no_user_prediction=True,
            diagnostic_data={"bot_messages_this_turn": spent},
        )
