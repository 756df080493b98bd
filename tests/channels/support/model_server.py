"""Fake model servers for the action server's LLM fallback.

`SlowModelServer` takes its time: it accepts every request and answers only
after `delay` seconds (with a 503). The fallback, pointed at it, waits until
its own deadline (LLM_DEADLINE_S) and then sends its fixed reply: an
open-ended question gets a slow reply, as with a real language model on a
busy machine. `ScriptedModelServer` answers at once with a given text."""
import hashlib
import json
import random
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import List


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


class ScriptedModelServer:
    """An OpenAI-compatible model server that answers at once, as
    actions/model_client.py expects: every chat completion is `reply`, and
    every text gets a pseudo-random embedding of its own (seeded by the
    text), so no knowledge passage is similar to a question and the LLM
    fallback sends the generated text through its output guard alone.
    `prompts` keeps the last user message of each completion."""

    DIMENSIONS = 384

    def __init__(self, reply: str) -> None:
        self.reply = reply
        self.prompts: List[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                if self.path.endswith("/chat/completions"):
                    messages = body.get("messages") or [{}]
                    server.prompts.append(messages[-1].get("content", ""))
                    answer = {"id": "chatcmpl-test", "object": "chat.completion", "model": body.get("model"),
                              "choices": [{"index": 0, "finish_reason": "stop",
                                           "message": {"role": "assistant", "content": server.reply}}]}
                elif self.path.endswith("/embeddings"):
                    texts = body.get("input") or []
                    texts = [texts] if isinstance(texts, str) else texts
                    answer = {"object": "list", "model": body.get("model"),
                              "data": [{"object": "embedding", "index": i, "embedding": server.embedding(t)}
                                       for i, t in enumerate(texts)]}
                else:
                    self.send_error(404)
                    return
                data = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @classmethod
    def embedding(cls, text: str) -> List[float]:
        generator = random.Random(hashlib.sha256(text.encode()).digest())
        return [generator.gauss(0, 1) for _ in range(cls.DIMENSIONS)]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}/v1"

    def start(self) -> "ScriptedModelServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
