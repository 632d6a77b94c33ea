"""From the form POST to a stored result, through a real Celery worker."""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from django.db import connection
from django.test import Client
from kombu import Connection

from editor import pipeline, tasks
from editor.models import ImageRole, Job, JobStatus
from tests.factories import make_job
from tests.images import image_bytes, open_bytes, upload
from tests.services import FILESYSTEM_TRANSPORT, filesystem_broker_options, wait_until

pytestmark = pytest.mark.worker


def wait_for_final(job_id: Any, timeout: float = 20.0) -> Job:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = Job.objects.get(pk=job_id)
        if job.is_final:
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} still {job.status} after {timeout}s")


def test_a_posted_edit_runs_on_a_real_worker(
    celery_worker: Any, alice: Any, offline_model: Any
) -> None:
    client = Client()
    client.force_login(alice)
    response = client.post(
        "/",
        {
            "prompt": "make it black and white",
            "image_model": offline_model.pk,
            "images": [upload(image_bytes(colour=(10, 200, 30)))],
        },
    )
    assert response.status_code == 302
    job = wait_for_final(Job.objects.get().pk)
    assert job.status == JobStatus.SUCCEEDED, job.error
    result = job.images.get(role=ImageRole.RESULT)
    with result.file.open("rb") as handle:
        r, g, b = open_bytes(handle.read()).convert("RGB").getpixel((2, 2))
    assert r == g == b
    status = client.get(f"/jobs/{job.pk}/status/", HTTP_HX_REQUEST="true")
    assert status.status_code == 286
    assert f"/images/{result.pk}/" in status.content.decode()


def message_file_without_publishing(job_id: str, folder: Path) -> Path:
    """The message file of ``job_id``, written into ``folder`` (not the live queue)."""
    options = filesystem_broker_options(folder)
    Path(options["data_folder_out"]).mkdir(parents=True)
    with Connection(
        "filesystem://", transport=FILESYSTEM_TRANSPORT, transport_options=options
    ) as connection:
        tasks.run_job.apply_async(args=[job_id], connection=connection)
    (path,) = Path(options["data_folder_out"]).iterdir()
    return path


def test_a_busy_queue_survives_a_truncated_message_and_loses_no_job(
    celery_worker: Any, alice: Any, bob: Any, settings: Any, caplog: Any, tmp_path: Path
) -> None:
    queue = tmp_path / "queue"
    with mock.patch.object(tasks.run_job, "delay"):
        victim = make_job(user=alice, prompt="the truncated one")
    whole = message_file_without_publishing(str(victim.pk), tmp_path / "staging")
    truncated = queue / "messages" / whole.name
    jobs: list[Any] = []
    errors: list[BaseException] = []

    def submit(user: Any, label: str) -> None:
        try:
            for index in range(16):
                jobs.append(make_job(user=user, prompt=f"invert {label} {index}"))
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=submit, args=(user, f"{user.username}-{n}"))
        for n, user in enumerate([alice, bob, alice, bob])
    ]
    with caplog.at_level(logging.INFO):
        for thread in threads:
            thread.start()
        # Half a message under a message's name, in the middle of the traffic.
        partial = queue / "half.tmp"
        partial.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
        os.replace(partial, truncated)
        for thread in threads:
            thread.join()
        assert errors == []
        assert len(jobs) == 64
        for job in jobs:
            assert wait_for_final(job.pk, timeout=120).status == JobStatus.SUCCEEDED
        wait_until(
            lambda: (queue / "rejected" / truncated.name).exists(),
            timeout=20,
            message="the truncated message was not set aside",
        )
        assert Job.objects.get(pk=victim.pk).status == JobStatus.QUEUED

        # The sweep finds one queued job more than waiting messages.
        settings.DARKROOM_LOST_AFTER_SECONDS = 0
        counts = pipeline.jobs_recover(
            enqueue=tasks.enqueue_job, waiting_messages=tasks.waiting_messages
        )
        assert counts == {"reenqueued": 1}
        assert wait_for_final(victim.pk).status == JobStatus.SUCCEEDED
    set_aside = [r.getMessage() for r in caplog.records if r.name == "webapp.broker"]
    assert len(set_aside) == 1 and truncated.name in set_aside[0]
    assert "Unrecoverable error" not in caplog.text
    assert list((queue / "messages").iterdir()) == []
