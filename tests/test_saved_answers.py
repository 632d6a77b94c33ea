"""The saved provider answer: whole until its results are stored, then
without the base64 that storage holds byte for byte."""

from __future__ import annotations

import base64
import hashlib
import io
import json
from typing import Any

import pytest
from django.core.management import call_command
from django.db import OperationalError
from PIL import Image

from editor import saved_answers
from editor.models import ImageModel, ImageRole, Job, JobStatus
from editor.saved_answers import answer_slimmed
from tests.factories import make_job
from tests.fakes.common import b64, json_reply, not_an_image
from tests.fakes.openai import OpenAIFake
from tests.images import image_bytes
from tests.providers.conftest import run

STORED = image_bytes(40, 30)
OTHER = image_bytes(30, 40)
STORED_SHA = hashlib.sha256(STORED).hexdigest()


def test_only_the_base64_of_stored_bytes_is_dropped_and_everything_else_stays() -> None:
    answer = {
        "created": 7,
        "usage": {"total_tokens": 12},
        "data": [
            {"b64_json": b64(STORED), "revised_prompt": "a red square"},
            {"b64_json": b64(OTHER)},
            {"url": "https://cdn.example/r/1.png"},
            {"url": "data:image/png;base64," + b64(STORED)},
            "not an item",
        ],
    }
    slimmed = answer_slimmed(answer, stored_by_sha256={STORED_SHA: "image-1"})
    assert slimmed is not None
    note = {"image": "image-1", "sha256": STORED_SHA}
    assert slimmed["data"][0] == {
        "b64_json": "[stored as image image-1]",
        "revised_prompt": "a red square",
        "darkroom_stored": note,
    }
    # Bytes no stored image holds (a result converted, or unreadable) stay.
    assert slimmed["data"][1] == answer["data"][1]
    assert slimmed["data"][2] == answer["data"][2]
    assert slimmed["data"][3]["darkroom_stored"] == note
    assert slimmed["data"][4] == "not an item"
    assert (slimmed["created"], slimmed["usage"]) == (7, {"total_tokens": 12})
    # The answer it was made from is not changed.
    assert answer["data"][0]["b64_json"] == b64(STORED)


@pytest.mark.parametrize(
    "answer",
    [
        {"data": [{"b64_json": b64(OTHER)}]},
        {"data": [{"b64_json": "not base64 \u00e9"}]},
        {"effects": ["invert"]},
        {"data": "nothing"},
    ],
)
def test_an_answer_with_nothing_stored_is_left_alone(answer: dict[str, Any]) -> None:
    assert answer_slimmed(answer, stored_by_sha256={STORED_SHA: "image-1"}) is None


def test_a_finished_job_keeps_its_answer_without_the_results_base64(
    openai_model: tuple[OpenAIFake, ImageModel], alice: Any
) -> None:
    fake, model = openai_model
    result = image_bytes(512, 512, colour=(10, 200, 30))
    fake.then(json_reply({"created": 1, "data": [{"b64_json": b64(result)}], "usage": {"a": 1}}))
    job = run(make_job(user=alice, model=model, params={"n": 1}))
    assert job.status == JobStatus.SUCCEEDED, job.error_message
    stored = job.images.get(role=ImageRole.RESULT)
    with stored.file.open("rb") as handle:
        assert handle.read() == result
    saved = json.dumps(job.provider_response)
    assert base64.b64encode(result).decode() not in saved
    assert job.provider_response["data"][0]["darkroom_stored"] == {
        "image": str(stored.pk),
        "sha256": hashlib.sha256(result).hexdigest(),
    }
    assert job.provider_response["usage"] == {"a": 1}
    assert len(saved) < 500 < len(b64(result))


def test_a_failed_job_keeps_its_answer_whole(
    openai_model: tuple[OpenAIFake, ImageModel], alice: Any
) -> None:
    fake, model = openai_model
    fake.then(not_an_image())
    job = run(make_job(user=alice, model=model))
    assert job.status == JobStatus.FAILED
    assert job.provider_response["data"][0]["b64_json"] == b64(b"this is not an image")


def test_the_command_slims_the_answers_of_jobs_finished_before(
    openai_model: tuple[OpenAIFake, ImageModel], alice: Any
) -> None:
    fake, model = openai_model
    noise = io.BytesIO()
    Image.effect_noise((64, 64), 80).save(noise, format="PNG")
    result = noise.getvalue()
    whole = {"created": 1, "data": [{"b64_json": b64(result)}], "usage": {"a": 1}}
    finished = []
    for _ in range(3):
        fake.then(json_reply(whole))
        job = run(make_job(user=alice, model=model, params={"n": 1}))
        assert job.status == JobStatus.SUCCEEDED, job.error_message
        finished.append(job)
    fake.then(not_an_image())
    failed = run(make_job(user=alice, model=model))
    assert failed.status == JobStatus.FAILED
    failed_answer = failed.provider_response
    # As saved before answers were slimmed.
    Job.objects.filter(pk__in=[job.pk for job in finished]).update(provider_response=whole)
    out = io.StringIO()
    call_command("slim_answers", "--batch-size", "2", stdout=out)
    assert out.getvalue().strip() == "3 saved answers slimmed, of 3 finished jobs."
    for job in finished:
        job.refresh_from_db()
        stored = job.images.get(role=ImageRole.RESULT)
        assert job.provider_response["data"][0]["darkroom_stored"]["image"] == str(stored.pk)
        assert job.provider_response["usage"] == {"a": 1}
    failed.refresh_from_db()
    assert failed.provider_response == failed_answer
    # Run again: nothing left to do.
    out = io.StringIO()
    call_command("slim_answers", stdout=out)
    assert out.getvalue().strip() == "0 saved answers slimmed, of 3 finished jobs."


def test_a_slimming_that_fails_leaves_the_job_finished_and_its_answer_whole(
    openai_model: tuple[OpenAIFake, ImageModel], alice: Any, monkeypatch: Any, caplog: Any
) -> None:
    fake, model = openai_model
    result = image_bytes(64, 64, colour=(1, 2, 3))
    fake.then(json_reply({"created": 1, "data": [{"b64_json": b64(result)}]}))

    def broken(**kwargs: Any) -> bool:
        raise OperationalError("the database went away")

    monkeypatch.setattr(saved_answers, "job_answer_slim", broken)
    job = run(make_job(user=alice, model=model, params={"n": 1}))
    assert job.status == JobStatus.SUCCEEDED, job.error_message
    assert job.error_code == ""
    assert job.provider_response["data"][0]["b64_json"] == b64(result)
    assert f"Could not slim the saved answer of job {job.pk}" in caplog.text
    assert "failed unexpectedly" not in caplog.text
