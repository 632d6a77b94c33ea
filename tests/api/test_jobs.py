"""Long calls, asynchronous answers, retries with an Idempotency-Key, and a
client that dies mid-call: the job is an ordinary job that carries on."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from django.test import Client

from editor.models import Job, JobStatus
from tests.api.conftest import Backend, sdk
from tests.fakes.common import moderation_refusal
from tests.fakes.server import RecordedRequest, Reply

pytestmark = pytest.mark.worker

PAID = "/images/generations"


def slow(backend: Backend, seconds: float) -> None:
    """The fake's next answer comes after ``seconds`` (a long provider call)."""

    def answer_late(request: RecordedRequest) -> Reply:
        time.sleep(seconds)
        backend.fake.check_auth(request)
        reply: Reply = backend.fake.serve(request)
        return reply

    backend.fake.then(answer_late)


def job_answer(live_server: Any, secret: str, job_id: str, **params: str) -> dict[str, Any]:
    response = httpx.get(
        f"{live_server.url}/v1/images/jobs/{job_id}",
        headers={"Authorization": f"Bearer {secret}"},
        params=params,
        timeout=30,
    )
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def wait_final(job_id: str, seconds: float = 30) -> Job:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        job = Job.objects.get(pk=job_id)
        if job.is_final:
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not finish in {seconds} s")


def test_the_same_idempotency_key_makes_one_provider_call(
    openai_backend: Backend, celery_worker: Any, live_server: Any, carol_token: Any
) -> None:
    client = sdk(live_server, carol_token.secret)
    headers = {"Idempotency-Key": "retry-me-1"}
    model = openai_backend.kind.api_model

    first = client.images.generate(model=model, prompt="a kite", extra_headers=headers)
    again = client.images.generate(model=model, prompt="a kite", extra_headers=headers)

    assert first.data[0].b64_json == again.data[0].b64_json
    assert first.model_extra["darkroom"]["id"] == again.model_extra["darkroom"]["id"]
    assert len(openai_backend.fake.paid_calls(PAID)) == 1
    assert Job.objects.count() == 1
    with pytest.raises(openai.UnprocessableEntityError) as refused:
        client.images.generate(model=model, prompt="a different kite", extra_headers=headers)
    assert "already used with a different request" in refused.value.message
    assert len(openai_backend.fake.paid_calls(PAID)) == 1


def test_simultaneous_retries_with_one_key_make_one_job(
    openai_backend: Backend, celery_worker: Any, live_server: Any, carol_token: Any
) -> None:
    slow(openai_backend, 1.0)
    client = sdk(live_server, carol_token.secret)
    answers: list[Any] = []

    def send() -> None:
        answers.append(
            client.images.generate(
                model=openai_backend.kind.api_model,
                prompt="a kite",
                extra_headers={"Idempotency-Key": "twice-at-once"},
            )
        )

    threads = [threading.Thread(target=send) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert len(answers) == 3
    assert len({answer.model_extra["darkroom"]["id"] for answer in answers}) == 1
    assert Job.objects.count() == 1
    assert len(openai_backend.fake.paid_calls(PAID)) == 1


def test_an_async_request_answers_at_once_and_the_job_can_be_polled(
    openai_backend: Backend, celery_worker: Any, live_server: Any, carol_token: Any
) -> None:
    slow(openai_backend, 1.5)
    client = sdk(live_server, carol_token.secret)

    raw = client.images.with_raw_response.generate(
        model=openai_backend.kind.api_model,
        prompt="a kite",
        extra_headers={"Prefer": "respond-async"},
    )

    assert raw.status_code == 202
    accepted = json.loads(raw.text)
    assert accepted["status"] in ("queued", "running")
    assert raw.headers["Location"] == accepted["url"]
    wait_final(accepted["id"])
    answer = job_answer(live_server, carol_token.secret, accepted["id"], response_format="url")
    assert answer["status"] == "succeeded"
    # No token: the URL is signed. With S3 storage it redirects to the bucket.
    result = httpx.get(answer["data"][0]["url"], timeout=10, follow_redirects=True)
    assert result.status_code == 200
    assert result.headers["Content-Type"] == "image/png"


def test_a_sync_call_past_the_wait_answers_202_with_the_job(
    openai_backend: Backend,
    celery_worker: Any,
    live_server: Any,
    carol_token: Any,
    settings: Any,
) -> None:
    settings.DARKROOM_API_WAIT_SECONDS = 0.3
    slow(openai_backend, 1.5)
    client = sdk(live_server, carol_token.secret)

    raw = client.images.with_raw_response.generate(
        model=openai_backend.kind.api_model, prompt="a kite"
    )

    assert raw.status_code == 202
    job = wait_final(json.loads(raw.text)["id"])
    assert job.status == JobStatus.SUCCEEDED


CLIENT_SCRIPT = """
import os, openai
client = openai.OpenAI(base_url=os.environ["BASE"], api_key=os.environ["TOKEN"], max_retries=0)
client.images.generate(model=os.environ["MODEL"], prompt="a kite in a storm")
"""


def test_a_client_killed_mid_call_finds_its_job_finished(
    openai_backend: Backend,
    celery_worker: Any,
    live_server: Any,
    carol_token: Any,
    tmp_path: Path,
) -> None:
    slow(openai_backend, 2.0)
    env = {
        **os.environ,
        "BASE": live_server.url + "/v1",
        "TOKEN": carol_token.secret,
        "MODEL": openai_backend.kind.api_model,
    }
    script = tmp_path / "client.py"
    script.write_text(CLIENT_SCRIPT)
    process = subprocess.Popen([sys.executable, str(script)], env=env)
    try:
        deadline = time.monotonic() + 30
        while not openai_backend.fake.paid_calls(PAID) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert openai_backend.fake.paid_calls(PAID), "the call never reached the provider"
        process.kill()  # mid-call: the provider is still working on it
        process.wait(10)
    finally:
        if process.poll() is None:
            process.kill()
    job = Job.objects.get(owner=carol_token.token.owner)

    assert wait_final(str(job.pk)).status == JobStatus.SUCCEEDED
    answer = job_answer(live_server, carol_token.secret, str(job.pk))
    assert answer["status"] == "succeeded" and answer["data"][0]["b64_json"]
    history = Client()
    history.force_login(carol_token.token.owner)
    page = history.get("/history/").content.decode()
    assert str(job.pk) in page
    assert len(openai_backend.fake.paid_calls(PAID)) == 1


def test_a_job_failed_at_the_provider_is_not_retried_by_the_sdk(
    openai_backend: Backend, celery_worker: Any, live_server: Any, carol_token: Any
) -> None:
    openai_backend.fake.then(moderation_refusal())
    client = sdk(live_server, carol_token.secret, max_retries=2)  # the SDK's default

    with pytest.raises(openai.InternalServerError) as failed:
        client.images.generate(model=openai_backend.kind.api_model, prompt="a kite")

    assert failed.value.status_code == 502
    assert failed.value.response.headers["x-should-retry"] == "false"
    job = Job.objects.get()
    assert job.status == JobStatus.FAILED
    assert str(job.pk) in failed.value.body["message"]
    assert len(openai_backend.fake.paid_calls(PAID)) == 1  # no second paid call
