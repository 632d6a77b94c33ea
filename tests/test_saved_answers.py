"""The saved provider answer: whole until its results are stored, then
without the base64 that storage holds byte for byte."""

from __future__ import annotations

import base64
import hashlib
import io
import json
from typing import Any

import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.db import OperationalError
from PIL import Image

from editor import imaging, pipeline, saved_answers, services
from editor.media import image_store
from editor.models import ImageModel, ImageRole, Job, JobImage, JobStatus
from editor.saved_answers import answer_slimmed
from tests.factories import make_job
from tests.fakes.common import b64, json_reply, not_an_image
from tests.fakes.openai import OpenAIFake
from tests.images import image_bytes, oriented_photo
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


def test_an_answer_whose_images_were_all_kept_is_not_looked_at_again(
    openai_model: tuple[OpenAIFake, ImageModel], alice: Any
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    fake, model = openai_model
    fake.then(json_reply({"created": 1, "data": [{"b64_json": b64(image_bytes(64, 64))}]}))
    job = run(make_job(user=alice, model=model, params={"n": 1}))
    assert job.status == JobStatus.SUCCEEDED, job.error_message
    assert job.provider_response["data"][0]["darkroom_stored"]
    # What the worker does right after telling the job's end: with every
    # image kept apart already, it asks the database nothing.
    with CaptureQueriesContext(connection) as queries:
        assert not saved_answers.job_answer_slim(job=job, answer=job.provider_response)
    assert queries.captured_queries == []


def test_a_slimming_that_fails_leaves_the_job_finished_and_its_answer_whole(
    openai_model: tuple[OpenAIFake, ImageModel], alice: Any, monkeypatch: Any, caplog: Any
) -> None:
    fake, model = openai_model
    result = image_bytes(64, 64, colour=(1, 2, 3))
    fake.then(json_reply({"created": 1, "data": [{"b64_json": b64(result)}]}))

    def broken(**kwargs: Any) -> bool:
        raise OperationalError("the database went away")

    # Storage refuses the answer's image when it comes, so the answer is
    # saved whole and slimmed once the result is stored; that fails too.
    monkeypatch.setattr(pipeline, "image_file_write", storage_refuses)
    monkeypatch.setattr(saved_answers, "job_answer_slim", broken)
    job = run(make_job(user=alice, model=model, params={"n": 1}))
    assert job.status == JobStatus.SUCCEEDED, job.error_message
    assert job.error_code == ""
    assert job.provider_response["data"][0]["b64_json"] == b64(result)
    assert f"Could not slim the saved answer of job {job.pk}" in caplog.text
    assert "failed unexpectedly" not in caplog.text


def storage_refuses(**kwargs: Any) -> Any:
    raise OSError("No space left on device")


def files_of(job: Job) -> set[str]:
    """The names of every file stored under ``job``'s folder."""
    _, names = default_storage.listdir(f"jobs/{job.pk}")
    return {f"jobs/{job.pk}/{name}" for name in names}


def names_of_images(job: Job) -> set[str]:
    """The files and thumbnails of ``job``'s images."""
    return {
        name
        for image in JobImage.objects.filter(job=job)
        for name in (image.file.name, image.thumbnail.name)
        if name
    }


def saved_on_arrival(monkeypatch: Any) -> list[dict[str, Any]]:
    """Each answer as the worker saves it on the job when it comes."""
    saved: list[dict[str, Any]] = []
    save = pipeline.answer_save

    def answer_save(**kwargs: Any) -> None:
        saved.append(json.loads(json.dumps(kwargs["answer"])))
        save(**kwargs)

    monkeypatch.setattr(pipeline, "answer_save", answer_save)
    return saved


def test_the_answer_is_saved_with_its_images_in_storage_and_each_result_written_once(
    openai_model: tuple[OpenAIFake, ImageModel], alice: Any, monkeypatch: Any
) -> None:
    fake, model = openai_model
    first, second = image_bytes(256, 256, colour=(200, 10, 10)), image_bytes(256, 256)
    fake.then(
        json_reply({"created": 1, "data": [{"b64_json": b64(first)}, {"b64_json": b64(second)}]})
    )
    saved = saved_on_arrival(monkeypatch)
    writes: list[str] = []
    write = pipeline.image_file_write

    def counted_write(**kwargs: Any) -> Any:
        writes.append(kwargs["role"])
        return write(**kwargs)

    monkeypatch.setattr(pipeline, "image_file_write", counted_write)
    job = run(make_job(user=alice, model=model, params={"n": 2}))
    assert job.status == JobStatus.SUCCEEDED, job.error_message
    # On arrival the row got notes, not megabytes of base64.
    (answer,) = saved
    assert b64(first) not in json.dumps(answer)
    results = list(job.images.filter(role=ImageRole.RESULT).order_by("position"))
    assert [item["darkroom_stored"]["image"] for item in answer["data"]] == [
        str(image.pk) for image in results
    ]
    # Each result's file is the one written when the answer came.
    assert writes == [ImageRole.ANSWER, ImageRole.ANSWER]
    assert not job.images.filter(role=ImageRole.ANSWER).exists()
    for image, data in zip(results, (first, second), strict=True):
        with image.file.open("rb") as handle:
            assert handle.read() == data
    assert files_of(job) == names_of_images(job)
    assert job.stored_bytes == sum(
        image.bytes + image.thumbnail_bytes for image in job.images.all()
    )
    assert job.provider_response == answer


def test_a_worker_that_stops_after_the_answer_came_is_followed_by_one_that_stores_it(
    openai_model: tuple[OpenAIFake, ImageModel], alice: Any, monkeypatch: Any, settings: Any
) -> None:
    fake, model = openai_model
    result = image_bytes(128, 96, colour=(0, 90, 200))
    fake.then(json_reply({"created": 1, "data": [{"b64_json": b64(result)}]}))

    class WorkerStopped(BaseException):
        """What a SIGKILL would leave: nothing after this point ran."""

    def stop(*args: Any, **kwargs: Any) -> bool:
        raise WorkerStopped

    store = pipeline._store_results
    monkeypatch.setattr(pipeline, "_store_results", stop)
    job = make_job(user=alice, model=model, params={"n": 1})
    with pytest.raises(WorkerStopped):
        pipeline.run_job(job_id=str(job.pk))
    kept = job.images.get(role=ImageRole.ANSWER)
    assert Job.objects.get(pk=job.pk).status == JobStatus.RUNNING
    monkeypatch.setattr(pipeline, "_store_results", store)
    settings.DARKROOM_STALE_AFTER_SECONDS = 0
    enqueued: list[str] = []
    assert pipeline.jobs_recover(enqueue=enqueued.append)["requeued_answered"] == 1
    job = run(job)
    assert job.status == JobStatus.SUCCEEDED, job.error_message
    assert len(fake.paid_calls("/images/edits")) == 1
    stored = job.images.get(role=ImageRole.RESULT)
    assert stored.pk == kept.pk
    with stored.file.open("rb") as handle:
        assert handle.read() == result
    assert job.provider_response["data"][0]["darkroom_stored"]["image"] == str(stored.pk)
    assert files_of(job) == names_of_images(job)


def test_an_answer_image_that_storage_refuses_is_saved_whole_and_the_job_goes_on(
    openai_model: tuple[OpenAIFake, ImageModel], alice: Any, monkeypatch: Any, caplog: Any
) -> None:
    fake, model = openai_model
    result = image_bytes(64, 48, colour=(9, 9, 9))
    fake.then(json_reply({"created": 1, "data": [{"b64_json": b64(result)}]}))
    saved = saved_on_arrival(monkeypatch)
    monkeypatch.setattr(pipeline, "image_file_write", storage_refuses)
    job = run(make_job(user=alice, model=model, params={"n": 1}))
    assert job.status == JobStatus.SUCCEEDED, job.error_message
    assert saved[0]["data"][0]["b64_json"] == b64(result)
    assert "could not keep the answer's images in file storage" in caplog.text
    # Slimmed once the result was stored, as answers were before.
    stored = job.images.get(role=ImageRole.RESULT)
    assert job.provider_response["data"][0]["darkroom_stored"]["image"] == str(stored.pk)
    assert files_of(job) == names_of_images(job)


def test_an_answer_darkroom_had_to_turn_keeps_its_image_as_received_until_the_job_goes(
    openai_model: tuple[OpenAIFake, ImageModel], alice: Any, django_capture_on_commit_callbacks: Any
) -> None:
    fake, model = openai_model
    # A JPEG on its side with an EXIF orientation: the result is turned upright.
    sideways = oriented_photo(6, width=48, height=64)
    fake.then(json_reply({"created": 1, "data": [{"b64_json": b64(sideways)}]}))
    job = run(make_job(user=alice, model=model, params={"n": 1}))
    assert job.status == JobStatus.SUCCEEDED, job.error_message
    result = job.images.get(role=ImageRole.RESULT)
    received = job.images.get(role=ImageRole.ANSWER)
    with received.file.open("rb") as handle:
        assert handle.read() == sideways
    assert (result.width, result.height) == (48, 64)
    assert job.provider_response["data"][0]["darkroom_stored"]["image"] == str(received.pk)
    assert files_of(job) >= {result.file.name, received.file.name}
    with django_capture_on_commit_callbacks(execute=True):
        assert services.jobs_delete(jobs=Job.objects.filter(pk=job.pk)) == 1
    assert not default_storage.exists(received.file.name)
    assert not default_storage.exists(result.file.name)


def test_the_whole_answer_is_read_back_from_the_notes(alice: Any) -> None:
    answer = {
        "created": 3,
        "data": [
            {"b64_json": b64(STORED), "revised_prompt": "red"},
            {"url": "data:image/png;base64," + b64(OTHER)},
            {"url": "https://cdn.example/r/1.png"},
        ],
    }
    found = saved_answers.answer_images(answer)
    assert [(image.position, image.data) for image in found] == [(0, STORED), (1, OTHER)]
    noted = saved_answers.answer_noted(answer, stored={0: ("a", "sha-a"), 1: ("b", "sha-b")})
    assert noted["data"][0] == {
        "b64_json": "[stored as image a]",
        "revised_prompt": "red",
        "darkroom_stored": {"image": "a", "sha256": "sha-a"},
    }
    assert noted["data"][1]["url"] == "[stored as image b]"
    assert noted["data"][2] == answer["data"][2]
    assert saved_answers.answer_images(noted) == []
    job = make_job(user=alice)
    stored = {
        image.position: (str(image.pk), image.sha256)
        for image in (
            image_store(
                job=job,
                role=ImageRole.ANSWER,
                position=found.position,
                data=found.data,
                info=imaging.inspect_image(found.data, max_pixels=10**6),
            )
            for found in saved_answers.answer_images(answer)
        )
    }
    whole = saved_answers.answer_whole(
        job=job, answer=saved_answers.answer_noted(answer, stored=stored)
    )
    assert whole == answer
    job.images.filter(role=ImageRole.ANSWER, position=1).delete()
    with pytest.raises(LookupError):
        saved_answers.answer_whole(
            job=job, answer=saved_answers.answer_noted(answer, stored=stored)
        )
