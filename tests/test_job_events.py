"""Server-sent events: the job page learns of a change when it happens."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from editor import events, pipeline
from editor.models import Job, JobStage, JobStatus
from tests.factories import make_job
from tests.services import push_job_changes


@pytest.fixture
def push(settings: Any) -> None:
    push_job_changes(settings)


def read_events(stream: Iterator[bytes]) -> Iterator[dict[str, Any]]:
    for chunk in stream:
        text = chunk.decode()
        if text.startswith("event: change"):
            yield json.loads(text.split("data: ", 1)[1])


def test_a_change_reaches_the_open_stream_at_once(
    push: None, alice: Any, alice_client: Client, transactional_db: None
) -> None:
    job = make_job(user=alice)
    response = alice_client.get(f"/jobs/{job.pk}/events/")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/event-stream"
    changes = read_events(iter(response.streaming_content))  # type: ignore[attr-defined]
    first = next(changes)
    assert first["final"] is False

    def start_waiting() -> None:
        time.sleep(0.3)
        Job.objects.filter(pk=job.pk).update(status=JobStatus.RUNNING, stage=JobStage.WAITING)
        events.job_changed(job.pk)

    threading.Thread(target=start_waiting).start()
    started = time.monotonic()
    second = next(changes)
    # Pushed, not found by the stream's periodic re-read.
    assert time.monotonic() - started < events.KEEPALIVE_SECONDS / 2
    assert second["etag"] != first["etag"] and second["final"] is False


def test_the_stream_follows_a_real_run_to_its_end(
    push: None, alice: Any, alice_client: Client, transactional_db: None
) -> None:
    job = make_job(user=alice)
    response = alice_client.get(f"/jobs/{job.pk}/events/")
    changes = read_events(iter(response.streaming_content))  # type: ignore[attr-defined]
    assert next(changes)["final"] is False
    runner = threading.Thread(target=pipeline.run_job, kwargs={"job_id": str(job.pk)})
    runner.start()
    seen = list(changes)
    runner.join()
    # The stream ended by itself once the job was final.
    assert seen[-1]["final"] is True
    assert Job.objects.get(pk=job.pk).status == JobStatus.SUCCEEDED


def test_another_users_stream_is_404(push: None, alice: Any, bob_client: Client) -> None:
    job = make_job(user=alice)
    assert bob_client.get(f"/jobs/{job.pk}/events/").status_code == 404


@pytest.mark.parametrize(
    ("events_url", "page_events"),
    [("", True), ("redis://127.0.0.1:6379/5", False)],
    ids=["nothing published", "published, but threaded web workers"],
)
def test_without_push_the_page_is_told_to_poll(
    settings: Any, alice: Any, alice_client: Client, events_url: str, page_events: bool
) -> None:
    settings.DARKROOM_EVENTS_URL = events_url
    settings.DARKROOM_PAGE_EVENTS = page_events
    job = make_job(user=alice)
    # 204: EventSource stops reconnecting; the page keeps its polling.
    assert alice_client.get(f"/jobs/{job.pk}/events/").status_code == 204


def test_a_job_trashed_while_watched_ends_its_stream_and_then_answers_404(
    push: None, alice: Any, alice_client: Client, transactional_db: None
) -> None:
    job = make_job(user=alice)
    response = alice_client.get(f"/jobs/{job.pk}/events/")
    stream = iter(response.streaming_content)  # type: ignore[attr-defined]
    assert next(read_events(stream))["final"] is False
    Job.objects.filter(pk=job.pk).update(trashed=timezone.now())
    events.job_changed(job.pk)
    # The stream ends (no error, no more events) instead of failing mid-way.
    assert list(read_events(stream)) == []
    assert alice_client.get(f"/jobs/{job.pk}/events/").status_code == 404
    assert alice_client.get(f"/jobs/{job.pk}/status/").status_code == 404
