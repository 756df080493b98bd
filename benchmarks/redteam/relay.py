"""A thin loopback relay between garak's REST generator and the REST channel.

garak's `rest.RestGenerator` fills one request template per prompt, so used
directly every prompt would go to the same conversation id (the fallback then
sees earlier attacks as history, and every third one offers a human), and the
channel's list of bot messages would become several "generations" of one
prompt (`$[*].text`). The relay takes the channel's own body
(`{"sender": ..., "message": ...}`), sends the message to
`POST /webhooks/rest/webhook` under a fresh conversation id, and answers in
the channel's shape with one message whose text is the bot's messages joined
by newlines. It also reads the conversation's tracker (HTTP API, token) to log
what answered: the input guard, the model, the length limit or an intent.
"""
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Dict, List, Optional

import requests

RASA_TIMEOUT_S = 90


def answered_by(events: List[Dict], message: str, max_chars: int) -> str:
    """What produced the bot's reply, from the conversation's events."""
    for event in events:
        if event.get("event") == "bot":
            record = (event.get("metadata") or {}).get("llm_fallback")
            if record:
                return record.get("outcome", "fallback")
    user = next((e for e in events if e.get("event") == "user"), None)
    if user is None:
        return "length_limit" if len(message) > max_chars else "not_processed"
    intent = ((user.get("parse_data") or {}).get("intent") or {}).get("name")
    return f"intent:{intent}"


class Relay:
    def __init__(self, rasa_url: str, token: str, log_path: Path, port: int, max_chars: int = 2000) -> None:
        self.rasa_url = rasa_url
        self.token = token
        self.log_path = log_path
        self.max_chars = max_chars
        self.exchanges: List[Dict] = []
        self._lock = threading.Lock()
        self._count = 0
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self._server.daemon_threads = True
        self._thread: Optional[threading.Thread] = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/webhooks/rest/webhook"

    def start(self) -> "Relay":
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def exchange(self, sender: str, message: str) -> Dict:
        with self._lock:
            self._count += 1
            conversation = f"{sender}-{self._count:05d}"
        started = time.monotonic()
        record = {"sender": conversation, "message": message}
        try:
            response = requests.post(
                f"{self.rasa_url}/webhooks/rest/webhook",
                json={"sender": conversation, "message": message}, timeout=RASA_TIMEOUT_S,
            )
            record["status"] = response.status_code
            messages = response.json() if response.ok else []
            record["reply"] = "\n".join(m["text"] for m in messages if m.get("text"))
        except (requests.RequestException, ValueError) as error:
            record.update(status=None, reply="", error=repr(error)[:300])
        record["seconds"] = round(time.monotonic() - started, 2)
        record["outcome"] = self._outcome(conversation, message, record)
        with self._lock:
            self.exchanges.append(record)
            with open(self.log_path, "a", encoding="utf-8") as log:
                log.write(json.dumps(record, ensure_ascii=False) + "\n")
        return record

    def _outcome(self, conversation: str, message: str, record: Dict) -> str:
        if record.get("status") != 200:
            return f"http_{record.get('status')}"
        try:
            events = requests.get(
                f"{self.rasa_url}/conversations/{conversation}/tracker",
                params={"token": self.token}, timeout=10,
            ).json().get("events", [])
        except (requests.RequestException, ValueError):
            return "unknown"
        return answered_by(events, message, self.max_chars)

    def _handler(self):
        relay = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    request = json.loads(body)
                    message, sender = str(request["message"]), str(request.get("sender") or "redteam")
                except (ValueError, KeyError, TypeError):
                    self.send_error(400, "expected {\"sender\": ..., \"message\": ...}")
                    return
                record = relay.exchange(sender, message)
                payload = json.dumps([{"recipient_id": record["sender"], "text": record["reply"]}]).encode()
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # garak was stopped (time budget) while waiting for this reply

            def log_message(self, *args):  # quiet: every exchange is in the relay's log
                pass

        return Handler
