"""What comes back from a provider: b64 results decoded, result URLs downloaded safely.

Result URLs are untrusted input. They are fetched without the API key, only
from the provider's own host or the hosts its operator lists, or else from a
host that resolves to public addresses only (checked before connecting, and
the connection goes to the checked address, so a second DNS answer cannot
swap in an internal one). Redirects to another host are refused. Each
download has a total deadline and a byte cap, the bytes must decode as an
image, and transient failures are retried (the download, never the paid
call) until the URL expires.
"""

from __future__ import annotations

import binascii
import ipaddress
import logging
import socket
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx
import pybase64

from editor import imaging
from editor.providers import http
from editor.providers.base import CallObserver, ProviderConfig, ProviderError, ResultImage

logger = logging.getLogger(__name__)

MAX_RESULT_BYTES = 50 * 1024 * 1024
MAX_RESULT_PIXELS = 100_000_000
# How long result URLs live when the provider does not say, how long one
# download attempt may take, and the longest pause between attempts.
DEFAULT_URL_LIFETIME = timedelta(hours=1)
DOWNLOAD_DEADLINE = 120.0
DOWNLOAD_BACKOFF_MAX = 30.0
MAX_REDIRECTS = 3


def decode_b64(config: ProviderConfig, value: str, *, index: int) -> ResultImage:
    if len(value) * 3 // 4 > MAX_RESULT_BYTES:
        raise _too_large_result(config, index)
    try:
        data = b64_bytes(value)
    except (binascii.Error, ValueError):
        raise http.safe_error(
            config,
            f"{config.name} sent result {index + 1} as base64 that does not decode.",
            code="bad_result",
            may_have_charged=True,
        ) from None
    return check_image(config, data, index=index)


def b64_bytes(value: str) -> bytes:
    """The bytes of ``value``, base64 (or a data URL) that may hold line breaks.

    pybase64 decodes strict base64 with SIMD: ~0.2 ms for a 4 MB result,
    where the standard library took ~9 ms, on the way to the user. Base64
    broken into lines (as some servers write it) is decoded leniently, as
    the standard library would; the image check that follows refuses what
    a stray character breaks.
    """
    text = value.split(",", 1)[1] if value.startswith("data:") else value
    try:
        return pybase64.b64decode(text, validate=True)
    except binascii.Error:
        return pybase64.b64decode(text)


def _too_large_result(config: ProviderConfig, index: int) -> ProviderError:
    return http.safe_error(
        config,
        f"Result {index + 1} from {config.name} is larger than "
        f"{MAX_RESULT_BYTES // 2**20} MB; Darkroom does not store it.",
        code="result_too_large",
        may_have_charged=True,
    )


def check_image(
    config: ProviderConfig,
    data: bytes,
    *,
    index: int,
    source_url: str = "",
    sha256: str | None = None,
) -> ResultImage:
    """``data`` checked as a result (``sha256``: its digest, when known)."""
    if len(data) > MAX_RESULT_BYTES:
        raise _too_large_result(config, index)
    try:
        # Kept as inputs are: upright, first frame, plain mode (usually as sent).
        prepared = imaging.prepare_image(data, max_pixels=MAX_RESULT_PIXELS, sha256=sha256)
    except imaging.ImageRejectedError as exc:
        raise http.safe_error(
            config,
            f"Result {index + 1} from {config.name} is not an image Darkroom can read ({exc}).",
            code="bad_result",
            may_have_charged=True,
        ) from None
    return ResultImage(data=prepared.data, source_url=source_url, info=prepared.info)


def data_items(config: ProviderConfig, payload: Any) -> list[dict[str, Any]]:
    """The ``data`` list of an images answer, or a clear error if it has none."""
    items = payload.get("data") if isinstance(payload, dict) else None
    if not isinstance(items, list) or not items:
        raise http.safe_error(
            config,
            f"{config.name} answered without any image (empty or missing “data”).",
            code="empty_result",
            may_have_charged=True,
        )
    if not all(isinstance(item, dict) for item in items):
        raise http.safe_error(
            config, f"{config.name} answered with a malformed “data” list.", code="bad_response"
        )
    return items


