"""HTTP layer: ``create_app(config) -> Sanic``, the wiring of the pieces.

``routes.py`` answers requests, ``readiness.py`` knows whether the models are loaded,
``startup.py`` loads them in a background thread after the server starts listening (so ``/health``
answers 503 while loading and 200 once ready), and every error leaves as one JSON shape.
"""

from __future__ import annotations

import asyncio
import logging

from sanic import Sanic
from sanic.exceptions import SanicException
from sanic.request import Request

from . import loading
from .config import Config
from .errors import ApiError
from .metrics import Metrics
from .readiness import Readiness
from .routes import Routes
from .startup import LoadModels, load_in_background, load_models

log = logging.getLogger(__name__)


class ErrorHandlers:
    """One JSON shape for every error: ours, Sanic's (404, 405, 413 ...), and bugs (500)."""

    def __init__(self, metrics: Metrics):
        self.metrics = metrics

    def register(self, app: Sanic) -> None:
        app.exception(ApiError)(self.api_error)
        app.exception(SanicException)(self.sanic_error)
        app.exception(Exception)(self.unexpected)

    def api_error(self, request: Request, exc: ApiError):
        self.metrics.requests.labels(request.path, str(exc.status)).inc()
        return exc.response()

    def sanic_error(self, request: Request, exc: SanicException):
        status = getattr(exc, "status_code", 500) or 500
        kind = "invalid_request_error" if status < 500 else "server_error"
        return ApiError(status, str(exc), type_=kind).response()

    def unexpected(self, request: Request, exc: Exception):
        log.exception("unhandled error on %s", request.path)
        return ApiError(500, "internal server error", type_="server_error").response()


def create_app(config: Config, name: str = "model_server",
               load: LoadModels = load_models) -> Sanic:
    """``load`` builds the models (the real ones by default) in the loader thread."""
    loading.enforce_offline()
    app = Sanic(name)
    app.config.REQUEST_MAX_SIZE = 4 * 1024 * 1024
    app.config.RESPONSE_TIMEOUT = config.request_timeout_s + 30
    app.config.REQUEST_TIMEOUT = 60
    metrics = Metrics()
    readiness = Readiness()
    app.ctx.metrics, app.ctx.readiness = metrics, readiness

    async def start_loading(app_: Sanic):
        load_in_background(load, config, metrics, readiness, asyncio.get_running_loop())

    async def stop_engine(app_: Sanic):
        if readiness.models is not None:
            readiness.models.engine.stop()

    app.register_listener(start_loading, "before_server_start")
    app.register_listener(stop_engine, "after_server_stop")
    ErrorHandlers(metrics).register(app)
    Routes(config, metrics, readiness).register(app)
    return app
