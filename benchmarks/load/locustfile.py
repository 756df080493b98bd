"""Simulated Pine customers for Locust: whole conversations over REST through
the load balancer, one message per task run (so a stopping run lets the
message in flight finish, --stop-timeout, and stops between messages).

    PYTHONPATH=. .venv/load/bin/locust -f benchmarks/load/locustfile.py --headless \
        --host http://127.0.0.1:8088 -u 20 -r 10 -t 60s --stop-timeout 120 \
        --mix mixed --run-id try1 --client-log var/load/try1.jsonl

Each message carries `metadata = {message_id: "<sender>:<seq>", seq, load_run}`
and is retried by the rule of retry.py with the same body. Every message's
attempts and outcome go to the client log (JSON lines, read by check_store.py);
Locust gets one request per message, named after the step kind (`order_number`,
`open_question`, ...), with the latency of all its attempts together.

Run by run_load.py; one Locust process (the counter of conversations is per
process, and the client log is one file).
"""
import itertools
import json
import random
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

# `locust -f` puts this file's folder on sys.path, not the project's
ROOT = str(Path(__file__).resolve().parents[2])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import requests  # noqa: E402
from locust import User, events, task  # noqa: E402

from benchmarks.load import conversations as talk  # noqa: E402
from benchmarks.load import retry  # noqa: E402

REST_PATH = "/webhooks/rest/webhook"
conversation_numbers = itertools.count()  # per process: sender ids load-<run>-<n>
client_log = {"file": None}


@events.init_command_line_parser.add_listener
def add_arguments(parser) -> None:
    parser.add_argument("--mix", choices=sorted(talk.MIXES), default="structured",
                        env_var="PINE_LOAD_MIX", help="traffic mix (conversations.MIXES)")
    parser.add_argument("--run-id", default="manual", env_var="PINE_LOAD_RUN",
                        help="tags sender ids (load-<run>-<n>) and metadata.load_run")
    parser.add_argument("--client-log", default="", env_var="PINE_LOAD_CLIENT_LOG",
                        help="JSON lines file of every message's attempts and outcome")
    parser.add_argument("--think-time", type=float, default=0.0, env_var="PINE_LOAD_THINK_S",
                        help="mean seconds between a reply and the next message, ±50 %% (0: saturation)")
    parser.add_argument("--request-timeout", type=float, default=60.0,
                        env_var="PINE_LOAD_TIMEOUT_S", help="seconds per attempt")


@events.test_start.add_listener
def open_client_log(environment, **_) -> None:
    path = environment.parsed_options.client_log
    if path and client_log["file"] is None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        client_log["file"] = open(path, "a", buffering=1)  # a line per record


@events.quitting.add_listener
def close_client_log(**_) -> None:
    if client_log["file"] is not None:
        client_log["file"].close()
        client_log["file"] = None


def upstream_of(headers) -> str:
    """The replica that answered: nginx lists every one it tried, the last answered."""
    return headers.get("X-Pine-Upstream", "").split(",")[-1].strip()


class Customer(User):
    def wait_time(self) -> float:
        # jittered, so that customers do not send in lockstep
        think = self.environment.parsed_options.think_time
        return think * random.uniform(0.5, 1.5) if think > 0 else 0.0

    def on_start(self) -> None:
        options = self.environment.parsed_options
        self.mix, self.run_id = options.mix, options.run_id
        self.policy = retry.Policy(timeout_s=options.request_timeout)
        self.session = requests.Session()
        self.conversation: Optional[talk.Conversation] = None

    def on_stop(self) -> None:
        self.session.close()

    @task
    def send_next_message(self) -> None:
        if self.conversation is None or self.conversation.done:
            self.conversation = talk.start(self.mix, self.run_id, next(conversation_numbers))
        conversation = self.conversation
        step = talk.next_message(conversation)
        conversation.seq += 1
        record = self.deliver(conversation, step)
        if record["final_outcome"] == retry.OK:
            talk.react(conversation, step, record["replies"])
        else:
            talk.abandon(conversation)  # a customer left without an answer does not go on
        if client_log["file"] is not None:
            client_log["file"].write(json.dumps(record) + "\n")
        failure = None if record["final_outcome"] == retry.OK else Exception(
            f"{record['final_outcome']} {record['final_status']}")
        self.environment.events.request.fire(
            request_type="POST", name=step.kind, response_time=record["latency_s"] * 1000,
            response_length=record["bytes"], exception=failure, context={})

    def post(self, body: Dict) -> Tuple[int, Any, Dict[str, str], Optional[str], int]:
        """One attempt: status (0 = no response), JSON body, headers, error, bytes."""
        try:
            response = self.session.post(self.host + REST_PATH, json=body,
                                         timeout=self.policy.timeout_s)
        except requests.RequestException as error:
            return 0, None, {}, f"{type(error).__name__}: {error}"[:300], 0
        try:
            payload = response.json()
        except ValueError:
            payload = None
        return response.status_code, payload, dict(response.headers), None, len(response.content)

    def deliver(self, conversation: talk.Conversation, step: talk.Step) -> Dict:
        """Sends one message until it goes through or the retry budget ends."""
        body = talk.message_body(conversation.sender, step.text, conversation.seq, self.run_id)
        started_wall, started = time.time(), time.monotonic()
        attempts, first_failure_end, replies, size = [], None, [], 0
        while True:
            sent = time.monotonic()
            status, payload, headers, error, size = self.post(body)
            outcome = retry.classify(status, payload)
            texts = retry.bot_texts(payload)
            if retry.visible(outcome):
                replies = texts  # the last thing the customer saw
            attempts.append({
                "status": status, "outcome": outcome, "error": error,
                "latency_s": round(time.monotonic() - sent, 4),
                "upstream": upstream_of(headers),
                "replayed": headers.get("X-Pine-Replayed") == "1",
                "replies": texts,
            })
            if first_failure_end is None and outcome != retry.OK:
                first_failure_end = time.monotonic()
            since = time.monotonic() - first_failure_end if first_failure_end else 0.0
            wait = retry.next_wait(outcome, headers, len(attempts), since, self.policy)
            if wait is None:
                break
            time.sleep(wait)  # gevent-patched: yields to the other customers
        last = attempts[-1]
        return {
            "run": self.run_id, "sender": conversation.sender, "conversation": conversation.name,
            "seq": conversation.seq, "kind": step.kind, "text": step.text,
            "message_id": body["metadata"]["message_id"],
            "attempts": len(attempts), "statuses": [a["status"] for a in attempts],
            "attempt_log": attempts,
            "final_status": last["status"], "final_outcome": last["outcome"],
            "visible": any(retry.visible(a["outcome"]) for a in attempts),
            "replies": replies, "expected": talk.reply_matches(step, replies),
            "latency_s": round(time.monotonic() - started, 4),
            "upstream": last["upstream"], "replayed": last["replayed"],
            "time": datetime.fromtimestamp(started_wall, timezone.utc).isoformat(),
            "bytes": size,
        }
