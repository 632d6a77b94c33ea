"""From the form POST to a stored result, through a real Celery worker."""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.test import Client

from editor.models import ImageRole, Job, JobStatus
from tests.images import image_bytes, open_bytes, upload

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
