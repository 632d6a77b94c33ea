"""Job changes pushed to whoever waits for them (Redis pub/sub).

Whatever changes a job's row that its page shows (claim, stage, results,
failure, cancel, the sweep) calls ``job_changed``. Each open
``/jobs/<id>/events/`` stream, and each API request waiting for its job
(editor/api/waiting.py), is subscribed to the job's channel and hears of it
at once. Without ``DARKROOM_EVENTS_URL`` (by default the broker's Redis,
when the broker is Redis) nothing is published: pages poll and API requests
re-read the job. A lost message costs nothing worse than that: subscribers
also re-read the job now and then.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

from django.conf import settings

logger = logging.getLogger(__name__)

KEEPALIVE_SECONDS = 15.0
# A stream ends after this long; the browser's EventSource opens a new one,
# so no connection outlives a deploy or a changed password for long.
STREAM_SECONDS = 10 * 60
# Per process: above gevent's WEB_WORKER_CONNECTIONS (1 000 by default).
MAX_REDIS_CONNECTIONS = 5000

# What a change message says. Pages re-read the job at any change; a request
# waiting for the job's end (editor/api/waiting.py) skips the progress of a
# job still queued or running, and needs no re-read to know it ended.
PROGRESS = "progress"  # claimed, or at a new stage: still running
ENDED = "ended"  # succeeded, failed or canceled
CHANGED = "changed"  # anything else: read the row to know
_WEIGHT = {PROGRESS: 0, CHANGED: 1, ENDED: 2}

_lock = threading.Lock()
_clients: dict[str, Any] = {}


def enabled() -> bool:
    """Whether job changes are published (and so can be waited for)."""
    return bool(settings.DARKROOM_EVENTS_URL)


def pages_enabled() -> bool:
    """Whether open job pages keep a stream of their job's changes."""
    return enabled() and settings.DARKROOM_PAGE_EVENTS


def _client() -> Any:
    import redis

    url = settings.DARKROOM_EVENTS_URL
    with _lock:
        if url not in _clients:
            # Short timeouts: a publish must never hold up a job for long. Each
            # open stream holds a connection of its own (its subscription):
            # redis-py's default pool refused the 100-somethingth (bench).
            _clients[url] = redis.Redis.from_url(
                url,
                socket_connect_timeout=0.5,
                socket_timeout=2,
                health_check_interval=30,
                max_connections=MAX_REDIS_CONNECTIONS,
            )
        return _clients[url]


def channel(job_id: uuid.UUID | str) -> str:
    return f"darkroom:job:{job_id}"


def job_changed(job_id: uuid.UUID | str, *, news: str = CHANGED) -> None:
    """Tell whoever watches ``job_id`` that it changed, and how
    (``PROGRESS``, ``ENDED``, ``CHANGED``); a no-op without Redis."""
    if not enabled():
        return
    import redis

    try:
        _client().publish(channel(job_id), news)
    except redis.RedisError:
        # Pages fall back to their periodic re-read; the job goes on.
        logger.warning("Could not publish a change of job %s", job_id, exc_info=True)


def sse(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()


class JobChanges:
    """A subscription to one job's changes.

    Made before the job is first read, so a change between the read and the
    first wait is not missed. Close it when done (it holds a connection).
    """

    def __init__(self, job_id: uuid.UUID | str) -> None:
        self._pubsub = _client().pubsub(ignore_subscribe_messages=True)
        self._pubsub.subscribe(channel(job_id))

    def wait(self, timeout: float) -> str | None:
        """Block until the job changes or ``timeout`` passes (None).

        A burst of changes counts once, as its weightiest news (``ENDED``
        over ``CHANGED`` over ``PROGRESS``): one re-read sees them all. None
        may also come early (on the subscription's own confirmation), so
        callers re-read the job then.
        """
        message = self._pubsub.get_message(timeout=timeout)
        if message is None:
            return None
        news = _news(message)
        while (message := self._pubsub.get_message(timeout=0)) is not None:
            news = max(news, _news(message), key=_WEIGHT.__getitem__)
        return news

    def close(self) -> None:
        self._pubsub.close()


def _news(message: dict[str, Any]) -> str:
    data = message.get("data")
    news = data.decode(errors="replace") if isinstance(data, bytes) else str(data)
    return news if news in _WEIGHT else CHANGED


def job_stream(job_id: uuid.UUID | str, *, read_version: Any) -> Iterator[bytes]:
    """Server-sent events for one job: its version now, then at each change.

    ``read_version()`` returns the job's current ``JobVersion`` (one query),
    or None once the job is gone (deleted, or in the trash: the browser's
    reconnection then gets a 404 and stops). The stream ends then, or once
    the job is final. Subscribed before the first read, so a change between
    the two is never missed.
    """
    changes = JobChanges(job_id)
    ends = time.monotonic() + STREAM_SECONDS
    try:
        sent_etag = ""
        # The browser reconnects after this many ms if the stream drops.
        yield b"retry: 1000\n\n"
        while True:
            version = read_version()
            if version is None:
                return
            if version.etag != sent_etag:
                sent_etag = version.etag
                yield sse("change", {"etag": version.etag, "final": version.is_final})
            if version.is_final or time.monotonic() >= ends:
                return
            if not changes.wait(KEEPALIVE_SECONDS):
                # Comments keep proxies from closing an idle stream.
                yield b": keep-alive\n\n"
    finally:
        changes.close()
