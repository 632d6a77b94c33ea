"""Shared pieces for the provider kind tests: instant retries, providers on fakes."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from editor import catalog, pipeline
from editor.models import ImageModel, Job, Provider
from editor.providers import http
from tests.fakes.common import API_KEY


@pytest.fixture(autouse=True)
def sleeps(monkeypatch: Any) -> list[float]:
    """Retries pause for no time; the pauses asked for are recorded."""
    asked: list[float] = []
    monkeypatch.setattr(http, "sleep", asked.append)
    monkeypatch.setattr(http, "jitter", lambda: 0.5)
    return asked


def provider_on(
    *, kind: str, base_url: str, deadline: float = 5.0, sync: bool = True, **fields: Any
) -> Provider:
    provider = catalog.provider_create(
        name=f"{kind}-test", kind=kind, base_url=base_url, api_key=API_KEY, sync=sync
    )
    Provider.objects.filter(pk=provider.pk).update(deadline=deadline, connect_timeout=2, **fields)
    provider.refresh_from_db()
    return provider


def model_of(provider: Provider, model_id: str) -> ImageModel:
    return ImageModel.objects.get(provider=provider, model_id=model_id)


def run(job: Job) -> Job:
    pipeline.run_job(job_id=str(job.pk))
    job.refresh_from_db()
    return job


def assert_key_hidden(job: Job, client: Client | None = None) -> None:
    """The API key appears nowhere the user (or a log reader) could see it."""
    stored = json.dumps(
        [job.error_message, job.error_detail, job.notices, job.provider_response, job.usage],
        default=str,
    )
    assert API_KEY not in stored
    if client is not None:
        page = client.get(f"/jobs/{job.pk}/")
        assert page.status_code == 200
        assert API_KEY not in page.content.decode()
