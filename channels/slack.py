"""Rasa's Slack connector (Events API) with retries de-duplicated and input checked.

What Rasa 3.6's `SlackInput` does not do, and this one does:

* Slack retries an event it thinks failed (after about three seconds, then a
  minute, then five). Rasa drops only retries whose reason is `http_timeout`,
  and drops them even when the first delivery never got through. Here every
  event is processed at most once, by its `event_id` (and by channel and
  message `ts`, because a mention in a channel the app follows arrives twice:
  as `message` and as `app_mention`, with different event ids), whatever the
  retry headers say (channels.seen_events: in this process, or shared through
  Redis by several Rasa servers). The webhook answers at once; the reply is posted in the
  background, so a slow reply (an LLM fallback) is not a reason to retry.
* The Slack Web API base URL is a setting (`slack_api_base_url`), so tests
  point the client at a local fake of the Web API.
* A malformed body is a 400 and an over-long message gets a polite reply
  (channels.limits); Rasa answers some of these with a 500.
* Without a token and signing secret the channel is off (the webhook answers
  404) instead of stopping the server, so `credentials.yml` can always list it.
* The bot's text is posted without mentions or links outside
  `slack_link_allowlist` (channels.safe_output.for_slack): Rasa posts it as
  is, so `<!channel>` in a reply would notify a whole channel.

The signature check is Rasa's: HMAC-SHA256 of `v0:<timestamp>:<body>` with
the signing secret, timestamps older than five minutes refused.
"""
import asyncio
import json
import logging
from http import HTTPStatus
from typing import Any, Dict, Iterable, List, Optional, Set, Text, Tuple

from rasa.core.channels import slack
from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from slack_sdk.web.async_client import AsyncWebClient

from channels import limits, turns
from channels.identity import with_identity
from channels.safe_output import DEFAULT_SLACK_LINK_ALLOWLIST, for_slack, parse_allowlist
from channels.seen_events import RedisSeenEvents, SeenEvents

logger = logging.getLogger(__name__)

DEFAULT_API_BASE_URL = "https://slack.com/api/"


class SlackOutput(slack.SlackBot):
    """Rasa's Slack output, with the Web API base URL as a setting and the
    bot's text safe for Slack (channels.safe_output.for_slack)."""

    def __init__(self, token: Text, api_base_url: Text, slack_channel: Optional[Text] = None,
                 thread_id: Optional[Text] = None, proxy: Optional[Text] = None,
                 link_allowlist: Iterable[Text] = DEFAULT_SLACK_LINK_ALLOWLIST) -> None:
        super().__init__(token, slack_channel, thread_id, proxy)
        self.client = AsyncWebClient(token, base_url=api_base_url, proxy=proxy)
        self.link_allowlist = tuple(link_allowlist)

    def _safe(self, text: Text) -> Text:
        return for_slack(text, self.link_allowlist)

    async def send_text_message(self, recipient_id: Text, text: Text, **kwargs: Any) -> None:
        recipient = self.slack_channel or recipient_id
        for message_part in text.strip().split("\n\n"):
            # link_names off: "@channel" typed as text stays text
            await self._post_message(channel=recipient, as_user=True, text=self._safe(message_part),
                                     link_names=False)

    async def send_text_with_buttons(self, recipient_id: Text, text: Text,
                                     buttons: List[Dict[Text, Any]], **kwargs: Any) -> None:
        if len(buttons) > 5:  # Slack's limit; Rasa then sends the text alone
            return await super().send_text_with_buttons(recipient_id, text, buttons, **kwargs)
        recipient = self.slack_channel or recipient_id
        # mrkdwn instead of Rasa's plain_text, so that the text is escaped the
        # same way as everywhere else; verbatim: no links Slack finds itself
        text_block = {"type": "section",
                      "text": {"type": "mrkdwn", "text": self._safe(text), "verbatim": True}}
        button_block = {
            "type": "actions",
            "elements": [
                {"type": "button", "text": {"type": "plain_text", "text": button["title"]},
                 "value": button["payload"]}
                for button in buttons
            ],
        }
        # `text` is the notification's text: mrkdwn, so escaped too
        await self._post_message(channel=recipient, as_user=True, text=self._safe(text),
                                 blocks=[text_block, button_block], link_names=False)


def link_allowlist(credentials: Dict[Text, Any]) -> Tuple[Text, ...]:
    """`slack_link_allowlist` from credentials.yml (SLACK_LINK_ALLOWLIST), else
    the shop's own domain. Set but empty: no links at all."""
    value = credentials.get("slack_link_allowlist")
    if value is None:
        return DEFAULT_SLACK_LINK_ALLOWLIST
    return parse_allowlist(str(value))


