"""One heartbeat per worker process: every running job touched by one UPDATE."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

from django.utils import timezone

from editor import heartbeat, pipeline
from editor.models import Job, JobStatus
from editor.providers.offline import OfflineAdapter
from tests.factories import make_job


def test_one_update_touches_every_running_job_of_the_process(
    alice: Any, django_assert_num_queries: Any
) -> None:
    long_ago = timezone.now() - timedelta(hours=1)
    jobs = [make_job(user=alice, images=[], prompt=f"job {index}") for index in range(25)]
    Job.objects.update(status=JobStatus.RUNNING, heartbeat=long_ago)
    finished = make_job(user=alice, images=[], prompt="finished")
    Job.objects.filter(pk=finished.pk).update(status=JobStatus.SUCCEEDED, heartbeat=long_ago)
    with heartbeat.beating(finished.pk):
        for job in jobs:
            heartbeat._running[job.pk] = 1
        try:
            with django_assert_num_queries(1):
                touched = heartbeat.beat_once()
        finally:
            for job in jobs:
                del heartbeat._running[job.pk]
    assert touched == 25
    assert not Job.objects.filter(status=JobStatus.RUNNING, heartbeat=long_ago).exists()
    # A final job is never touched.
    assert Job.objects.get(pk=finished.pk).heartbeat == long_ago


def test_a_running_job_is_in_the_process_heartbeat_and_leaves_it_when_done(
    alice: Any, monkeypatch: Any
) -> None:
    job = make_job(user=alice)
    seen: dict[str, Any] = {}
    real_edit = OfflineAdapter.edit

    def watching_edit(self: Any, request: Any, *, observer: Any) -> Any:
        seen["registered"] = job.pk in heartbeat.running_job_ids()
        seen["threads"] = [t.name for t in threading.enumerate() if "heartbeat" in t.name]
        return real_edit(self, request, observer=observer)

    monkeypatch.setattr(OfflineAdapter, "edit", watching_edit)
    pipeline.run_job(job_id=str(job.pk))
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED
    assert seen["registered"]
    # One thread for the whole process, not one per job.
    assert seen["threads"] == ["darkroom-heartbeat"]
    assert job.pk not in heartbeat.running_job_ids()


def test_nothing_running_costs_no_query(db: None, django_assert_num_queries: Any) -> None:
    with django_assert_num_queries(0):
        assert heartbeat.beat_once() == 0
