"""The job row decides: claims, heartbeats, saved answers and the recovery sweep.

The worker's death is simulated on the row (a claim, then a heartbeat left in
the past); tests with real workers killed by signals are in test_kill.py.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone

from editor import pipeline, services
from editor.models import ImageRole, Job, JobStage, JobStatus
from editor.providers.offline import OfflineAdapter
from tests.factories import make_job


@pytest.fixture
def provider_calls(monkeypatch: Any) -> list[str]:
    """Counts calls of the offline kind's edit (its "provider call")."""
    calls: list[str] = []
    real_edit = OfflineAdapter.edit

    def counting_edit(self: Any, request: Any, *, observer: Any) -> Any:
        calls.append(request.prompt)
        return real_edit(self, request, observer=observer)

    monkeypatch.setattr(OfflineAdapter, "edit", counting_edit)
    return calls


def died_while_running(
    job: Job, *, sent: bool = False, answer: dict[str, Any] | None = None
) -> Job:
    """Claim ``job`` as a worker would, then leave it as a dead worker leaves it."""
    claimed = pipeline.job_claim(str(job.pk))
    assert claimed is not None
    observer = pipeline.JobObserver(claimed)
    if sent:
        observer.stage(JobStage.SENDING)
    if answer is not None:
        observer.response_received(answer)
    Job.objects.filter(pk=job.pk).update(heartbeat=timezone.now() - timedelta(minutes=10))
    return Job.objects.get(pk=job.pk)


def sweep_and_run() -> list[str]:
    enqueued: list[str] = []
    pipeline.jobs_recover(enqueue=enqueued.append)
    for job_id in enqueued:
        pipeline.run_job(job_id=job_id)
    return enqueued


