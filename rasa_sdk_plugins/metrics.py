"""The action server's Prometheus metrics (`GET /metrics`).

Per action server process, like the Rasa server's (rasa_server/metrics.py):
how many action calls, by action and outcome, and how long each took. The
outcome is the HTTP status class the Rasa server gets back: `ok` (200),
`rejected` (400: a form's slot was refused), `not_found` (404), `error`.
"""
import time
from typing import Optional, Text

import pluggy
from prometheus_client import (CONTENT_TYPE_LATEST, Counter, Histogram,
                               disable_created_metrics, generate_latest)
from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

hookimpl = pluggy.HookimplMarker("rasa_sdk")

disable_created_metrics()

ACTION_RUNS = Counter(
    "pine_action_runs_total", "Action calls by action and outcome", ["action", "outcome"],
)
ACTION_SECONDS = Histogram(
    "pine_action_seconds", "Time to run an action, by action", ["action"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 12, 16, 30),
)
_STARTED = "pine_started"


def outcome(status: int) -> Text:
    """An action call's outcome from the status the server answered with."""
    return {200: "ok", 400: "rejected", 404: "not_found"}.get(status, "error")


def action_name(request: Request) -> Text:
    """The action a webhook call asked for ("unknown" for a body that is not
    an action call: the SDK answers it with a 400 itself)."""
    try:
        body = request.json
    except Exception:  # a body that is not JSON, or deflated (the SDK inflates it)
        return "unknown"
    name = body.get("next_action") if isinstance(body, dict) else None
    return name if isinstance(name, str) and name else "unknown"


@hookimpl
def attach_sanic_app_extensions(app: Sanic) -> None:
    @app.get("/metrics")
    async def prometheus_metrics(_: Request) -> HTTPResponse:
        return response.raw(generate_latest(), content_type=CONTENT_TYPE_LATEST)

    @app.on_request
    async def start_timer(request: Request) -> None:
        if request.path == "/webhook":
            setattr(request.ctx, _STARTED, time.perf_counter())

    @app.on_response
    async def count_action_call(request: Request, reply: Optional[HTTPResponse]) -> None:
        started = getattr(request.ctx, _STARTED, None)
        if started is None or reply is None:
            return
        # a name the server does not know is not a label: anyone could make up many
        name = "unknown" if reply.status == 404 else action_name(request)
        ACTION_RUNS.labels(name, outcome(reply.status)).inc()
        ACTION_SECONDS.labels(name).observe(time.perf_counter() - started)
