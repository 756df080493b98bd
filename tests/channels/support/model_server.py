"""A model server that takes its time: it accepts every request and answers
only after `delay` seconds (with a 503). The action server's LLM fallback,
pointed at it, waits until its own deadline (LLM_DEADLINE_S) and then sends
its fixed reply: an open-ended question gets a slow reply, as with a real
language model on a busy machine."""
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class SlowModelServer:
    def __init__(self, delay: float = 30) -> None:
        self.requests = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                server.requests += 1
                time.sleep(delay)
                try:
                    self.send_error(503, "still thinking")
                except OSError:  # the client gave up first
                    pass

            def log_message(self, *args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}/v1"

    def start(self) -> "SlowModelServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
