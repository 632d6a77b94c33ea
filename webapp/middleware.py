"""Project-wide request and response rules: security headers, request size,
private caching and readable refusals."""

from __future__ import annotations

import tempfile
from collections.abc import Callable

from django.conf import settings
from django.core.handlers.wsgi import LimitedStream
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.utils.cache import patch_cache_control

from webapp import errors

GetResponse = Callable[[HttpRequest], HttpResponse]


class ContentSecurityPolicyMiddleware:
    """Adds ``DARKROOM_CSP`` to every response that does not set its own."""

    def __init__(self, get_response: GetResponse) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if settings.DARKROOM_CSP:
            response.headers.setdefault("Content-Security-Policy", settings.DARKROOM_CSP)
        return response


class PrivatePagesMiddleware:
    """``Cache-Control: private, no-store`` on everything a logged-in user gets.

    Pages and files of an account must never be kept by a shared cache, nor
    by the browser once the person logged out of a shared computer.
    """

    def __init__(self, get_response: GetResponse) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if request.user.is_authenticated:
            patch_cache_control(response, private=True, no_store=True)
        return response


class ReadableRefusalsMiddleware:
    """Turns the bare 405 that Django's method checks return into a page."""

    def __init__(self, get_response: GetResponse) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if isinstance(response, HttpResponseNotAllowed):
            allowed = [method.strip() for method in response["Allow"].split(",") if method.strip()]
            return errors.method_not_allowed(request, allowed)
        return response


def declared_length(request: HttpRequest) -> int:
    """The body's Content-Length; 0 when it has none or an unreadable one
    (Django reads such a body as empty, and so does Darkroom)."""
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


class RequestSizeLimitMiddleware:
    """Refuses a request body over ``DARKROOM_MAX_REQUEST_BYTES`` with a 413.

    A declared Content-Length over the limit is refused before a byte of the
    body is read. A body of unknown length (chunked) is read up to the limit
    into a temporary file, deleted when the request ends, and refused the
    moment it passes the limit; Django itself would read such a body as empty.

    It sits after every middleware that sets request attributes the refusal
    page needs (user, htmx) and before anything reads the body: the CSRF check
    reads the form only in ``process_view``, after every ``__call__``.
    """

    def __init__(self, get_response: GetResponse) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit = settings.DARKROOM_MAX_REQUEST_BYTES
        declared = declared_length(request)
        if declared > limit:
            return self.too_large(request)
        if declared or "HTTP_TRANSFER_ENCODING" not in request.META:
            return self.get_response(request)
        environ = getattr(request, "environ", {})
        if not environ.get("wsgi.input_terminated"):
            # Without a length and without a server that ends the stream,
            # there is no telling where the body stops: read nothing.
            return self.get_response(request)
        body = tempfile.SpooledTemporaryFile(  # noqa: SIM115 (closed below)
            max_size=settings.FILE_UPLOAD_MAX_MEMORY_SIZE, dir=settings.FILE_UPLOAD_TEMP_DIR
        )
        try:
            size = 0
            while chunk := environ["wsgi.input"].read(64 * 1024):
                size += len(chunk)
                if size > limit:
                    return self.too_large(request)
                body.write(chunk)
            body.seek(0)
            # Django knows no chunked bodies; it reads one of known length.
            request.META["CONTENT_LENGTH"] = str(size)
            request._stream = LimitedStream(body, size)  # type: ignore[attr-defined,arg-type,assignment]
            return self.get_response(request)
        finally:
            body.close()

    def too_large(self, request: HttpRequest) -> HttpResponse:
        return errors.refusal(request, status=413, explanation=errors.upload_too_large_text())
