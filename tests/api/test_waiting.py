"""A synchronous API request waiting for its job: told of the end over Redis,
re-reading the job's row when Redis is not there."""

from __future__ import annotations

import threading
import time
from typing import Any

from django.db import connection
from django.test.utils import CaptureQueriesContext

from editor import events
from editor.api import waiting
from editor.models import Job, JobStatus
from tests.factories import make_job
from tests.services import push_job_changes


def finish_later(job: Job, *, after: float, publish: bool) -> list[float]:
    """Mark ``job`` succeeded after ``after`` seconds; the list gets the moment."""
    finished: list[float] = []

    def finish() -> None:
        time.sleep(after)
        Job.objects.filter(pk=job.pk).update(status=JobStatus.SUCCEEDED)
        finished.append(time.monotonic())
        if publish:
            events.job_changed(job.pk)

    threading.Thread(target=finish).start()
    return finished


def running_job(user: Any) -> Job:
    job = make_job(user=user)
    Job.objects.filter(pk=job.pk).update(status=JobStatus.RUNNING)
    return job


def test_a_waiting_request_hears_of_the_end_at_once_and_reads_the_job_rarely(
    settings: Any, alice: Any, transactional_db: None
) -> None:
    push_job_changes(settings)
    job = make_job(user=alice)
    finished = finish_later(job, after=1.5, publish=True)
    with CaptureQueriesContext(connection) as reads:
        assert waiting.job_wait(job_id=job.pk, timeout=30) is True
    returned = time.monotonic()
    assert returned - finished[0] < 0.2
    # Polling every 50 ms would have read the row about 30 times: this read it
    # first, once more after a second, and once after the change.
    assert len(reads) <= 5, [query["sql"] for query in reads]


def test_progress_is_not_read_and_the_end_needs_no_read(
    settings: Any, alice: Any, transactional_db: None
) -> None:
    push_job_changes(settings)
    job = running_job(alice)

    def run() -> None:
        # A job's path: claimed, sending, waiting, downloading; then its end.
        for _ in range(4):
            time.sleep(0.1)
            events.job_changed(job.pk, news=events.PROGRESS)
        time.sleep(0.1)
        Job.objects.filter(pk=job.pk).update(status=JobStatus.SUCCEEDED)
        ended.append(time.monotonic())
        events.job_changed(job.pk, news=events.ENDED)

    ended: list[float] = []
    threading.Thread(target=run).start()
    with CaptureQueriesContext(connection) as reads:
        assert waiting.job_wait(job_id=job.pk, timeout=30) is True
    assert time.monotonic() - ended[0] < 0.2
    # The first read only: the web process stays off the CPU and the
    # database while the worker runs the job.
    assert len(reads) == 1, [query["sql"] for query in reads]


def test_a_plain_change_is_read_to_know_whether_the_job_ended(
    settings: Any, alice: Any, transactional_db: None
) -> None:
    push_job_changes(settings)
    job = running_job(alice)
    finished = finish_later(job, after=0.3, publish=True)  # news: CHANGED
    assert waiting.job_wait(job_id=job.pk, timeout=30) is True
    assert time.monotonic() - finished[0] < 0.2


def test_without_redis_the_request_polls_and_still_sees_the_end(
    settings: Any, alice: Any, transactional_db: None
) -> None:
    # Nothing listens on port 1: subscribing fails at once.
    settings.DARKROOM_EVENTS_URL = "redis://127.0.0.1:1/0"
    job = make_job(user=alice)
    finished = finish_later(job, after=0.5, publish=False)
    with CaptureQueriesContext(connection) as reads:
        assert waiting.job_wait(job_id=job.pk, timeout=30) is True
    assert time.monotonic() - finished[0] < 0.2
    assert len(reads) > 5


def test_the_wait_gives_up_at_its_deadline(
    settings: Any, alice: Any, transactional_db: None
) -> None:
    push_job_changes(settings)
    job = make_job(user=alice)
    started = time.monotonic()
    assert waiting.job_wait(job_id=job.pk, timeout=0.6) is False
    assert 0.6 <= time.monotonic() - started < 1.0
