"""Waiting in a web request for a job the worker runs.

The job's row says when it is done. With job changes published over Redis
(editor/events.py), the request hears of the end the moment the worker
stores it, without reading the row; the job's progress on the way (claimed,
sending, waiting...) is no reason to read it either, which keeps the web
process off the CPU the worker needs meanwhile. A re-read every
RECHECK_SECONDS covers a lost message. Without Redis it re-reads the row:
often at first (a quick job answers within ~50 ms of finishing), then less
often for long calls.
"""

from __future__ import annotations

import logging
import time
import uuid

import redis

from editor import events
from editor.models import FINAL_STATUSES, Job

logger = logging.getLogger(__name__)

QUICK_POLL_SECONDS = 0.05
QUICK_PHASE_SECONDS = 10.0
SLOW_POLL_SECONDS = 0.25
# With push: how often the row is read anyway.
RECHECK_SECONDS = 1.0


def job_wait(*, job_id: uuid.UUID, timeout: float) -> bool:
    """Wait up to ``timeout`` seconds for the job to finish; True if it did."""
    deadline = time.monotonic() + timeout
    changes = _subscribe(job_id)
    read_at: float | None = None
    try:
        while True:
            if read_at is None:
                if _is_done(job_id):
                    return True
                read_at = time.monotonic()
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            if changes is not None:
                try:
                    news = changes.wait(min(left, RECHECK_SECONDS))
                except redis.RedisError:
                    logger.warning("Lost the change feed of job %s; polling it", job_id)
                    changes.close()
                    changes = None
                    read_at = None
                    continue
                if news == events.ENDED:
                    return True
                # None is a quiet spell (or the subscription's confirmation):
                # read the row once a while, in case a message was lost.
                if news == events.CHANGED or time.monotonic() - read_at >= RECHECK_SECONDS:
                    read_at = None
                continue
            time.sleep(min(_poll_pause(timeout - left), left))
            read_at = None
    finally:
        if changes is not None:
            changes.close()


def _subscribe(job_id: uuid.UUID) -> events.JobChanges | None:
    """A subscription to the job's changes, or None to poll (no Redis, or down)."""
    if not events.enabled():
        return None
    try:
        return events.JobChanges(job_id)
    except redis.RedisError:
        logger.warning("Could not subscribe to the changes of job %s; polling it", job_id)
        return None


def _is_done(job_id: uuid.UUID) -> bool:
    status = Job.objects.filter(pk=job_id).values_list("status", flat=True).first()
    return status is None or status in FINAL_STATUSES


def _poll_pause(elapsed: float) -> float:
    return QUICK_POLL_SECONDS if elapsed < QUICK_PHASE_SECONDS else SLOW_POLL_SECONDS