def test_the_answer_is_saved_before_results_are_built(alice: Any, monkeypatch: Any) -> None:
    job = make_job(user=alice, prompt="invert")

    def crash(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the worker died while decoding")

    monkeypatch.setattr(OfflineAdapter, "results_from_response", crash)
    pipeline.run_job(job_id=str(job.pk))
    job.refresh_from_db()
    assert job.provider_response == {"effects": ["invert"]}
    assert job.answered is not None


def test_a_stopped_job_that_was_not_sent_is_queued_again_and_runs(
    alice: Any, provider_calls: list[str]
) -> None:
    job = died_while_running(make_job(user=alice))
    assert sweep_and_run() == [str(job.pk)]
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert job.deliveries == 2
    assert len(provider_calls) == 1
    assert job.images.filter(role=ImageRole.RESULT).count() == 1


def test_a_stopped_job_that_was_sent_without_an_answer_fails_as_maybe_charged(
    alice: Any, provider_calls: list[str]
) -> None:
    job = died_while_running(make_job(user=alice), sent=True)
    assert sweep_and_run() == []
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert job.error_code == "interrupted_after_sending"
    assert "may have charged for this; retry" in job.error_message
    assert job.finished is not None
    assert provider_calls == []


def test_a_stopped_job_with_a_saved_answer_is_finished_without_calling_again(
    alice: Any, provider_calls: list[str]
) -> None:
    job = died_while_running(make_job(user=alice), sent=True, answer={"effects": ["invert"]})
    sweep_and_run()
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert provider_calls == []
    assert job.images.filter(role=ImageRole.RESULT).count() == 1
    assert job.notices[-1] == "Offline demo applied: invert."


def test_results_stored_before_the_worker_died_are_not_stored_twice(alice: Any) -> None:
    job = make_job(user=alice, params={"n": 2})
    pipeline.run_job(job_id=str(job.pk))
    first = set(job.images.filter(role=ImageRole.RESULT).values_list("pk", flat=True))
    # As if the worker had died after storing both results, before finishing.
    Job.objects.filter(pk=job.pk).update(
        status=JobStatus.RUNNING, heartbeat=timezone.now() - timedelta(minutes=10)
    )
    sweep_and_run()
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED
    assert set(job.images.filter(role=ImageRole.RESULT).values_list("pk", flat=True)) == first


def test_a_job_that_keeps_stopping_workers_fails_after_the_delivery_limit(
    alice: Any, settings: Any, provider_calls: list[str]
) -> None:
    settings.DARKROOM_MAX_DELIVERIES = 3
    job = make_job(user=alice)
    for _ in range(3):
        died_while_running(job)
        pipeline.jobs_recover(enqueue=lambda job_id: None)
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert job.error_code == "too_many_attempts"
    assert "started 3 times" in job.error_message
    assert provider_calls == []


def test_the_delivery_limit_is_also_checked_when_a_message_arrives(
    alice: Any, settings: Any
) -> None:
    settings.DARKROOM_MAX_DELIVERIES = 2
    job = make_job(user=alice)
    Job.objects.filter(pk=job.pk).update(deliveries=2)
    pipeline.run_job(job_id=str(job.pk))
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and job.error_code == "too_many_attempts"


def queued_for(job: Job, *, minutes: float) -> Job:
    """Leave ``job`` queued as if its last message was sent ``minutes`` ago."""
    Job.objects.filter(pk=job.pk).update(created=timezone.now() - timedelta(minutes=minutes))
    return job


def test_a_long_healthy_queue_is_sent_no_message(alice: Any, settings: Any) -> None:
    settings.DARKROOM_LOST_AFTER_SECONDS = 60
    # Jobs waiting their turn for an hour: the age rule alone would re-send them all.
    settings.DARKROOM_REQUEUE_AFTER_SECONDS = 60
    jobs = [queued_for(make_job(user=alice), minutes=60 - index) for index in range(40)]
    enqueued: list[str] = []
    counts = pipeline.jobs_recover(enqueue=enqueued.append, waiting_messages=lambda: len(jobs))
    assert enqueued == [] and not counts
    # More messages than jobs (duplicates, a finished job's message) is healthy too.
    pipeline.jobs_recover(enqueue=enqueued.append, waiting_messages=lambda: len(jobs) + 3)
    assert enqueued == []


def test_lost_messages_are_sent_again_to_the_longest_waiting_jobs_and_no_more(
    alice: Any, bob: Any, settings: Any
) -> None:
    settings.DARKROOM_LOST_AFTER_SECONDS = 60
    settings.DARKROOM_REQUEUE_AFTER_SECONDS = 3600
    oldest = queued_for(make_job(user=bob), minutes=30)
    older = queued_for(make_job(user=alice), minutes=20)
    old = [queued_for(make_job(user=alice), minutes=10) for _ in range(5)]
    enqueued: list[str] = []
    counts = pipeline.jobs_recover(enqueue=enqueued.append, waiting_messages=lambda: 5)
    assert enqueued == [str(oldest.pk), str(older.pk)]
    assert counts == {"reenqueued": 2}
    # The broker now holds a message per job: the next sweep sends nothing.
    pipeline.jobs_recover(enqueue=enqueued.append, waiting_messages=lambda: 7)
    assert len(enqueued) == 2
    # Had those messages been lost too, the jobs not sent one lately come first.
    pipeline.jobs_recover(enqueue=enqueued.append, waiting_messages=lambda: 5)
    assert set(enqueued[2:]) <= {str(job.pk) for job in old} and len(enqueued) == 4


def test_a_job_queued_moments_ago_is_not_sent_a_second_message(alice: Any, settings: Any) -> None:
    """Its message may still be on its way to the broker."""
    settings.DARKROOM_LOST_AFTER_SECONDS = 60
    job = make_job(user=alice)
    enqueued: list[str] = []
    pipeline.jobs_recover(enqueue=enqueued.append, waiting_messages=lambda: 0)
    assert enqueued == []
    later = timezone.now() + timedelta(seconds=61)
    pipeline.jobs_recover(enqueue=enqueued.append, waiting_messages=lambda: 0, now=later)
    assert enqueued == [str(job.pk)]


def test_without_a_count_from_the_broker_jobs_waiting_long_are_enqueued_again(
    alice: Any, settings: Any, caplog: Any
) -> None:
    settings.DARKROOM_LOST_AFTER_SECONDS = 60
    settings.DARKROOM_REQUEUE_AFTER_SECONDS = 600
    lost = queued_for(make_job(user=alice), minutes=11)
    recent = queued_for(make_job(user=alice), minutes=5)

    def broker_away() -> int:
        raise ConnectionRefusedError("broker down")

    enqueued: list[str] = []
    pipeline.jobs_recover(enqueue=enqueued.append, waiting_messages=broker_away)
    assert enqueued == [str(lost.pk)]
    assert "Could not count the messages waiting in the broker" in caplog.text
    # Enqueued again only after another full wait, not at every sweep.
    pipeline.jobs_recover(enqueue=enqueued.append, waiting_messages=broker_away)
    pipeline.jobs_recover(enqueue=enqueued.append)
    assert enqueued == [str(lost.pk)]
    assert Job.objects.get(pk=recent.pk).status == JobStatus.QUEUED


def test_the_sweep_leaves_live_and_final_jobs_alone(alice: Any) -> None:
    running = make_job(user=alice)
    pipeline.job_claim(str(running.pk))
    done = make_job(user=alice)
    pipeline.run_job(job_id=str(done.pk))
    Job.objects.filter(pk=done.pk).update(heartbeat=timezone.now() - timedelta(hours=1))
    enqueued: list[str] = []
    assert not pipeline.jobs_recover(enqueue=enqueued.append)
    assert enqueued == []
    assert Job.objects.get(pk=running.pk).status == JobStatus.RUNNING
    assert Job.objects.get(pk=done.pk).status == JobStatus.SUCCEEDED


def test_a_redelivered_message_for_a_running_job_does_nothing(
    alice: Any, provider_calls: list[str]
) -> None:
    job = make_job(user=alice)
    pipeline.job_claim(str(job.pk))
    pipeline.run_job(job_id=str(job.pk))
    job.refresh_from_db()
    assert job.status == JobStatus.RUNNING and job.deliveries == 1
    assert provider_calls == []


def test_a_worker_given_up_on_cannot_finish_the_job_of_the_next_one(alice: Any) -> None:
    job = make_job(user=alice)
    old = pipeline.job_claim(str(job.pk))
    assert old is not None
    Job.objects.filter(pk=job.pk).update(heartbeat=timezone.now() - timedelta(minutes=10))
    pipeline.jobs_recover(enqueue=lambda job_id: None)
    new = pipeline.job_claim(str(job.pk))
    assert new is not None and new.deliveries == 2
    pipeline.job_fail(job=old, code="late", message="The old worker woke up.")
    job.refresh_from_db()
    assert job.status == JobStatus.RUNNING and job.error_code == ""


def test_a_job_canceled_before_sending_never_reaches_the_provider(alice: Any) -> None:
    job = make_job(user=alice)
    claimed = pipeline.job_claim(str(job.pk))
    assert claimed is not None
    services.job_cancel(job=job)
    with pytest.raises(pipeline.ProviderError) as error:
        pipeline.JobObserver(claimed).stage(JobStage.SENDING)
    assert error.value.code == "job_abandoned"
    assert Job.objects.get(pk=job.pk).sent is None


@pytest.mark.django_db(transaction=True)
def test_the_heartbeat_is_kept_while_the_provider_is_slow(
    alice: Any, settings: Any, monkeypatch: Any
) -> None:
    settings.DARKROOM_HEARTBEAT_SECONDS = 0.1
    job = make_job(user=alice)
    beats: set[Any] = set()

    def slow_edit(self: Any, request: Any, *, observer: Any) -> Any:
        observer.stage(JobStage.SENDING)
        for _ in range(10):
            time.sleep(0.1)
            beats.add(Job.objects.get(pk=job.pk).heartbeat)
        return OfflineAdapter.results_from_response(self, {"effects": ["invert"]}, request)

    monkeypatch.setattr(OfflineAdapter, "edit", slow_edit)
    pipeline.run_job(job_id=str(job.pk))
    assert len(beats) >= 4
    assert Job.objects.get(pk=job.pk).status == JobStatus.SUCCEEDED


def test_the_recover_jobs_command_reports_what_it_did(
    alice: Any, capsys: Any, settings: Any
) -> None:
    died_while_running(make_job(user=alice), sent=True)
    call_command("recover_jobs")
    assert "failed_sent: 1" in capsys.readouterr().out
    call_command("recover_jobs")
    assert "No job needed recovery." in capsys.readouterr().out


def test_a_job_canceled_while_the_provider_ran_keeps_its_paid_results(
    alice: Any, monkeypatch: Any
) -> None:
    job = make_job(user=alice)
    real_edit = OfflineAdapter.edit

    def canceled_meanwhile(self: Any, request: Any, *, observer: Any) -> Any:
        result = real_edit(self, request, observer=observer)
        services.job_cancel(job=Job.objects.get(pk=job.pk))
        return result

    monkeypatch.setattr(OfflineAdapter, "edit", canceled_meanwhile)
    pipeline.run_job(job_id=str(job.pk))
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELED
    assert job.images.filter(role=ImageRole.RESULT).count() == 1


def test_an_unexpected_error_after_sending_says_the_provider_may_have_charged(
    alice: Any, monkeypatch: Any
) -> None:
    job = make_job(user=alice)

    def broken_after_sending(self: Any, request: Any, *, observer: Any) -> Any:
        observer.stage(JobStage.SENDING)
        raise ConnectionResetError("peer went away")

    monkeypatch.setattr(OfflineAdapter, "edit", broken_after_sending)
    pipeline.run_job(job_id=str(job.pk))
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and job.error_code == "internal_error"
    assert "may have charged for it" in job.error_message


def test_a_sweep_with_the_broker_away_leaves_the_job_queued_for_the_next(
    alice: Any, settings: Any
) -> None:
    settings.DARKROOM_REQUEUE_AFTER_SECONDS = 60
    first = died_while_running(make_job(user=alice))
    second = died_while_running(make_job(user=alice))

    def broker_away(job_id: str) -> None:
        raise ConnectionRefusedError("broker down")

    counts = pipeline.jobs_recover(enqueue=broker_away)
    assert counts["requeued"] == 2
    assert {job.status for job in Job.objects.filter(pk__in=[first.pk, second.pk])} == {
        JobStatus.QUEUED
    }
    enqueued: list[str] = []
    later = timezone.now() + timedelta(minutes=2)
    pipeline.jobs_recover(enqueue=enqueued.append, now=later)
    assert sorted(enqueued) == sorted([str(first.pk), str(second.pk)])
