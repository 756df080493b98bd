"""A local fake of Slack's Web API, and Slack's request signing.

`FakeSlackApi` is a real HTTP server on loopback: the Rasa server's Slack
client is pointed at it (SLACK_API_BASE_URL) and posts the bot's replies to
`/api/chat.postMessage` as it would to slack.com. Each post is recorded; a
delay per channel makes replies slow on purpose.
"""
import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Dict, List, Optional
from urllib.parse import parse_qs


@dataclass(frozen=True)
class Post:
    method: str  # "chat.postMessage"
    authorization: str
    body: Dict

    @property
    def channel(self) -> str:
        return self.body.get("channel", "")

    @property
    def text(self) -> str:
        return self.body.get("text", "")


class FakeSlackApi:
    def __init__(self) -> None:
        self.posts: List[Post] = []
        self.delays: Dict[str, float] = {}  # channel -> seconds before answering
        self._changed = threading.Condition()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}/api/"

    def start(self) -> "FakeSlackApi":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def posts_to(self, channel: str) -> List[Post]:
        with self._changed:
            return [post for post in self.posts if post.channel == channel]

    def wait_for_posts(self, channel: str, count: int = 1, timeout: float = 30) -> List[Post]:
        """The posts to `channel` once there are `count` of them (or fewer at the timeout)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                posts = [post for post in self.posts if post.channel == channel]
                remaining = deadline - time.monotonic()
                if len(posts) >= count or remaining <= 0:
                    return posts
                self._changed.wait(remaining)

    def _record(self, post: Post) -> None:
        with self._changed:
            self.posts.append(post)
            self._changed.notify_all()

    def _handler_class(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.headers.get("Content-Type", "").startswith("application/json"):
                    body = json.loads(raw or b"{}")
                else:
                    body = {key: values[0] for key, values in parse_qs(raw.decode()).items()}
                method = self.path.rsplit("/", 1)[-1]
                time.sleep(fake.delays.get(body.get("channel", ""), 0))
                fake._record(Post(method, self.headers.get("Authorization", ""), body))
                answer = json.dumps(
                    {"ok": True, "channel": body.get("channel"), "ts": f"{time.time():.6f}"}
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args) -> None:
                pass

        return Handler


def signed_headers(body: bytes, secret: str, timestamp: Optional[int] = None,
                   content_type: str = "application/json") -> Dict[str, str]:
    """The headers Slack sends: X-Slack-Signature is v0=HMAC-SHA256 of
    `v0:<timestamp>:<body>` with the app's signing secret."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(
        secret.encode(), f"v0:{timestamp}:".encode() + body, hashlib.sha256
    ).hexdigest()
    return {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": str(timestamp),
        "X-Slack-Signature": f"v0={digest}",
    }


def message_event(event_id: str, user: str, channel: str, text: str, ts: str,
                  event_type: str = "message", channel_type: str = "im", **extra) -> Dict:
    """An Events API `event_callback` envelope around a message event."""
    event = {"type": event_type, "user": user, "channel": channel, "text": text, "ts": ts,
             "channel_type": channel_type, **extra}
    return {
        "token": "deprecated-verification-token",
        "team_id": "T0TEST",
        "api_app_id": "A0TEST",
        "type": "event_callback",
        "event_id": event_id,
        "event_time": int(time.time()),
        "authorizations": [{"user_id": "U0BOT", "is_bot": True}],
        "event": event,
    }