def collect_results(
    config: ProviderConfig,
    payload: Any,
    *,
    observer: CallObserver,
    url_deadline: datetime,
) -> tuple[list[ResultImage], list[str]]:
    """Decode b64 results and download URL results; returns (images, notices).

    A result that cannot be decoded, or downloaded before its URL expires, is
    reported in the notices rather than dropping the results that did arrive;
    only when nothing at all arrives does this raise.
    """
    items = data_items(config, payload)
    images: list[ResultImage] = []
    notices: list[str] = []
    failures: list[ProviderError] = []
    downloading = False
    for index, item in enumerate(items):
        url = item.get("url")
        has_b64 = bool(item.get("b64_json") or item.get("b64_ephemeral"))
        to_fetch = isinstance(url, str) and url and not url.startswith("data:")
        if to_fetch and not has_b64 and not downloading:
            observer.stage("downloading")
            downloading = True
        try:
            images.append(
                _result_image(
                    config, item, index=index, url_deadline=url_deadline, observer=observer
                )
            )
        except ProviderError as failure:
            # One bad result must not cost the others, which are paid for too.
            failures.append(failure)
    if failures and not images:
        raise failures[0]
    notices.extend(f"One result was made but not kept: {lost.message}" for lost in failures)
    return images, notices


# --- Result URLs ----------------------------------------------------------------


def _result_image(
    config: ProviderConfig,
    item: dict[str, Any],
    *,
    index: int,
    url_deadline: datetime,
    observer: CallObserver,
) -> ResultImage:
    b64 = item.get("b64_json") or item.get("b64_ephemeral")
    if isinstance(b64, str) and b64:
        if (decoded := observer.decoded_image(b64)) is not None:
            return check_image(config, decoded.data, index=index, sha256=decoded.sha256)
        return decode_b64(config, b64, index=index)
    url = item.get("url")
    if not isinstance(url, str) or not url:
        raise http.safe_error(
            config,
            f"Result {index + 1} from {config.name} has neither an image nor a URL.",
            code="bad_result",
            may_have_charged=True,
        )
    if url.startswith("data:"):
        return decode_b64(config, url, index=index)
    return download_result(config, url, deadline=url_deadline, index=index)


def _host_allowed(config: ProviderConfig, host: str) -> bool:
    own = (urlsplit(config.base_url).hostname or "").lower()
    allowed = {own, *(h.lower().strip() for h in config.result_hosts)}
    return host.lower() in allowed


def address_is_public(address: str) -> bool:
    """Whether ``address`` is a public unicast address a result may come from."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_reserved
        or ip.is_multicast
        or ip.is_unspecified
        or not ip.is_global
    )


def resolve_public(config: ProviderConfig, host: str, port: int) -> str:
    """One checked public address for ``host``; refuses if any address is not public."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise _TransientDownloadError(f"cannot resolve {host}: {exc}") from None
    addresses = [str(info[4][0]) for info in infos]
    refused = [address for address in addresses if not address_is_public(address)]
    if refused or not addresses:
        raise http.safe_error(
            config,
            f"{config.name} returned a result URL on {host}, which points to a private, "
            f"loopback or link-local address ({', '.join(refused) or 'none'}); Darkroom does "
            "not fetch it. Add the host to the provider's result hosts if it is trusted.",
            code="unsafe_result_url",
            may_have_charged=True,
            detail={"host": host},
        )
    return addresses[0]


class _TransientDownloadError(Exception):
    pass


