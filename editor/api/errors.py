"""Errors of the image API in OpenAI's shape: ``{"error": {message, type, param, code}}``.

Clients (the openai SDK, Open WebUI) read the status code to pick an error
class and show ``error.message``, so the message is Darkroom's own readable
sentence, the same one the web form shows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from django.http import HttpRequest, JsonResponse

API_PREFIX = "/v1/"

# OpenAI's ``type`` for each status Darkroom answers with.
TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "invalid_request_error",
    405: "invalid_request_error",
    409: "invalid_request_error",
    413: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
    500: "server_error",
    502: "server_error",
    503: "server_error",
}


@dataclass
class ApiError(Exception):
    status: int
    message: str
    code: str | None = None
    param: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def response(self) -> JsonResponse:
        return error_response(
            status=self.status,
            message=self.message,
            code=self.code,
            param=self.param,
            headers=self.headers,
        )


def error_response(
    *,
    status: int,
    message: str,
    code: str | None = None,
    param: str | None = None,
    headers: dict[str, str] | None = None,
) -> JsonResponse:
    body = {
        "error": {
            "message": message,
            "type": TYPES.get(status, "invalid_request_error"),
            "param": param,
            "code": code,
        }
    }
    response = JsonResponse(body, status=status)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def retry_after(seconds: float) -> dict[str, str]:
    return {"Retry-After": str(max(1, math.ceil(seconds)))}


def is_api_request(request: HttpRequest) -> bool:
    """Whether a refusal for ``request`` should be API JSON rather than a page."""
    return request.path.startswith(API_PREFIX)
