"""The Rasa server's call to the action server, bounded in time.

Rasa 3.6 waits up to 300 s (hard-coded) for an action; a paused or hung action
server holds the customer, and the conversation's lock, that long, and a
failed call makes Rasa drop the action's events and go on without a reply.
`BoundedActionEndpoint` gives up after ACTION_SERVER_TIMEOUT_S and, like when
the action server cannot be reached or answers with a server error, answers
for it with an apology that is stored like any reply, so the customer always
gets one and the conversation's history says what they saw. (A 400 is still
Rasa's "action rejected", which forms rely on.)
"""
import asyncio
import logging
from typing import Any, Dict, Optional, Text

import aiohttp
from rasa.utils.endpoints import ClientResponseError, EndpointConfig

from rasa_server import metrics

logger = logging.getLogger(__name__)

ACTION_FAILED_REPLY = (
    "Sorry, something on my side didn't finish just now. Could you try that again in a moment?"
)


def apology_response() -> Dict[Text, Any]:
    """An action server's answer (Rasa's format) that only says sorry."""
    return {"events": [], "responses": [{"text": ACTION_FAILED_REPLY}]}


class BoundedActionEndpoint(EndpointConfig):
    """The action endpoint of endpoints.yml with a time limit and a reply on failure."""

    def __init__(self, endpoint: EndpointConfig, timeout_s: float) -> None:
        super().__init__(
            endpoint.url, endpoint.params, endpoint.headers, endpoint.basic_auth,
            endpoint.token, endpoint.token_name, endpoint.cafile, **endpoint.kwargs,
        )
        self.type = endpoint.type
        self.timeout_s = timeout_s

    async def request(self, method: Text = "post", subpath: Optional[Text] = None,
                      content_type: Optional[Text] = "application/json",
                      compress: bool = False, **kwargs: Any) -> Optional[Any]:
        action = (kwargs.get("json") or {}).get("next_action")
        kwargs["timeout"] = aiohttp.ClientTimeout(total=self.timeout_s)
        try:
            return await super().request(method, subpath, content_type, compress, **kwargs)
        except ClientResponseError as error:
            if error.status < 500:
                raise  # 400: the action rejected its execution (forms)
            reason = f"status {error.status}"
        except asyncio.TimeoutError:
            reason = "timeout"
        except aiohttp.ClientError as error:
            reason = type(error).__name__
        logger.error("Action %s failed on the action server (%s, limit %g s): "
                     "the customer gets an apology.", action, reason, self.timeout_s)
        metrics.ACTION_CALL_FAILURES.labels(reason.split()[0]).inc()
        return apology_response()

    def copy(self) -> "BoundedActionEndpoint":
        return BoundedActionEndpoint(super().copy(), self.timeout_s)


def bound_action_calls(agent: Any, timeout_s: float) -> bool:
    """Puts the bounded endpoint where the agent and its processor call
    actions; True if there was an action endpoint to bound."""
    endpoint = getattr(agent, "action_endpoint", None)
    if endpoint is None or isinstance(endpoint, BoundedActionEndpoint):
        return False
    bounded = BoundedActionEndpoint(endpoint, timeout_s)
    agent.action_endpoint = bounded
    if getattr(agent, "processor", None) is not None:
        agent.processor.action_endpoint = bounded
    return True
