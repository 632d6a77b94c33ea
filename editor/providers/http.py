"""HTTP for every provider kind: deadlines, safe retries, readable errors.

Two rules shape everything here:

* Money: a paid call is repeated only when it surely did not run (it could not
  connect, or the provider refused it with 429/502/503/504 before doing any
  work). Once the request went out, a timeout or broken connection fails the
  call with ``may_have_charged=True`` and the user decides whether to retry.
* Trust: the API key goes only in the Authorization header to the provider's
  own base URL, and never into a message, detail or log line. (Result URLs
  are fetched by ``results``, never with the key.)

httpx's read timeout is per read, so a server dribbling a byte a second never
trips it: each call also has a total deadline, enforced by a watchdog that
shuts the socket down, and a byte cap on what it will read.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import random
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import orjson

from editor.providers.base import CallObserver, NullObserver, ProviderConfig, ProviderError

logger = logging.getLogger(__name__)

# Attempts for a call that surely did not run (connect errors, 429, 502-504).
MAX_ATTEMPTS = 3
BACKOFF_BASE = 1.0
BACKOFF_MAX = 20.0
# A Retry-After longer than this is not waited for: the job fails, retryable.
RETRY_AFTER_MAX = 60.0
# Caps on what Darkroom reads from a provider.
MAX_RESPONSE_BYTES = 256 * 1024 * 1024

RETRY_STATUSES = {429, 502, 503, 504}
MIME_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}
EXTENSIONS = {"PNG": "png", "JPEG": "jpg", "WEBP": "webp"}

# Tests replace these to run without real pauses.
sleep: Callable[[float], None] = time.sleep
jitter: Callable[[], float] = random.random


def redact(text: str, config: ProviderConfig) -> str:
    """``text`` with the provider's API key removed, wherever it appears."""
    if config.api_key and len(config.api_key) >= 4:
        text = text.replace(config.api_key, "[redacted]")
    return text


def _redact_value(value: Any, config: ProviderConfig) -> Any:
    if isinstance(value, str):
        return redact(value, config)
    if isinstance(value, dict):
        return {key: _redact_value(item, config) for key, item in value.items()}
    if isinstance(value, list):
        return [_redact_value(item, config) for item in value]
    return value


def redact_payload(config: ProviderConfig, payload: dict[str, Any]) -> dict[str, Any]:
    """The payload as it may be saved: without the API key, should it echo it."""
    if config.api_key and len(config.api_key) >= 4 and _mentions(payload, config.api_key):
        return dict(_redact_value(payload, config))
    return payload


def _mentions(value: Any, text: str) -> bool:
    """Whether any key or string in ``value`` contains ``text``.

    Searched where it is rather than in ``json.dumps(value)``: answers hold
    megabytes of base64, which dumping took ~12 ms to copy and escape.
    """
    if isinstance(value, str):
        return text in value
    if isinstance(value, dict):
        return any(_mentions(key, text) or _mentions(item, text) for key, item in value.items())
    if isinstance(value, list):
        return any(_mentions(item, text) for item in value)
    return False


def images_answer(
    config: ProviderConfig, payload: Any, *, observer: CallObserver
) -> dict[str, Any]:
    """Check that ``payload`` is an images answer and save it (without the key).

    It is saved before anything is decoded or downloaded, so a crash after
    this point can never lose a result that was paid for.
    """
    if not isinstance(payload, dict):
        raise safe_error(
            config,
            f"{config.name} answered with JSON that is not an images answer.",
            code="bad_response",
            may_have_charged=True,
        )
    payload = redact_payload(config, payload)
    observer.response_received(payload)
    return payload


def safe_error(config: ProviderConfig, message: str, *, code: str, **kwargs: Any) -> ProviderError:
    """A ProviderError whose message and detail cannot carry the API key."""
    detail = _redact_value(dict(kwargs.pop("detail", None) or {}), config)
    return ProviderError(redact(message, config), code=code, detail=detail, **kwargs)


def backoff(attempt: int, *, cap: float = BACKOFF_MAX) -> float:
    """Exponential backoff with full jitter (attempt counts from 1)."""
    ceiling = min(cap, BACKOFF_BASE * 2 ** (attempt - 1))
    return ceiling / 2 + ceiling / 2 * jitter()


