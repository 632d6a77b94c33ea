"""What a job's run does between the provider's answer and whoever waits for
the result: each database statement is a round trip, each pass over the
image's megabytes a few milliseconds, so both are kept in check."""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.test.utils import CaptureQueriesContext

from editor import imaging, pipeline
from editor.models import JobStatus
from tests.factories import make_job
from tests.fakes.openai import OpenAIFake
from tests.providers.conftest import model_of, provider_on


def test_a_generation_is_run_in_a_dozen_statements_to_its_end(alice: Any) -> None:
    fake = OpenAIFake()
    with fake.running():
        provider = provider_on(kind="openai", base_url=fake.base_url + "/v1")
        job = make_job(user=alice, model=model_of(provider, "gpt-image-1"), images=[])
        with CaptureQueriesContext(connection) as queries:
            pipeline.run_job(job_id=str(job.pk))
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.error_message
    statements = [query["sql"] for query in queries]
    ended = next(i for i, sql in enumerate(statements) if "'succeeded'" in sql)
    # The claim and the job's read; "sending" and "waiting"; the answer and
    # its image (a transaction: 2 statements around them); "storing"; the
    # job's images; the result; the end. Nothing reads the inputs of a
    # generation, and nothing reads the same thing twice.
    assert ended + 1 <= 12, statements[: ended + 1]
    assert not any("'input'" in sql for sql in statements[: ended + 1])


def test_the_answers_image_is_decoded_and_hashed_once(alice: Any, monkeypatch: Any) -> None:
    hashed: list[int] = []
    sha256 = imaging.hashlib.sha256

    def counting_sha256(data: bytes) -> Any:
        hashed.append(len(data))
        return sha256(data)

    monkeypatch.setattr(imaging.hashlib, "sha256", counting_sha256)
    fake = OpenAIFake()
    with fake.running():
        provider = provider_on(kind="openai", base_url=fake.base_url + "/v1")
        job = make_job(user=alice, model=model_of(provider, "gpt-image-1"), images=[])
        hashed.clear()
        pipeline.run_job(job_id=str(job.pk))
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.error_message
    result = job.images.get(role="result")
    # Hashed when the answer came, to keep it; the result is those bytes.
    assert hashed.count(result.bytes) == 1, hashed
