"""The one error type the server answers with: OpenAI-shaped JSON and an HTTP status."""

from __future__ import annotations

from typing import Optional

from sanic.response import HTTPResponse, json as json_response


class ApiError(Exception):
    """An error answered to the client as ``{"error": {...}}`` with an HTTP status."""

    def __init__(self, status: int, message: str, param: Optional[str] = None,
                 type_: str = "invalid_request_error", code: Optional[str] = None,
                 headers: Optional[dict] = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.type = type_
        self.code = code
        self.headers = headers or {}

    def body(self) -> dict:
        return {"error": {"message": self.message, "type": self.type,
                          "param": self.param, "code": self.code}}

    def response(self) -> HTTPResponse:
        return json_response(self.body(), status=self.status, headers=self.headers)
