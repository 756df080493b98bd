"""Input checks for Rasa's HTTP API (`rasa run --enable-api`); not a channel.

Rasa 3.6 answers several malformed bodies on its API with a 500: a JSON list
or a missing `text` on `/model/parse`, a non-string `text` on
`/conversations/<id>/messages`, a list on `trigger_intent`, `execute` and
`PUT /model`; and a JWT with another algorithm (`"alg": "none"`) is a 500
instead of a 401. Listed in `credentials.yml` (the one place where the server
loads project code at start), this class adds a request middleware that
answers those with a 401, or a 400 (413 for an over-long text), in Rasa's
error format before Rasa's handler runs. It checks only requests that carry credentials,
so a request without any is still refused with Rasa's 401 first, and it does
nothing when the API is off (there are no such routes then).

`execute` with an action name the domain does not have is a 500 in Rasa; here
it is a 404, as Rasa answers `trigger_intent` with an unknown intent.

Tracker events that set a verification slot (channels.identity.VERIFICATION_SLOTS)
are a 403 for every caller: with them, anyone allowed to write to a conversation
(a `user`-role JWT, its own) could mark an order as verified and read it.
"""
import json
import logging
import re
from http import HTTPStatus
from typing import Any, Callable, Dict, Optional, Pattern, Text, Tuple, Type

from rasa.core.channels.channel import InputChannel
from sanic import Blueprint, Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from channels import limits
from channels.identity import VERIFICATION_SLOTS

logger = logging.getLogger(__name__)

# (method, path) -> the fields the JSON object body must have, with their type
REQUIRED_FIELDS: Dict[Tuple[Text, Pattern], Dict[Text, Type]] = {
    ("POST", re.compile(r"^/model/parse$")): {"text": str},
    ("POST", re.compile(r"^/conversations/.+/messages$")): {"text": str, "sender": str},
    ("POST", re.compile(r"^/conversations/.+/trigger_intent$")): {"name": str},
    ("POST", re.compile(r"^/conversations/.+/execute$")): {"name": str},
    ("PUT", re.compile(r"^/model$")): {},
}
# fields that NLU reads: as long as a channel message at most
TEXT_FIELDS = ("text",)
EXECUTE_PATH = re.compile(r"^/conversations/.+/execute$")
EVENTS_PATH = re.compile(r"^/conversations/.+/tracker/events$")


class HttpApiChecks(InputChannel):
    """Registers the checks; its only route is `GET /webhooks/http_api_checks/`."""

    @classmethod
    def name(cls) -> Text:
        return "http_api_checks"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        return cls(
            limits.positive_int(credentials, limits.MAX_MESSAGE_CHARS,
                                limits.DEFAULT_MAX_MESSAGE_CHARS)
        )

    def __init__(self, max_message_chars: int = limits.DEFAULT_MAX_MESSAGE_CHARS) -> None:
        self.max_message_chars = max_message_chars

    def blueprint(self, on_new_message: Callable) -> Blueprint:
        blueprint = Blueprint("http_api_checks", __name__)
        checks = self

        @blueprint.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @blueprint.listener("before_server_start")
        async def install(app: Sanic, _loop: Any) -> None:
            app.register_middleware(checks.check_request, "request")

        return blueprint

    async def check_request(self, request: Request) -> Optional[HTTPResponse]:
        """None lets Rasa handle the request; a response refuses it."""
        if await _jwt_check_fails(request):
            return _error(HTTPStatus.UNAUTHORIZED, "User is not authenticated.")
        fields = next(
            (wanted for (method, path), wanted in REQUIRED_FIELDS.items()
             if request.method == method and path.match(request.path)),
            None,
        )
        carries_credentials = request.args.get("token") or request.headers.get("Authorization")
        if EVENTS_PATH.match(request.path) and request.method in ("POST", "PUT"):
            if sets_verification_slot(request.body):
                return _error(HTTPStatus.FORBIDDEN,
                              "Verification slots are set by the assistant only.")
        if fields is None or not carries_credentials:
            return None
        try:
            body = json.loads(request.body or b"{}")
        except ValueError:
            return _error(HTTPStatus.BAD_REQUEST, "The body is not valid JSON.")
        if not isinstance(body, dict):
            return _error(HTTPStatus.BAD_REQUEST, "The body must be a JSON object.")
        for field, kind in fields.items():
            if not isinstance(body.get(field), kind):
                return _error(HTTPStatus.BAD_REQUEST,
                              f"'{field}' is required and must be a {kind.__name__}.")
        for field in TEXT_FIELDS:
            if field in fields and len(body[field]) > self.max_message_chars:
                return _error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                              f"'{field}' is longer than {self.max_message_chars} characters.")
        if EXECUTE_PATH.match(request.path) and not _domain_has_action(request, body["name"]):
            return _error(HTTPStatus.NOT_FOUND,
                          f"The action '{body['name']}' does not exist in the domain.")
        return None


def sets_verification_slot(body: Optional[bytes]) -> bool:
    """Whether a tracker-events body (one event or a list) sets a slot that
    only the action server may set."""
    try:
        events = json.loads(body or b"null")
    except ValueError:
        return False  # Rasa answers it with a 400
    events = events if isinstance(events, list) else [events]
    return any(
        isinstance(event, dict) and event.get("event") == "slot"
        and event.get("name") in VERIFICATION_SLOTS
        for event in events
    )


def _domain_has_action(request: Request, name: Text) -> bool:
    """Whether the loaded model's domain knows the action (True when no model
    is loaded: Rasa itself answers that case with a 409)."""
    agent = getattr(request.app.ctx, "agent", None)
    domain = getattr(agent, "domain", None)
    return domain is None or name in domain.action_names_or_texts


async def _jwt_check_fails(request: Request) -> bool:
    """True when checking the request's JWT raises. sanic-jwt lets some
    errors through (a token with another `alg`, e.g. "none", raises
    InvalidAlgorithmError), and Rasa then answers 500 instead of 401."""
    auth = getattr(request.app.ctx, "auth", None)
    if not request.headers.get("Authorization") or not request.app.config.get("USE_JWT") \
            or auth is None:
        return False
    try:
        await auth.is_authenticated(request)
    except Exception as error:
        logger.warning("Refused a request whose JWT could not be checked: %r", error)
        return True
    return False


def _error(status: HTTPStatus, message: Text) -> HTTPResponse:
    """Rasa's error format (rasa.server.ErrorResponse)."""
    return response.json(
        {"status": "failure", "message": message, "reason": status.phrase.replace(" ", ""),
         "code": status.value},
        status=status.value,
    )
