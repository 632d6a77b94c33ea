"""One user's burst does not hold another user's job behind it (real worker)."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import transaction

from editor import services
from editor.models import ImageModel, Job, JobStatus

pytestmark = pytest.mark.worker

BURST = 200


def submit(user: User, model: ImageModel) -> Job:
    return services.job_create(
        user=user,
        image_model=model,
        prompt="make it black and white",
        params={"n": 1},
        images=[],
        estimated_cost=Decimal(0),
    )


def run_burst_then_one(alice: User, bob: User, model: ImageModel) -> int:
    """Alice submits BURST jobs at once, then Bob one; how many of Alice's had
    finished when Bob's started."""
    # One transaction: all of Alice's messages go out together at commit,
    # a real backlog however fast the worker is.
    with transaction.atomic():
        for _ in range(BURST):
            submit(alice, model)
    bobs = submit(bob, model)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        bobs.refresh_from_db()
        if bobs.started is not None:
            break
        time.sleep(0.05)
    assert bobs.started is not None, "Bob's job never started"
    done = Job.objects.filter(
        owner=alice, status=JobStatus.SUCCEEDED, finished__lte=bobs.started
    ).count()
    # The rest of the backlog is not needed: let the worker go idle.
    Job.objects.filter(status=JobStatus.QUEUED).update(status=JobStatus.CANCELED)
    while Job.objects.filter(status=JobStatus.RUNNING).exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    return done


def test_a_burst_from_one_user_does_not_hold_another_users_job_behind_it(
    celery_worker: Any, alice: User, bob: User, offline_model: ImageModel
) -> None:
    done_before = run_burst_then_one(alice, bob, offline_model)
    # Bob's job starts after a few of Alice's, not after her whole backlog.
    assert done_before < BURST // 2, done_before
    assert done_before <= 20, done_before