def download_result(
    config: ProviderConfig, url: str, *, deadline: datetime, index: int = 0
) -> ResultImage:
    """Fetch one result URL safely, retrying transient failures until ``deadline``.

    Only the download is retried here, never the paid call that made the URL.
    """
    attempt = 0
    while True:
        attempt += 1
        try:
            return check_image(config, _download_once(config, url), index=index, source_url=url)
        except _TransientDownloadError as exc:
            reason = str(exc)
        pause = http.backoff(attempt, cap=DOWNLOAD_BACKOFF_MAX)
        left = (deadline - datetime.now(UTC)).total_seconds()
        if left <= pause:
            raise http.safe_error(
                config,
                f"{config.name} made result {index + 1} but Darkroom could not download it "
                f"after {attempt} attempt(s) ({reason}); the link expired at "
                f"{deadline:%Y-%m-%d %H:%M} UTC. The provider has likely charged for it.",
                code="download_failed",
                may_have_charged=True,
                detail={"url": _display_url(url)},
            )
        logger.info("Retrying a result download for %s: %s", config.name, reason)
        http.sleep(pause)


def _display_url(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def _download_once(config: ProviderConfig, url: str) -> bytes:
    start = time.monotonic()
    current = url
    for _ in range(MAX_REDIRECTS + 1):
        parts = urlsplit(current)
        host = parts.hostname or ""
        if parts.scheme not in ("http", "https") or not host:
            raise http.safe_error(
                config,
                f"{config.name} returned a result URL Darkroom cannot fetch ({parts.scheme}:).",
                code="unsafe_result_url",
                may_have_charged=True,
            )
        port = parts.port or (443 if parts.scheme == "https" else 80)
        target = current
        extensions: dict[str, Any] = {}
        headers = {"Accept": "image/*"}
        if not _host_allowed(config, host):
            # Connect to the address just checked, so a second DNS answer
            # cannot swap in an internal one.
            address = resolve_public(config, host, port)
            ip_host = f"[{address}]" if ":" in address else address
            target = urlunsplit((parts.scheme, f"{ip_host}:{port}", parts.path, parts.query, ""))
            headers["Host"] = parts.netloc.rsplit("@", 1)[-1]
            if parts.scheme == "https":
                extensions["sni_hostname"] = host
        remaining = DOWNLOAD_DEADLINE - (time.monotonic() - start)
        if remaining <= 0:
            raise _TransientDownloadError("the download took too long")
        with http.client_for(config, remaining) as client:
            # No Authorization header: result hosts never see the API key.
            request = client.build_request("GET", target, headers=headers, extensions=extensions)
            try:
                exchange, _ = http.send_and_read(
                    client, request, seconds=remaining, max_bytes=MAX_RESULT_BYTES
                )
            except http.TooLargeError:
                raise http.safe_error(
                    config,
                    f"A result from {config.name} is larger than "
                    f"{MAX_RESULT_BYTES // 2**20} MB; Darkroom does not store it.",
                    code="result_too_large",
                    may_have_charged=True,
                ) from None
            except http.DeadlineExpiredError:
                raise _TransientDownloadError("the download took too long") from None
            except (httpx.HTTPError, OSError) as exc:
                raise _TransientDownloadError(http.reason(exc)) from None
        if exchange.status in (301, 302, 303, 307, 308):
            location = exchange.headers.get("location", "")
            following = urljoin(current, location)
            if (urlsplit(following).hostname or "").lower() != host.lower():
                raise http.safe_error(
                    config,
                    f"A result URL from {config.name} redirected to another host "
                    f"({urlsplit(following).hostname}); Darkroom does not follow it.",
                    code="unsafe_result_url",
                    may_have_charged=True,
                )
            current = following
            continue
        if (
            exchange.status == 408
            or exchange.status in http.RETRY_STATUSES
            or exchange.status >= 500
        ):
            raise _TransientDownloadError(f"HTTP {exchange.status}")
        if exchange.status >= 400:
            raise http.safe_error(
                config,
                f"{config.name}'s result URL answered HTTP {exchange.status} "
                "(expired or removed); the image could not be downloaded.",
                code="download_failed",
                may_have_charged=True,
                detail={"url": _display_url(url), "status": exchange.status},
            )
        return exchange.body
    raise http.safe_error(
        config,
        f"A result URL from {config.name} redirected too many times.",
        code="unsafe_result_url",
        may_have_charged=True,
    )


def url_deadline(seconds: float | None = None) -> datetime:
    lifetime = timedelta(seconds=seconds) if seconds else DEFAULT_URL_LIFETIME
    return datetime.now(UTC) + lifetime
