"""An openai job from the form POST to stored results, through a real Celery worker."""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.test import Client

from editor.models import ImageRole, Job, JobStatus
from tests.fakes.common import API_KEY
from tests.fakes.openai import OpenAIFake
from tests.images import image_bytes, mask_bytes, upload
from tests.providers.conftest import model_of, provider_on

pytestmark = pytest.mark.worker


def wait_for_final(job_id: Any, timeout: float = 20.0) -> Job:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = Job.objects.get(pk=job_id)
        if job.is_final:
            return job
        time.sleep(0.2)  # fewer reads: SQLite test databases lock whole tables
    raise AssertionError(f"job {job_id} still {job.status} after {timeout}s")


def test_an_openai_edit_runs_on_a_real_worker(celery_worker: Any, alice: Any) -> None:
    fake = OpenAIFake()
    with fake.running():
        provider = provider_on(kind="openai", base_url=fake.base_url + "/v1")
        model = model_of(provider, "gpt-image-1")
        client = Client()
        client.force_login(alice)
        response = client.post(
            "/",
            {
                "prompt": "replace the sky",
                "image_model": model.pk,
                "images": [upload(image_bytes(64, 48))],
                "mask": upload(mask_bytes(64, 48, box=(0, 0, 64, 10)), "mask.png"),
                "n": 1,
                "quality": "low",
            },
        )
        assert response.status_code == 302, response.content.decode()[:2000]
        job = wait_for_final(Job.objects.get().pk)
    assert job.status == JobStatus.SUCCEEDED, job.error_message
    assert fake.rejections == []
    (call,) = fake.paid_calls("/images/edits")
    fields = call.multipart()
    assert fields["quality"][0][1] == b"low"
    assert job.images.filter(role=ImageRole.RESULT).count() == 1
    assert job.images.filter(role=ImageRole.SENT_MASK).count() == 1
    assert API_KEY not in client.get(f"/jobs/{job.pk}/").content.decode()
