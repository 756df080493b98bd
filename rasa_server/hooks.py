"""Installs rasa_server's parts into a running `rasa run`; not a channel.

Listed in credentials.yml, like channels.http_api.HttpApiChecks: Rasa builds
it at start, before it loads the model, which is when the time limits of a
turn are checked (settings.time_budgets: the server refuses to start when
they do not nest). Once the agent is loaded (`after_server_start`, after
Rasa's own `before_server_start` loading), its tracker store is made to fail
closed and its action endpoint bounded. Its one route is `GET /metrics`.
"""
import logging
from typing import Any, Callable, Dict, Optional, Text

from rasa.core.channels.channel import InputChannel
from rasa.shared.exceptions import InvalidConfigException
from sanic import Blueprint, Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from rasa_server import metrics
from rasa_server.bounded_actions import bound_action_calls
from rasa_server.unavailable import fail_closed
from settings import time_budgets

logger = logging.getLogger(__name__)


class ServerHooks(InputChannel):
    """The Rasa server's start-up checks, fault handling and metrics."""

    @classmethod
    def name(cls) -> Text:
        return "server_hooks"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        try:
            budgets = time_budgets.checked()
        except ValueError as error:
            raise InvalidConfigException(str(error)) from None
        return cls(action_timeout_s=budgets.action_timeout_s)

    def __init__(self, action_timeout_s: float) -> None:
        self.action_timeout_s = action_timeout_s

    def url_prefix(self) -> Text:
        return "/"  # /metrics, where Prometheus looks by default

    def blueprint(self, on_new_message: Callable) -> Blueprint:
        blueprint = Blueprint("pine_server_hooks", __name__)

        @blueprint.listener("after_server_start")
        async def harden_agent(app: Sanic, _loop: Any) -> None:
            agent = getattr(app.ctx, "agent", None)
            if agent is None:
                logger.warning("No agent after start: the tracker store and action calls "
                               "keep Rasa's behaviour.")
                return
            if fail_closed(agent.tracker_store):
                logger.info("The tracker store fails closed: a turn it cannot read or "
                            "store gets 'briefly unavailable'.")
            if bound_action_calls(agent, self.action_timeout_s):
                logger.info("Action server calls give up after %g s.", self.action_timeout_s)

        @blueprint.route("/metrics", methods=["GET"])
        async def prometheus_metrics(_: Request) -> HTTPResponse:
            body, content_type = metrics.exposition()
            return response.raw(body, content_type=content_type)

        return blueprint