class SlackInput(slack.SlackInput):
    """`POST /webhooks/slack/webhook`: the Events API and interactive messages."""

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        credentials = credentials or {}
        return cls(
            slack_token=credentials.get("slack_token") or "",
            slack_channel=credentials.get("slack_channel") or None,
            proxy=credentials.get("proxy") or None,
            use_threads=str(credentials.get("use_threads", "")).lower() == "true",
            slack_signing_secret=credentials.get("slack_signing_secret") or "",
            conversation_granularity=credentials.get("conversation_granularity") or "sender",
            api_base_url=credentials.get("slack_api_base_url") or DEFAULT_API_BASE_URL,
            seen_events_redis_url=credentials.get("seen_events_redis_url") or None,
            link_allowlist=link_allowlist(credentials),
            **limits.channel_limits(credentials),
        )

    def __init__(
        self,
        slack_token: Text,
        slack_channel: Optional[Text] = None,
        proxy: Optional[Text] = None,
        use_threads: bool = False,
        slack_signing_secret: Text = "",
        conversation_granularity: Text = "sender",
        api_base_url: Text = DEFAULT_API_BASE_URL,
        seen_events_redis_url: Optional[Text] = None,
        max_message_chars: int = limits.DEFAULT_MAX_MESSAGE_CHARS,
        max_request_bytes: int = limits.DEFAULT_MAX_REQUEST_BYTES,
        link_allowlist: Iterable[Text] = DEFAULT_SLACK_LINK_ALLOWLIST,
    ) -> None:
        self.enabled = bool(slack_token and slack_signing_secret)
        super().__init__(
            slack_token,
            slack_channel,
            proxy,
            slack_retry_reason_header="x-slack-retry-reason",
            slack_retry_number_header="x-slack-retry-num",
            use_threads=use_threads,
            slack_signing_secret=slack_signing_secret,
            conversation_granularity=conversation_granularity,
        )
        self.api_base_url = api_base_url
        self.link_allowlist = tuple(link_allowlist)
        self.max_message_chars = max_message_chars
        self.max_request_bytes = max_request_bytes
        # several Rasa servers: a retry may reach another server than the first delivery
        self.seen_events = (RedisSeenEvents(seen_events_redis_url) if seen_events_redis_url
                            else SeenEvents())
        self._tasks: Set[asyncio.Task] = set()
        if not self.enabled:
            logger.info("Slack is off: set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET to turn it on.")

    def _validate_credentials(self) -> None:
        if self.enabled:
            super()._validate_credentials()

    def get_output_channel(self, channel: Optional[Text] = None,
                           thread_id: Optional[Text] = None) -> OutputChannel:
        return SlackOutput(self.slack_token, self.api_base_url,
                           channel or self.slack_channel, thread_id, self.proxy, self.link_allowlist)

    def blueprint(self, on_new_message: limits.OnNewMessage) -> Blueprint:
        handle = turns.guarded(on_new_message, self.max_message_chars, self.name())
        slack_webhook = Blueprint("slack_webhook", __name__)
        limits.limit_request_size(slack_webhook, self.max_request_bytes)

        @slack_webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok" if self.enabled else "off"})

        @slack_webhook.route("/webhook", methods=["POST"])
        async def webhook(request: Request) -> HTTPResponse:
            if not self.enabled:
                return response.text("Slack is not configured on this server.",
                                     HTTPStatus.NOT_FOUND)
            if not self.is_request_from_slack_authentic(request):
                logger.warning("Refused a Slack request with a bad signature or timestamp.")
                return response.text("Invalid or stale Slack signature.", HTTPStatus.UNAUTHORIZED)

            content_type = (request.headers.get("content-type") or "").split(";")[0].strip()
            if content_type == "application/json":
                return await self._handle_event(request, handle)
            if content_type == "application/x-www-form-urlencoded":
                return self._handle_interaction(request, handle)
            return response.text("Unsupported content type.", HTTPStatus.BAD_REQUEST)

        return slack_webhook

    async def _handle_event(self, request: Request, handle: limits.OnNewMessage) -> HTTPResponse:
        """Events API: the URL check, then user messages, each at most once."""
        output = _json_object(request.body)
        if output is None or not isinstance(output.get("event", {}), dict):
            return response.text("The body must be a Slack event (a JSON object).",
                                 HTTPStatus.BAD_REQUEST)
        if output.get("type") == "url_verification":
            return response.json({"challenge": output.get("challenge")})
        if not self._is_user_message(output):
            return response.text("Not a user message: ignored.")

        event = output.get("event", {})
        metadata = _event_metadata(output)
        if not isinstance(event.get("user"), str) or not isinstance(metadata["out_channel"], str):
            return response.text("A user message needs a user and a channel.",
                                 HTTPStatus.BAD_REQUEST)
        if not self._is_supported_channel(output, metadata):
            return response.text("Channel not supported: ignored.")
        message_key = (f"message:{metadata['out_channel']}:{event['ts']}"
                       if event.get("ts") else None)
        event_id = output.get("event_id") if isinstance(output.get("event_id"), str) else None
        if not await self.seen_events.first_time(event_id, message_key):
            logger.info("Slack event %s already received (retry #%s, %s): ignored.",
                        event_id, request.headers.get(self.retry_num_header),
                        request.headers.get(self.retry_reason_header))
            return response.text("Already received.", headers={"X-Slack-No-Retry": "1"})

        text = event.get("text")
        if isinstance(text, str):
            text = self._sanitize_user_message(text, metadata["users"])
        conversation_id = self._get_conversation_id(
            event.get("user"), metadata["out_channel"], metadata["thread_id"]
        )
        # the event is signed by Slack: its user is who they say (channels/identity.py)
        self._process(handle, text, conversation_id, with_identity(metadata, "slack", event["user"]))
        return response.text("")

    def _handle_interaction(self, request: Request, handle: limits.OnNewMessage) -> HTTPResponse:
        """Interactive messages (button clicks), form-encoded with a JSON `payload`."""
        payload = _json_object((request.form.get("payload") or "").encode())
        if payload is None:
            return response.text("The form must carry a JSON object in 'payload'.",
                                 HTTPStatus.BAD_REQUEST)
        try:
            supported = self._is_interactive_message(payload)
            action = payload["actions"][0] if supported else None
            text = self._get_interactive_response(action) if supported else None
            user_id = payload["user"]["id"]
        except (AttributeError, IndexError, KeyError, TypeError):
            return response.text("Unsupported interaction.", HTTPStatus.BAD_REQUEST)
        if text is None:
            return response.text("Interaction without a value: ignored.")
        metadata = _interaction_metadata(payload)
        conversation_id = self._get_conversation_id(
            user_id, metadata["out_channel"], metadata["thread_id"]
        )
        self._process(handle, text, conversation_id, with_identity(metadata, "slack", user_id))
        return response.text("")

    def _process(self, handle: limits.OnNewMessage, text: Any, conversation_id: Optional[Text],
                 metadata: Dict[Text, Any]) -> None:
        """Handles the message in the background: Slack wants an answer within
        three seconds, and the reply goes through the Web API anyway."""
        thread_id = metadata.get("thread_id") if self.use_threads else None
        message = UserMessage(
            text if isinstance(text, str) else None,
            self.get_output_channel(metadata.get("out_channel"), thread_id),
            conversation_id,
            input_channel=self.name(),
            metadata=metadata,
        )
        task = asyncio.create_task(self._handle_logged(handle, message))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _handle_logged(handle: limits.OnNewMessage, message: UserMessage) -> None:
        try:
            await handle(message)
        except Exception:
            logger.exception("Failed to handle a Slack message from %s.", message.sender_id)


def _json_object(body: bytes) -> Optional[Dict[Text, Any]]:
    try:
        value = json.loads(body)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _event_metadata(output: Dict[Text, Any]) -> Dict[Text, Any]:
    """Rasa's metadata of an event: reply channel, thread and the app's users."""
    event = output.get("event", {})
    users = output.get("authed_users")
    if not isinstance(users, list):
        authorizations = output.get("authorizations")
        users = [
            authorization.get("user_id")
            for authorization in (authorizations if isinstance(authorizations, list) else [])[:1]
            if isinstance(authorization, dict) and authorization.get("user_id")
        ]
    thread_id = event.get("thread_ts", event.get("ts"))
    return {
        "out_channel": event.get("channel"),
        "thread_id": str(thread_id) if thread_id is not None else None,
        "users": [user for user in users if isinstance(user, str)],
    }


def _interaction_metadata(payload: Dict[Text, Any]) -> Dict[Text, Any]:
    message = payload.get("message") if isinstance(payload.get("message"), dict) else {}
    channel = payload.get("channel") if isinstance(payload.get("channel"), dict) else {}
    return {
        "out_channel": channel.get("id"),
        "thread_id": message.get("thread_ts", message.get("ts")),
        "users": [payload["user"]["id"]],
    }