def retry_after_seconds(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


# --- One HTTP exchange with a total deadline --------------------------------


class DeadlineExpiredError(Exception):
    def __init__(self, *, sending_started: bool = True) -> None:
        super().__init__("deadline expired")
        # False when the deadline passed before a byte of the request went out.
        self.sending_started = sending_started


class TooLargeError(Exception):
    pass


@dataclass
class _Exchange:
    status: int
    headers: httpx.Headers
    body: bytes
    url: str


class _Watchdog:
    """Shuts the connection's socket when the deadline passes.

    httpcore reports the socket through its trace hook as soon as it connects,
    so even a read blocked waiting for headers is interrupted on time.
    """

    def __init__(self, seconds: float, on_sent: Callable[[], None] | None = None) -> None:
        self.expired = False
        self.sending_started = False
        self.sent = False
        self._on_sent = on_sent
        self._sockets: list[Any] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(max(0.0, seconds), self._expire)
        self._timer.daemon = True

    def __enter__(self) -> _Watchdog:
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()

    def trace(self, event: str, info: dict[str, Any]) -> None:
        if event.endswith("connect_tcp.complete") or event.endswith("start_tls.complete"):
            stream = info.get("return_value")
            sock = stream.get_extra_info("socket") if stream is not None else None
            if sock is not None:
                with self._lock:
                    self._sockets.append(sock)
                    if self.expired:
                        self._shutdown(sock)
        elif event.endswith("send_request_headers.started"):
            self.sending_started = True
        elif event.endswith("send_request_body.complete") and not self.sent:
            self.sent = True
            if self._on_sent is not None:
                self._on_sent()

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._sockets:
                self._shutdown(sock)

    @staticmethod
    def _shutdown(sock: Any) -> None:
        # The plain socket's shutdown, also for TLS sockets: it wakes a read
        # blocked in another thread without tearing down the TLS object under it.
        with contextlib.suppress(OSError, TypeError):
            socket.socket.shutdown(sock, socket.SHUT_RDWR)


def send_and_read(
    client: httpx.Client,
    request: httpx.Request,
    *,
    seconds: float,
    max_bytes: int,
    on_sent: Callable[[], None] | None = None,
) -> tuple[_Exchange, _Watchdog]:
    """Send ``request`` and read the whole body within ``seconds``.

    Raises httpx errors as they come (the caller decides what they mean),
    DeadlineExpiredError or TooLargeError; the returned watchdog tells
    whether the request body was completely sent.
    """
    start = time.monotonic()
    with _Watchdog(seconds, on_sent) as watchdog:
        request.extensions = {**request.extensions, "trace": watchdog.trace}
        try:
            response = client.send(request, stream=True)
            try:
                declared = response.headers.get("content-length")
                if declared and declared.isdigit() and int(declared) > max_bytes:
                    raise TooLargeError()
                chunks: list[bytes] = []
                total = 0
                # Decoded bytes: the cap also stops a compressed bomb.
                for chunk in response.iter_bytes():
                    total += len(chunk)
                    if total > max_bytes:
                        raise TooLargeError()
                    if time.monotonic() - start > seconds:
                        raise DeadlineExpiredError()
                    chunks.append(chunk)
            finally:
                response.close()
        except Exception as exc:
            if watchdog.expired and not isinstance(exc, TooLargeError):
                raise DeadlineExpiredError(sending_started=watchdog.sending_started) from exc
            raise
        if watchdog.expired:
            raise DeadlineExpiredError()
    return (
        _Exchange(
            status=response.status_code,
            headers=response.headers,
            body=b"".join(chunks),
            url=str(request.url),
        ),
        watchdog,
    )


def client_for(config: ProviderConfig, seconds: float) -> httpx.Client:
    return httpx.Client(
        timeout=httpx.Timeout(seconds, connect=config.connect_timeout),
        follow_redirects=False,
        trust_env=False,
        verify=_tls_context(),
    )


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """One TLS context per process, shared by every call's client.

    Building one loads certifi's CA bundle: ~30 ms of CPU, which each
    provider call paid when its client made its own (measured: most of
    Darkroom's own time on a 1 s call through the image API). A context is
    safe to share between threads.
    """
    return httpx.create_ssl_context(trust_env=False)


# --- Paid calls to the provider's API ---------------------------------------


def call_json(
    config: ProviderConfig,
    method: str,
    path: str,
    *,
    observer: CallObserver | None = None,
    json_body: Mapping[str, Any] | None = None,
    data: Sequence[tuple[str, str]] | None = None,
    files: Sequence[tuple[str, tuple[str, bytes, str]]] | None = None,
) -> Any:
    """Call ``{base_url}{path}`` and return the parsed JSON answer.

    Retries only when the call surely did not run; any error the provider
    reports, in whatever status it came with, becomes a readable ProviderError.
    """
    observer = observer or NullObserver()
    url = config.base_url.rstrip("/") + path
    headers = {"Authorization": f"Bearer {config.api_key}", "Accept": "application/json"}
    started = time.monotonic()
    attempt = 0
    # Why the last attempt surely did not run, should time run out before the next.
    not_run: ProviderError | None = None
    while True:
        attempt += 1
        remaining = config.deadline - (time.monotonic() - started)
        if remaining <= 0:
            raise not_run or _timeout_error(config, sent=False)
        observer.stage("sending")
        with client_for(config, remaining) as client:
            try:
                request = client.build_request(
                    method,
                    url,
                    headers=headers,
                    json=json_body,
                    data=_form_fields(data) if data is not None else None,
                    files=list(files) if files is not None else None,
                )
                exchange, _ = send_and_read(
                    client,
                    request,
                    seconds=remaining,
                    max_bytes=MAX_RESPONSE_BYTES,
                    on_sent=lambda: observer.stage("waiting"),
                )
            except (httpx.UnsupportedProtocol, httpx.InvalidURL):
                raise safe_error(
                    config,
                    f"The base URL of {config.name} ({config.base_url or 'empty'}) is not a "
                    "valid http:// or https:// address; fix it in the provider's settings. "
                    "Nothing was sent.",
                    code="bad_configuration",
                ) from None
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                # Nothing reached the provider: safe to try again.
                not_run = safe_error(
                    config,
                    f"Could not connect to {config.name} after {_attempts(attempt)} "
                    f"({reason(exc)}). Nothing was sent, so nothing was charged; "
                    "try again later.",
                    code="provider_unreachable",
                    retryable=True,
                )
                if attempt < MAX_ATTEMPTS:
                    _pause(backoff(attempt), started, config)
                    continue
                raise not_run from None
            except DeadlineExpiredError as exc:
                if not exc.sending_started:
                    raise not_run or _timeout_error(config, sent=False) from None
                raise _timeout_error(config, sent=True) from None
            except TooLargeError:
                raise safe_error(
                    config,
                    f"{config.name} sent back more than {MAX_RESPONSE_BYTES // 2**20} MB; "
                    "Darkroom stopped reading. The provider may have charged for this call.",
                    code="response_too_large",
                    may_have_charged=True,
                ) from None
            except (httpx.HTTPError, OSError) as exc:
                raise _timeout_error(config, sent=True, reason=reason(exc)) from None
        if exchange.status in RETRY_STATUSES:
            wait = retry_after_seconds(exchange.headers.get("retry-after"))
            left = config.deadline - (time.monotonic() - started)
            not_run = _refused_error(config, exchange, attempts=attempt, retry_after=wait)
            if attempt < MAX_ATTEMPTS and (wait is None or wait <= min(RETRY_AFTER_MAX, left)):
                _pause(max(wait or 0.0, backoff(attempt)), started, config)
                continue
            raise not_run
        return parse_answer(config, exchange.status, exchange.headers, exchange.body)


def _form_fields(data: Sequence[tuple[str, str]]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for name, value in data:
        if name in fields:
            existing = fields[name]
            fields[name] = [*existing, value] if isinstance(existing, list) else [existing, value]
        else:
            fields[name] = value
    return fields


def _pause(seconds: float, started: float, config: ProviderConfig) -> None:
    remaining = config.deadline - (time.monotonic() - started)
    if seconds >= remaining:
        seconds = max(0.0, remaining - 0.01)
    sleep(seconds)


def reason(exc: BaseException) -> str:
    text = str(exc).strip()
    kind = type(exc).__name__
    return f"{kind}: {text}" if text else kind


def _attempts(count: int) -> str:
    return "1 attempt" if count == 1 else f"{count} attempts"


def _timeout_error(config: ProviderConfig, *, sent: bool, reason: str = "") -> ProviderError:
    if not sent:
        return safe_error(
            config,
            f"{config.name} could not be reached within {config.deadline:g} seconds. Nothing "
            "was sent, so nothing was charged; try again later.",
            code="provider_unreachable",
            retryable=True,
        )
    why = f" ({reason})" if reason else ""
    return safe_error(
        config,
        f"{config.name} did not finish answering within {config.deadline:g} seconds or the "
        f"connection broke after the request was sent{why}. The provider may have charged "
        "for this call and may still make the image, so Darkroom did not repeat it "
        "automatically; you can retry it.",
        code="provider_timeout",
        may_have_charged=sent,
    )


def _refused_error(
    config: ProviderConfig, exchange: _Exchange, *, attempts: int, retry_after: float | None
) -> ProviderError:
    provider_text = ""
    try:
        error = parse_answer(config, exchange.status, exchange.headers, exchange.body)
    except ProviderError as exc:
        provider_text = f" It said: {exc.message}"
    else:
        provider_text = f" It said: {str(error)[:200]}"
    wait = f" It asked to wait {retry_after:g} seconds." if retry_after is not None else ""
    busy = "rate-limited Darkroom" if exchange.status == 429 else "was unavailable"
    return safe_error(
        config,
        f"{config.name} {busy} (HTTP {exchange.status}) after {_attempts(attempts)}.{wait} "
        f"Nothing was charged; try again later.{provider_text}",
        code="rate_limited" if exchange.status == 429 else "provider_unavailable",
        retryable=True,
        retry_after=retry_after,
        detail={"status": exchange.status},
    )


def parse_answer(
    config: ProviderConfig, status: int, headers: Mapping[str, str], body: bytes
) -> Any:
    """The JSON in ``body``, or a ProviderError that says what came instead.

    The status alone is never trusted: ImageRouter answers 200, writes spaces
    while the model runs, and may then write an error body.
    """
    # Where the answer starts (ImageRouter writes spaces while the model
    # runs), found without copying a body of megabytes.
    start = _LEADING_SPACE.match(body).end()  # type: ignore[union-attr]
    head = body[start : start + 200]
    content_type = headers.get("content-type", "").lower()
    if not head:
        raise safe_error(
            config,
            f"{config.name} answered HTTP {status} with an empty body.",
            code="bad_response",
            may_have_charged=status < 400,
            detail={"status": status},
        )
    if "html" in content_type or head[:1] == b"<":
        raise safe_error(
            config,
            f"{config.name} answered HTTP {status} with a web page instead of an API answer "
            "(often a proxy or gateway error). Check the provider's base URL, or try again later.",
            code="bad_response",
            may_have_charged=status < 400,
            detail={"status": status, "start": head.decode("utf-8", "replace")},
        )
    try:
        payload = _json_loads(body)
    except (ValueError, UnicodeDecodeError):
        raise safe_error(
            config,
            f"{config.name} answered HTTP {status} with something that is not valid JSON.",
            code="bad_response",
            may_have_charged=status < 400,
            detail={"status": status, "start": head.decode("utf-8", "replace")},
        ) from None
    if isinstance(payload, dict) and payload.get("error"):
        raise provider_error(config, status, payload)
    if status >= 400:
        raise provider_error(config, status, payload if isinstance(payload, dict) else {})
    return payload


_LEADING_SPACE = re.compile(rb"\s*")


def _json_loads(body: bytes) -> Any:
    """``body`` parsed: by orjson (~1 ms for a 4 MB answer, where the
    standard library takes ~5), else by the standard library, which also
    reads what orjson refuses (NaN, integers past 64 bits)."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return json.loads(body)


def provider_error(
    config: ProviderConfig, status: int, payload: Mapping[str, Any]
) -> ProviderError:
    """The provider's own error (message, type, code; moderation stage and categories)."""
    error = payload.get("error")
    if isinstance(error, dict):
        message = str(error.get("message") or "").strip()
        error_type = str(error.get("type") or "")
        error_code = str(error.get("code") or "")
        param = str(error.get("param") or "")
        moderation = error.get("moderation_details") or payload.get("moderation_details") or {}
    else:
        message = str(error or payload.get("message") or payload.get("detail") or "").strip()
        error_type = error_code = param = ""
        moderation = payload.get("moderation_details") or {}
    message = message or f"HTTP {status} without an explanation"
    detail: dict[str, Any] = {
        "status": status,
        "provider_message": message,
        "type": error_type,
        "provider_code": error_code,
    }
    if param:
        detail["param"] = param
    if error_code == "moderation_blocked" or moderation:
        stage = str((moderation or {}).get("moderation_stage") or "unknown")
        categories = [str(c) for c in (moderation or {}).get("categories") or []]
        detail.update(stage=stage, categories=categories)
        listed = ", ".join(categories) if categories else "none given"
        return safe_error(
            config,
            f"{config.name}'s safety system refused this request at the {stage} stage "
            f"(categories: {listed}). It said: {message}",
            code="moderation_blocked",
            detail=detail,
        )
    labels = ", ".join(
        part
        for part in (
            f"type {error_type}" if error_type else "",
            f"code {error_code}" if error_code else "",
        )
        if part
    )
    suffix = f" ({labels})" if labels else ""
    if status in (401, 403):
        code = "auth_failed"
    elif status == 429:
        code = "rate_limited"
    elif status >= 500:
        code = "provider_error"
    else:
        code = "request_rejected"
    return safe_error(
        config,
        f"{config.name} refused the request (HTTP {status}): {message}{suffix}",
        code=code,
        detail=detail,
    )
