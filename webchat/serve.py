"""Serves the web chat page: `python webchat/serve.py` (`make webchat` runs it).

The files of `webchat/static/` (the widget's bundle in `static/vendor/` comes
from `scripts/setup_webchat.sh`), plus `/config.js`, which tells the page the
socket.io URL of the Rasa server. Standard library only.

Settings (scripts/defaults.sh): WEBCHAT_HOST and WEBCHAT_PORT where the page
is served (loopback by default), WEBCHAT_SOCKET_URL the Rasa server as the
browser reaches it (it must allow the page's origin: `rasa run --cors`).
"""
import argparse
import functools
import json
import os
import sys
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

STATIC = Path(__file__).resolve().parent / "static"
WIDGET = STATIC / "vendor" / "rasa-webchat.js"


class PageHandler(SimpleHTTPRequestHandler):
    socket_url = "http://127.0.0.1:5005"

    def do_GET(self) -> None:
        if urlsplit(self.path).path == "/config.js":
            body = f"window.WEBCHAT_CONFIG = {json.dumps({'socketUrl': self.socket_url})};\n"
            self._send(200, "text/javascript; charset=utf-8", body.encode())
            return
        super().do_GET()

    def do_POST(self) -> None:
        self._send(405, "text/plain; charset=utf-8", b"Method not allowed\n")

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
        self.send_header("Cache-Control", "no-cache")
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
    parser.add_argument("--host", default=os.environ.get("WEBCHAT_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("WEBCHAT_PORT", "8080")))
    parser.add_argument("--socket-url",
                        default=os.environ.get("WEBCHAT_SOCKET_URL", "http://127.0.0.1:5005"))
    args = parser.parse_args()
    if not WIDGET.is_file():
        sys.exit(f"{WIDGET} is missing: run scripts/setup_webchat.sh (make webchat does).")

    handler = type("Handler", (PageHandler,), {"socket_url": args.socket_url.rstrip("/")})
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
