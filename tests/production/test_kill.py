"""Crashes with real workers: ``celery -A webapp worker`` processes on our own
Redis server and the PostgreSQL test database, calling a fake paid image API
that counts every call.

Each test ends with every job final, one set of results per succeeded job,
and no job called more than once: a call that may have run is never repeated.
"""

from __future__ import annotations

import os
import signal
import time
from typing import Any

import pytest

from editor import pipeline, tasks
from editor.models import ImageRole, Job, JobStatus
from tests.factories import make_job
from tests.production.conftest import CountingImageAPI, RedisServer
from tests.services import wait_until

pytestmark = [pytest.mark.worker, pytest.mark.services]


@pytest.fixture(autouse=True)
def quick_recovery(settings: Any) -> None:
    """The sweep run by these tests gives up on a silent worker after 3 seconds,
    and sends a new message to a job short of one after 3 seconds."""
    settings.DARKROOM_STALE_AFTER_SECONDS = 3
    settings.DARKROOM_LOST_AFTER_SECONDS = 3
    settings.DARKROOM_REQUEUE_AFTER_SECONDS = 5


def make_jobs(user: Any, model: Any, count: int, label: str) -> list[Job]:
    return [
        make_job(user=user, model=model, images=[], prompt=f"{label} {index}", params={"n": 1})
        for index in range(count)
    ]


def settle(jobs: list[Job], *, timeout: float = 90, sweep: bool = True) -> list[Job]:
    """Wait until every job is final, running the recovery sweep as beat would
    unless a worker runs it (``sweep=False``)."""

    def all_final() -> bool:
        if sweep:
            pipeline.jobs_recover(
                enqueue=tasks.enqueue_job, waiting_messages=tasks.waiting_messages
            )
        return not Job.objects.filter(pk__in=[job.pk for job in jobs]).exclude(
            status__in=[JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELED]
        )

    wait_until(all_final, timeout=timeout, interval=0.5, message="jobs still not final")
    return list(Job.objects.filter(pk__in=[job.pk for job in jobs]))


def assert_settled(jobs: list[Job], api: CountingImageAPI) -> None:
    calls = api.prompts()
    for job in jobs:
        results = job.images.filter(role=ImageRole.RESULT).count()
        if job.status == JobStatus.SUCCEEDED:
            assert results == 1, f"{job.prompt}: {results} results"
            assert calls[job.prompt] == 1, f"{job.prompt}: {calls[job.prompt]} calls"
        else:
            assert job.status == JobStatus.FAILED, job.status
            assert results == 0
            assert calls[job.prompt] <= 1, f"{job.prompt}: {calls[job.prompt]} calls"


def test_killing_a_worker_child_mid_call_fails_that_job_as_maybe_charged(
    alice: Any, paid_model: Any, image_api: CountingImageAPI, workers: Any
) -> None:
    worker = workers("kill-child", pool="prefork", concurrency=2)
    image_api.hold()
    jobs = make_jobs(alice, paid_model, 4, "child")
    wait_until(
        lambda: len(image_api.calls("/v1/images/generations")) >= 2,
        timeout=30,
        message="no call in flight",
    )
    in_flight = set(image_api.prompts())
    victim = worker.children()[0]
    os.kill(victim, signal.SIGKILL)
    time.sleep(0.5)
    image_api.release()
    jobs = settle(jobs)
    assert_settled(jobs, image_api)
    failed = [job for job in jobs if job.status == JobStatus.FAILED]
    assert len(failed) == 1, [(job.prompt, job.error) for job in failed]
    assert failed[0].prompt in in_flight
    assert failed[0].error_code == "interrupted_after_sending"
    assert "may have charged for this; retry" in failed[0].error_message
    assert sum(image_api.prompts().values()) == 4


def test_killing_a_whole_worker_and_starting_another_settles_every_job(
    alice: Any, paid_model: Any, image_api: CountingImageAPI, workers: Any
) -> None:
    first = workers("kill-whole-1", pool="threads", concurrency=2)
    image_api.hold()
    jobs = make_jobs(alice, paid_model, 6, "whole")
    wait_until(
        lambda: len(image_api.calls("/v1/images/generations")) >= 2,
        timeout=30,
        message="no call in flight",
    )
    first.kill()
    in_flight = set(image_api.prompts())
    image_api.release()
    # The new worker's own beat runs the sweep, as under `serve`.
    workers("kill-whole-2", pool="threads", concurrency=2, beat=True)
    jobs = settle(jobs, sweep=False)
    assert_settled(jobs, image_api)
    # The calls that were in flight may have been charged: failed, never repeated.
    assert {job.prompt for job in jobs if job.status == JobStatus.FAILED} == in_flight
    assert all(
        job.error_code == "interrupted_after_sending"
        for job in jobs
        if job.status == JobStatus.FAILED
    )
    assert sum(1 for job in jobs if job.status == JobStatus.SUCCEEDED) == 6 - len(in_flight)


def test_a_broker_outage_loses_no_job_and_repeats_no_call(
    alice: Any,
    paid_model: Any,
    image_api: CountingImageAPI,
    workers: Any,
    redis_server: RedisServer,
) -> None:
    worker = workers("outage", pool="threads", concurrency=2)
    image_api.delay = 0.3
    jobs = make_jobs(alice, paid_model, 8, "outage")
    wait_until(
        lambda: len(image_api.calls("/v1/images/generations")) >= 1,
        timeout=30,
        message="no job started",
    )
    redis_server.stop()
    time.sleep(3)
    redis_server.start()
    jobs = settle(jobs)
    assert "Connection to broker lost" in worker.output()
    assert_settled(jobs, image_api)
    assert all(job.status == JobStatus.SUCCEEDED for job in jobs), [
        (job.prompt, job.error) for job in jobs if job.status != JobStatus.SUCCEEDED
    ]


def test_two_workers_run_each_of_200_jobs_exactly_once(
    alice: Any, paid_model: Any, image_api: CountingImageAPI, workers: Any
) -> None:
    workers("many-1", pool="threads", concurrency=4)
    workers("many-2", pool="threads", concurrency=4)
    jobs = make_jobs(alice, paid_model, 200, "many")
    jobs = settle(jobs, timeout=240)
    assert_settled(jobs, image_api)
    assert all(job.status == JobStatus.SUCCEEDED for job in jobs)
    assert all(job.deliveries == 1 for job in jobs)
    assert sum(image_api.prompts().values()) == 200
