"""One heartbeat per worker process for all the jobs it runs.

A running job shows the recovery sweep that its worker is alive by touching
its row. One thread per job held one database connection per job for the
whole provider call; here the jobs of a process register themselves, and a
single thread touches all of them with one ``UPDATE ... WHERE id IN (...)``
every ``DARKROOM_HEARTBEAT_SECONDS``, then gives its connection back.

A job is touched while its row is still running. Should the sweep have given
up on this worker's delivery and another worker run the job since, touching
that run's row too does no harm: it is alive as well.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from uuid import UUID

from django.conf import settings
from django.db import DatabaseError
from django.utils import timezone

from editor.database import release_connection
from editor.models import Job, JobStatus

logger = logging.getLogger(__name__)

_lock = threading.Lock()
# Job id -> how many of this process's runs hold it (a redelivered message
# may briefly run beside the first; the claim lets only one do any work).
_running: dict[UUID | str, int] = {}
_thread: threading.Thread | None = None
WAKE_SECONDS = 0.5


@contextmanager
def beating(job_id: UUID | str) -> Iterator[None]:
    """Keep ``job_id``'s heartbeat going while the block runs."""
    with _lock:
        _running[job_id] = _running.get(job_id, 0) + 1
        _start_thread_once()
    try:
        yield
    finally:
        with _lock:
            if _running[job_id] <= 1:
                del _running[job_id]
            else:
                _running[job_id] -= 1


def running_job_ids() -> list[UUID | str]:
    with _lock:
        return list(_running)


def beat_once() -> int:
    """Touch every running job of this process in one UPDATE; how many rows."""
    job_ids = running_job_ids()
    if not job_ids:
        return 0
    return Job.objects.filter(pk__in=job_ids, status=JobStatus.RUNNING).update(
        heartbeat=timezone.now()
    )


def _start_thread_once() -> None:
    global _thread
    if _thread is not None and _thread.is_alive():
        return
    # A forked child (prefork pool) inherits no running thread: it starts its own.
    _thread = threading.Thread(target=_beat_forever, name="darkroom-heartbeat", daemon=True)
    _thread.start()


def _beat_forever() -> None:
    last_beat = time.monotonic()
    while True:
        # Short naps, so a changed interval (tests) applies at once.
        time.sleep(min(settings.DARKROOM_HEARTBEAT_SECONDS, WAKE_SECONDS))
        if time.monotonic() - last_beat < settings.DARKROOM_HEARTBEAT_SECONDS:
            continue
        last_beat = time.monotonic()
        try:
            beat_once()
        except DatabaseError:
            # The sweep waits DARKROOM_STALE_AFTER_SECONDS, several beats.
            logger.warning("Could not record the heartbeat of this worker's jobs")
        finally:
            release_connection()
