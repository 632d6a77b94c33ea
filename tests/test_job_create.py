"""Creating a job from the editor form: validation first, nothing stored on error."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from editor.models import ImageRole, Job, JobImage
from tests.images import image_bytes, mask_bytes, upload


def stored_files(media: Path) -> list[Path]:
    return [path for path in media.rglob("*") if path.is_file()]


def post(client: Client, model: Any, **fields: Any) -> Any:
    data = {"prompt": "make it black and white", "image_model": model.pk, **fields}
    return client.post("/", data)


def assert_nothing_stored(media: Path) -> None:
    assert Job.objects.count() == 0
    assert JobImage.objects.count() == 0
    assert stored_files(media) == []


def test_a_valid_edit_creates_a_job_and_queues_it_after_commit(
    alice_client: Client,
    offline_model: Any,
    media_dir: Path,
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks() as callbacks:
        response = post(
            alice_client, offline_model, images=[upload(image_bytes()), upload(image_bytes(10, 10))]
        )
    job = Job.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/jobs/{job.pk}/"
    assert job.kind == "edit" and job.status == "queued"
    inputs = list(job.images.filter(role=ImageRole.INPUT).order_by("position"))
    assert [(image.width, image.height) for image in inputs] == [(64, 48), (10, 10)]
    assert len(callbacks) == 1
    # Stored under random names, never the upload's name.
    names = [name for image in inputs for name in (image.file.name, image.thumbnail.name)]
    assert names and not any("photo" in name for name in names)


def test_the_input_is_stored_byte_for_byte(alice_client: Client, offline_model: Any) -> None:
    original = image_bytes(image_format="JPEG")
    post(alice_client, offline_model, images=[upload(original, "x.jpg", "image/jpeg")])
    stored = JobImage.objects.get(role=ImageRole.INPUT)
    assert stored.format == "JPEG"
    with stored.file.open("rb") as handle:
        assert handle.read() == original


def test_without_images_it_generates(alice_client: Client, offline_model: Any) -> None:
    response = post(alice_client, offline_model, prompt="a lighthouse at dusk", size="512x512")
    assert response.status_code == 302
    job = Job.objects.get()
    assert job.kind == "generate"
    assert job.params == {"n": 1, "size": "512x512"}


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ([upload(b"just some text", "notes.png")], "not a PNG, JPEG, WebP or GIF"),
        (
            [upload(image_bytes(image_format="TIFF"), "scan.tif", "image/tiff")],
            "not a PNG, JPEG, WebP or GIF",
        ),
        ([upload(image_bytes(image_format="BMP"), "x.png")], "not a PNG, JPEG, WebP or GIF"),
        ([upload(image_bytes()[:60], "cut.png")], "damaged or incomplete"),
    ],
)
def test_it_rejects_what_is_not_a_png_jpeg_webp_or_gif(
    alice_client: Client, offline_model: Any, media_dir: Path, files: list[Any], message: str
) -> None:
    response = post(alice_client, offline_model, images=files)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert_nothing_stored(media_dir)


def test_it_rejects_a_file_over_the_size_cap(
    alice_client: Client, offline_model: Any, media_dir: Path, settings: Any
) -> None:
    settings.DARKROOM_MAX_UPLOAD_BYTES = 1000
    response = post(
        alice_client,
        offline_model,
        images=[upload(image_bytes(200, 200, mode="RGB", colour=(1, 2, 3)) + b"\0" * 1000)],
    )
    # Stopped while the request was read (webapp/uploads.py), not after.
    assert response.status_code == 413
    assert "“photo.png” is larger than 1000" in response.content.decode()
    assert_nothing_stored(media_dir)


def test_it_rejects_too_many_pixels(
    alice_client: Client, offline_model: Any, media_dir: Path, settings: Any
) -> None:
    settings.DARKROOM_MAX_IMAGE_PIXELS = 1000
    response = post(alice_client, offline_model, images=[upload(image_bytes(40, 40))])
    assert response.status_code == 400
    assert "40×40 pixels" in response.content.decode()
    assert_nothing_stored(media_dir)


def test_it_rejects_more_than_sixteen_images(
    alice_client: Client, offline_model: Any, media_dir: Path
) -> None:
    response = post(
        alice_client, offline_model, images=[upload(image_bytes(8, 8)) for _ in range(17)]
    )
    assert response.status_code == 400
    assert "17 images chosen; at most 16" in response.content.decode()
    assert_nothing_stored(media_dir)


def test_it_rejects_a_mask_of_another_size(
    alice_client: Client, offline_model: Any, media_dir: Path
) -> None:
    response = post(
        alice_client,
        offline_model,
        images=[upload(image_bytes(64, 48))],
        mask=upload(mask_bytes(32, 32, box=(0, 0, 8, 8)), "mask.png"),
    )
    assert response.status_code == 400
    assert (
        "The mask is 32×32; it must be the same size as the first image (64×48)"
        in response.content.decode()
    )
    assert_nothing_stored(media_dir)


def test_it_rejects_a_mask_that_marks_nothing(
    alice_client: Client, offline_model: Any, media_dir: Path
) -> None:
    response = post(
        alice_client,
        offline_model,
        images=[upload(image_bytes(64, 48))],
        mask=upload(mask_bytes(64, 48, box=(0, 0, 0, 0)), "mask.png"),
    )
    assert response.status_code == 400
    assert "marks nothing to change" in response.content.decode()
    assert_nothing_stored(media_dir)


@pytest.mark.parametrize(
    ("convention", "notice"),
    # A painted (white) mask needs no word; an uploaded OpenAI-style one says how it was read.
    [("white", None), ("transparent", "transparent = area to change")],
)
def test_it_reads_either_mask_convention(
    alice_client: Client, offline_model: Any, convention: str, notice: str | None
) -> None:
    post(
        alice_client,
        offline_model,
        images=[upload(image_bytes(64, 48))],
        mask=upload(mask_bytes(64, 48, box=(0, 0, 16, 48), convention=convention), "mask.png"),
    )
    job = Job.objects.get()
    if notice is None:
        assert not any("Mask read" in text for text in job.notices)
    else:
        assert any(notice in text for text in job.notices)
    mask = job.images.get(role=ImageRole.MASK)
    from tests.images import open_bytes

    with mask.file.open("rb") as handle:
        canonical = open_bytes(handle.read())
    assert canonical.mode == "L"
    assert canonical.getpixel((5, 5)) == 255 and canonical.getpixel((40, 5)) == 0


def test_it_rejects_a_prompt_over_the_model_limit(
    alice_client: Client, offline_model: Any, media_dir: Path
) -> None:
    offline_model.max_prompt_length = 10
    offline_model.save()
    response = post(alice_client, offline_model, images=[upload(image_bytes())], prompt="x" * 11)
    assert response.status_code == 400
    assert "The prompt is 11 characters" in response.content.decode()
    assert_nothing_stored(media_dir)


def test_it_rejects_a_parameter_the_model_does_not_support(
    alice_client: Client, offline_model: Any, media_dir: Path
) -> None:
    response = post(alice_client, offline_model, images=[upload(image_bytes())], strength="0.5")
    assert response.status_code == 400
    assert "does not support: strength" in response.content.decode()
    assert_nothing_stored(media_dir)


def test_it_rejects_a_parameter_out_of_range(
    alice_client: Client, offline_model: Any, media_dir: Path
) -> None:
    response = post(alice_client, offline_model, images=[upload(image_bytes())], n="9")
    assert response.status_code == 400
    assert "less than or equal to 4" in response.content.decode()
    assert_nothing_stored(media_dir)


def test_it_rejects_a_disabled_model(
    alice_client: Client, offline_model: Any, media_dir: Path
) -> None:
    offline_model.enabled = False
    offline_model.save()
    response = post(alice_client, offline_model, images=[upload(image_bytes())])
    assert response.status_code == 400
    assert_nothing_stored(media_dir)


def test_a_failed_storage_write_leaves_no_files(
    alice_client: Client, offline_model: Any, media_dir: Path, monkeypatch: Any
) -> None:
    from django.core.files.storage import Storage

    calls = {"count": 0}
    real_save = Storage.save

    def failing_save(storage: Any, name: str, content: Any, max_length: int | None = None) -> str:
        calls["count"] += 1
        if calls["count"] == 4:  # the second image's thumbnail
            raise OSError("disk full")
        return real_save(storage, name, content, max_length=max_length)

    # Local and S3 storage alike inherit save() from Storage.
    monkeypatch.setattr(Storage, "save", failing_save)
    alice_client.raise_request_exception = False
    response = post(
        alice_client, offline_model, images=[upload(image_bytes()), upload(image_bytes())]
    )
    assert response.status_code == 500
    assert_nothing_stored(media_dir)


@pytest.mark.django_db(transaction=True)
def test_a_job_is_saved_even_when_the_broker_is_down(
    alice_client: Client, offline_model: Any, monkeypatch: Any
) -> None:
    from kombu.exceptions import OperationalError

    from editor import tasks

    def broker_down(*args: Any, **kwargs: Any) -> None:
        raise OperationalError("Connection refused")

    monkeypatch.setattr(tasks.run_job, "delay", broker_down)
    response = post(alice_client, offline_model, images=[upload(image_bytes())])
    job = Job.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/jobs/{job.pk}/"
    assert job.status == "queued"


# --- Hidden fields are validated like the visible ones -----------------------------------


@pytest.fixture
def earlier_jobs(alice: Any, bob: Any, offline_model: Any) -> dict[str, Any]:
    from tests.factories import make_job

    mask = mask_bytes(64, 48, box=(0, 0, 10, 10))
    alices = make_job(user=alice, mask=mask, model=offline_model)
    bobs = make_job(user=bob, mask=mask, model=offline_model)
    return {
        "job": alices,
        "input": alices.images.get(role=ImageRole.INPUT),
        "mask": alices.images.get(role=ImageRole.MASK),
        "bobs_job": bobs,
        "bobs_input": bobs.images.get(role=ImageRole.INPUT),
        "bobs_mask": bobs.images.get(role=ImageRole.MASK),
    }


MASK_NOT_FOUND = "The earlier mask this job starts from was not found."
PARENT_NOT_FOUND = "The earlier job this continues was not found."
IMAGE_NOT_FOUND = "One of the chosen images was not found."


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (lambda e: {"source_mask": "not-a-uuid"}, MASK_NOT_FOUND),
        (lambda e: {"source_mask": f"{e['mask'].pk}0"}, MASK_NOT_FOUND),
        (lambda e: {"source_mask": str(e["bobs_mask"].pk)}, MASK_NOT_FOUND),
        (lambda e: {"source_mask": str(e["bobs_mask"].pk).upper()}, MASK_NOT_FOUND),
        (lambda e: {"source_mask": str(e["input"].pk)}, MASK_NOT_FOUND),  # not a mask
        (lambda e: {"parent": "not-a-uuid"}, PARENT_NOT_FOUND),
        (lambda e: {"parent": str(e["bobs_job"].pk)}, PARENT_NOT_FOUND),
        (lambda e: {"source_image": "not-a-uuid"}, IMAGE_NOT_FOUND),
        (lambda e: {"source_image": str(e["bobs_input"].pk)}, IMAGE_NOT_FOUND),
        (lambda e: {"source_image": str(e["mask"].pk)}, IMAGE_NOT_FOUND),  # masks are not inputs
        (
            lambda e: {"source_image": str(e["input"].pk), "image_order": "upload,not-a-uuid"},
            "The image order names",
        ),
    ],
)
def test_a_hidden_field_naming_nothing_of_the_users_is_refused_with_a_message(
    alice_client: Client,
    offline_model: Any,
    earlier_jobs: dict[str, Any],
    fields: Any,
    message: str,
) -> None:
    before = (Job.objects.count(), JobImage.objects.count())
    response = post(alice_client, offline_model, **fields(earlier_jobs))
    assert response.status_code == 400
    body = response.content.decode()
    assert message in body and 'id="job-form"' in body
    assert "data-source-mask-url" not in body
    assert (Job.objects.count(), JobImage.objects.count()) == before


def test_upper_case_ids_name_the_same_images(
    alice_client: Client, offline_model: Any, earlier_jobs: dict[str, Any]
) -> None:
    image_id, mask_id = str(earlier_jobs["input"].pk), str(earlier_jobs["mask"].pk)
    response = post(
        alice_client,
        offline_model,
        source_image=image_id.upper(),
        image_order=image_id.upper(),
        source_mask=mask_id.upper(),
        parent=str(earlier_jobs["job"].pk).upper(),
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    job = Job.objects.order_by("-created").first()
    assert job is not None and job.parent_id == earlier_jobs["job"].pk
    assert job.images.filter(role=ImageRole.MASK).exists()


def test_a_refused_form_keeps_the_checked_mask_for_the_painter(
    alice_client: Client, offline_model: Any, earlier_jobs: dict[str, Any]
) -> None:
    mask_id = str(earlier_jobs["mask"].pk)
    response = post(
        alice_client,
        offline_model,
        prompt="",
        source_image=str(earlier_jobs["input"].pk),
        source_mask=mask_id.upper(),
    )
    assert response.status_code == 400
    assert f'data-source-mask-url="/images/{mask_id}/"' in response.content.decode()
