"""Waiting in a web request for a job the worker runs.

The job's row says when it is done, so the wait reads one indexed column:
often at first (a quick job answers within ~50 ms of finishing, which keeps
the API's own overhead small), then less often for long provider calls.
"""

from __future__ import annotations

import time
import uuid

from editor.models import FINAL_STATUSES, Job

QUICK_POLL_SECONDS = 0.05
QUICK_PHASE_SECONDS = 10.0
SLOW_POLL_SECONDS = 0.25


def job_wait(*, job_id: uuid.UUID, timeout: float) -> bool:
    """Wait up to ``timeout`` seconds for the job to finish; True if it did."""
    start = time.monotonic()
    while True:
        status = Job.objects.filter(pk=job_id).values_list("status", flat=True).first()
        if status is None or status in FINAL_STATUSES:
            return True
        elapsed = time.monotonic() - start
        if elapsed >= timeout:
            return False
        pause = QUICK_POLL_SECONDS if elapsed < QUICK_PHASE_SECONDS else SLOW_POLL_SECONDS
        time.sleep(min(pause, max(0.0, timeout - elapsed)))
