"""Serves the web chat page: `python webchat/serve.py` (`make webchat` runs it).

The files of `webchat/static/` (the widget's bundle in `static/vendor/` comes
from `scripts/setup_webchat.sh`), `/config.js`, which tells the page the
socket.io URL of the Rasa server, and `POST /session`, which gives the page
its signed chat session (channels/webchat_session.py): the widget sends it as
its session id, and the socket.io channel accepts no other. Standard library,
that module and settings/defaults.py only.

Settings (defaults in defaults.env): WEBCHAT_HOST and WEBCHAT_PORT where the page
is served (loopback by default), WEBCHAT_SOCKET_URL the Rasa server as the
browser reaches it (it must allow the page's origin: WEBCHAT_ALLOWED_ORIGINS),
WEBCHAT_SESSION_SECRET the secret shared with Rasa's socket.io channel.
"""
import argparse
import functools
import json
import sys
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Optional, Tuple
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # `python webchat/serve.py` from anywhere

from channels import webchat_session  # noqa: E402
from settings.defaults import setting  # noqa: E402

STATIC = ROOT / "webchat" / "static"
WIDGET = STATIC / "vendor" / "rasa-webchat.js"
MAX_SESSION_BODY_BYTES = 4096


def page_session(secret: str, stored: object, customer: Optional[str]) -> Tuple[str, bool]:
    """The session for a page load: `(token, continues)`. The stored session
    continues (renewed) when it is valid and belongs to the same customer;
    anything else (none, forged, expired, another customer's) gets a new one."""
    session = webchat_session.verify(secret, stored)
    if session is not None and session.customer == customer:
        return webchat_session.renew(secret, session), True
    return webchat_session.new_session(secret, customer), False


class PageHandler(SimpleHTTPRequestHandler):
    socket_url = "http://127.0.0.1:5005"
    session_secret = ""
    cache_control = "no-cache"

    def customer(self) -> Optional[str]:
        """The logged-in customer's reference. The demo shop has no login, so
        every visitor is anonymous; a real shop answers from its own login
        session (a cookie), never from anything the page sends."""
        return None

    def do_GET(self) -> None:
        self.cache_control = "no-cache"
        path = urlsplit(self.path).path
        if path == "/health":  # for load balancers and orchestrators
            self._send(200, "application/json", b'{"status": "ok"}\n')
            return
        if path == "/config.js":
            body = f"window.WEBCHAT_CONFIG = {json.dumps({'socketUrl': self.socket_url})};\n"
            self._send(200, "text/javascript; charset=utf-8", body.encode())
            return
        super().do_GET()

    def do_POST(self) -> None:
        if urlsplit(self.path).path != "/session":
            self._send(405, "text/plain; charset=utf-8", b"Method not allowed\n")
            return
        stored, problem = self._session_request()
        if problem:
            self._send(400 if problem != "forbidden" else 403, "text/plain; charset=utf-8",
                       problem.encode() + b"\n")
            return
        token, continues = page_session(self.session_secret, stored, self.customer())
        self.cache_control = "no-store"
        body = json.dumps({"session": token, "continues": continues}).encode()
        self._send(200, "application/json", body)

    def _session_request(self) -> Tuple[Optional[str], str]:
        """The stored session the page sends (`{"session": <token> | null}`),
        or what is wrong with the request."""
        # from this page only: the browser names the origin of a POST, and a
        # JSON body needs a CORS preflight that this server never grants
        origin = self.headers.get("Origin")
        if origin is not None and origin != f"http://{self.headers.get('Host')}":
            return None, "forbidden"
        if self.headers.get_content_type() != "application/json":
            return None, "expected application/json"
        try:
            length = int(self.headers.get("Content-Length") or "0")
        except ValueError:
            length = -1
        if not 0 < length <= MAX_SESSION_BODY_BYTES:
            return None, "bad body length"
        try:
            data = json.loads(self.rfile.read(length))
        except (ValueError, UnicodeDecodeError):
            return None, "not JSON"
        stored = data.get("session") if isinstance(data, dict) else None
        if not isinstance(data, dict) or not (stored is None or isinstance(stored, str)):
            return None, 'expected {"session": <string or null>}'
        return stored, ""

    def end_headers(self) -> None:
        # only this page's scripts; the browser talks to the Rasa server only
        socket = urlsplit(self.socket_url)
        scheme = "wss" if socket.scheme == "https" else "ws"
        websocket = socket._replace(scheme=scheme).geturl()
        self.send_header(
            "Content-Security-Policy",
            "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data:; font-src 'self' data:; "
            f"connect-src 'self' {self.socket_url} {websocket}; "
            "frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
        )
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Cache-Control", self.cache_control)
        super().end_headers()

    def _send(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args) -> None:
        sys.stderr.write("webchat: " + (format % args) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=setting("WEBCHAT_HOST"))
    parser.add_argument("--port", type=int, default=int(setting("WEBCHAT_PORT")))
    parser.add_argument("--socket-url", default=setting("WEBCHAT_SOCKET_URL"))
    args = parser.parse_args()
    if not WIDGET.is_file():
        sys.exit(f"{WIDGET} is missing: run scripts/setup_webchat.sh (make webchat does).")
    # from the environment only: a command line is visible to every user
    secret = setting("WEBCHAT_SESSION_SECRET").strip()
    try:
        webchat_session.check_secret(secret)
    except ValueError as error:
        sys.exit(f"{error}: scripts/defaults.sh sets one (make webchat).")

    handler = type("Handler", (PageHandler,), {
        "socket_url": args.socket_url.rstrip("/"), "session_secret": secret,
    })
    server = ThreadingHTTPServer(
        (args.host, args.port), functools.partial(handler, directory=str(STATIC))
    )
    print(f"web chat page on http://{args.host}:{server.server_port}/ "
          f"(Rasa server: {args.socket_url})", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
