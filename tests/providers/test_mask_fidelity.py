"""Mask fidelity and crop-back, against fakes that change every pixel they are sent."""

from __future__ import annotations

import base64
import hashlib
import io
import re
import time
from typing import Any

import pytest
from django.test import Client
from PIL import Image

from editor import pipeline
from editor.models import ImageModel, ImageRole, Job, JobImage, JobStatus
from tests.factories import make_job
from tests.fakes.dalle2 import Dalle2Fake
from tests.fakes.openai import OpenAIFake
from tests.images import mask_bytes, open_bytes, upload
from tests.media_helpers import is_presigned_redirect
from tests.providers.conftest import model_of, provider_on, run


def picture(width: int, height: int) -> bytes:
    """Blocks of different colours, so a moved or stretched pixel shows."""
    image = Image.new("RGB", (width, height))
    step = max(width, height) // 8
    for index, x in enumerate(range(0, width, step)):
        for row, y in enumerate(range(0, height, step)):
            image.paste(((index * 37) % 256, (row * 53) % 256, 90), (x, y, x + step, y + step))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def answer_note(job: Job) -> dict[str, str] | None:
    """What the saved answer says of its image once the worker has dropped its
    base64 (just after the job's end is told), or None if it kept it."""
    deadline = time.monotonic() + 10
    while True:
        answer = Job.objects.values_list("provider_response", flat=True).get(pk=job.pk)
        note: dict[str, str] | None = answer["data"][0].get("darkroom_stored")
        if note is not None or time.monotonic() > deadline:
            return note
        time.sleep(0.05)


def kept_as_received(job: Job, image: JobImage) -> None:
    """The saved answer names ``image`` as holding its bytes, byte for byte."""
    with image.file.open("rb") as handle:
        digest = hashlib.sha256(handle.read()).hexdigest()
    assert answer_note(job) == {"image": str(image.pk), "sha256": digest}


def pixels(image: JobImage) -> Image.Image:
    with image.file.open("rb") as handle:
        return open_bytes(handle.read())


def stored_bytes(image: JobImage) -> bytes:
    with image.file.open("rb") as handle:
        return handle.read()


def changed(image: Image.Image) -> Image.Image:
    """What the fakes' every-pixel mode does to a picture."""
    return image.convert("RGB").point(lambda value: value ^ 0x80)


def wait_for_final(job_id: Any, timeout: float = 30.0) -> Job:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = Job.objects.get(pk=job_id)
        if job.is_final:
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} still {job.status} after {timeout}s")


# --- Fidelity through a real worker ---------------------------------------------------


def post_masked_edit(client: Client, model: ImageModel, **fields: Any) -> Job:
    response = client.post(
        "/",
        {
            "prompt": "replace the sky",
            "image_model": model.pk,
            "images": [upload(picture(64, 48))],
            "mask": upload(mask_bytes(64, 48, box=(0, 0, 64, 16)), "mask.png"),
            "n": 1,
            "quality": "low",
            **fields,
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    return wait_for_final(Job.objects.latest("created").pk)


@pytest.mark.worker
def test_with_fidelity_on_the_pixels_outside_the_mask_stay_the_inputs(
    celery_worker: Any, alice: Any, bob_client: Client
) -> None:
    fake = OpenAIFake()
    fake.change_every_pixel = True
    client = Client()
    client.force_login(alice)
    with fake.running():
        model = model_of(provider_on(kind="openai", base_url=fake.base_url + "/v1"), "gpt-image-1")
        # The box is on by default: a client that never showed it gets it on.
        job = post_masked_edit(client, model)
    assert job.status == JobStatus.SUCCEEDED, job.error_message
    assert job.params["keep_outside_mask"] is True
    original = pixels(job.images.get(role=ImageRole.INPUT)).convert("RGB")
    result = pixels(job.images.get(role=ImageRole.RESULT)).convert("RGB")
    assert result.size == original.size == (64, 48)
    # Outside the mask (rows 16 and below): the input's pixels, exactly.
    assert result.crop((0, 16, 64, 48)).tobytes() == original.crop((0, 16, 64, 48)).tobytes()
    # Inside: the provider's, which changed every pixel.
    assert result.crop((0, 0, 64, 16)).tobytes() == changed(original).crop((0, 0, 64, 16)).tobytes()
    # The provider's answer is kept as it was received.
    raw = job.images.get(role=ImageRole.RAW)
    kept_as_received(job, raw)
    assert pixels(raw).convert("RGB").tobytes() == changed(original).tobytes()
    # The fake changed every protected pixel: the leak says so.
    assert job.mask_leak == 1.0
    page = client.get(f"/jobs/{job.pk}/").content.decode()
    assert "Leak: <strong>100 %</strong>" in page
    assert "Provider's raw output" in page
    assert f"/images/{raw.pk}/download/" in page
    # Said once, by the job's notice.
    assert page.count("Kept everything outside the mask") == 1
    assert "put your original pixels back" not in page
    described = client.get(f"/jobs/{job.pk}/", HTTP_ACCEPT="application/json").json()
    assert described["mask_leak"] == 1
    assert described["raw_outputs"][0]["url"].endswith(f"/images/{raw.pk}/")
    # The raw output is its owner's only.
    owned = client.get(f"/images/{raw.pk}/")
    assert owned.status_code == 200 or is_presigned_redirect(owned)
    for variant in ("", "thumb/", "download/"):
        assert bob_client.get(f"/images/{raw.pk}/{variant}").status_code == 404


@pytest.mark.worker
def test_with_fidelity_off_the_result_is_the_providers_answer(
    celery_worker: Any, alice: Any
) -> None:
    fake = OpenAIFake()
    fake.change_every_pixel = True
    client = Client()
    client.force_login(alice)
    with fake.running():
        model = model_of(provider_on(kind="openai", base_url=fake.base_url + "/v1"), "gpt-image-1")
        # The editor's form, sent with the box unticked.
        job = post_masked_edit(client, model, **{"keep_outside_mask-shown": "1"})
    assert job.status == JobStatus.SUCCEEDED, job.error_message
    assert job.params["keep_outside_mask"] is False
    kept_as_received(job, job.images.get(role=ImageRole.RESULT))
    assert not job.images.filter(role=ImageRole.RAW).exists()
    assert job.mask_leak == 1.0
    page = client.get(f"/jobs/{job.pk}/").content.decode()
    assert "Leak: <strong>100 %</strong>" in page
    assert "Not kept: the result shows the provider" in page


def test_the_editor_offers_the_box_ticked(alice_client: Client) -> None:
    page = alice_client.get("/").content.decode()
    box = re.search(r'<input[^>]*name="keep_outside_mask"[^>]*>', page)
    assert box is not None and "checked" in box.group(0)
    assert 'name="keep_outside_mask-shown"' in page
    assert "Keep everything outside the mask" in page


# --- DALL-E 2: padded answers cut back ------------------------------------------------


@pytest.fixture
def dalle2_fake() -> Any:
    server = Dalle2Fake()
    server.change_every_pixel = True
    with server.running():
        yield server


@pytest.fixture
def dalle2_model(dalle2_fake: Dalle2Fake, db: None) -> ImageModel:
    return model_of(provider_on(kind="dalle2", base_url=dalle2_fake.base_url + "/v1"), "dall-e-2")


@pytest.mark.parametrize("keep", [True, False])
def test_a_dalle2_edit_of_1024_by_768_comes_back_1024_by_768_without_bars(
    dalle2_fake: Dalle2Fake, dalle2_model: ImageModel, alice: Any, keep: bool
) -> None:
    job = run(
        make_job(
            user=alice,
            model=dalle2_model,
            images=[picture(1024, 768)],
            mask=mask_bytes(1024, 768, box=(0, 0, 512, 768)),
            params={"n": 1, "size": "1024x1024", "keep_outside_mask": keep},
        )
    )
    assert job.status == JobStatus.SUCCEEDED, job.error_message
    assert dalle2_fake.rejections == []
    raw = job.images.get(role=ImageRole.RAW)
    assert (raw.width, raw.height) == (1024, 1024)
    # The raw answer has the padding painted over: grey bars above and below.
    assert pixels(raw).convert("RGB").getpixel((700, 10)) == (128, 128, 128)
    result_row = job.images.get(role=ImageRole.RESULT)
    assert (result_row.width, result_row.height) == (1024, 768)
    result = pixels(result_row).convert("RGB")
    original = open_bytes(picture(1024, 768)).convert("RGB")
    assert result.size == (1024, 768)
    # Inside the mask, the top and bottom rows are the picture (changed), not a bar.
    assert (
        result.crop((0, 0, 512, 768)).tobytes()
        == changed(original).crop((0, 0, 512, 768)).tobytes()
    )
    kept = result.crop((512, 0, 1024, 768)).tobytes()
    if keep:
        assert kept == original.crop((512, 0, 1024, 768)).tobytes()
    else:
        assert kept == changed(original).crop((512, 0, 1024, 768)).tobytes()
    assert job.mask_leak == 1.0
    assert any("cut back" in notice or "Kept everything" in notice for notice in job.notices)


def test_an_outpainted_dalle2_job_comes_back_the_size_of_the_extended_canvas(
    dalle2_fake: Dalle2Fake, dalle2_model: ImageModel, alice: Any, alice_client: Client
) -> None:
    # A 1024×768 photo extended by 256 px to the left; the new strip is the mask.
    canvas = Image.new("RGB", (1280, 768), (0, 200, 0))
    canvas.paste(open_bytes(picture(1024, 768)), (256, 0))
    buffer = io.BytesIO()
    canvas.save(buffer, format="PNG")
    response = alice_client.post(
        "/",
        {
            "prompt": "more beach to the left",
            "image_model": dalle2_model.pk,
            "images": [upload(buffer.getvalue())],
            "mask": upload(mask_bytes(1280, 768, box=(0, 0, 256, 768)), "mask.png"),
            "frame": "256,0,1024,768",
            "size": "1024x1024",
            "n": 1,
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    job = Job.objects.get()
    assert job.params["frame"] == "256,0,1024,768"
    job = run(job)
    assert job.status == JobStatus.SUCCEEDED, job.error_message
    result_row = job.images.get(role=ImageRole.RESULT)
    assert (result_row.width, result_row.height) == (1280, 768)
    result = pixels(result_row).convert("RGB")
    # The original's pixels, exactly, where it sits in the canvas.
    assert result.crop((256, 0, 1280, 768)).tobytes() == canvas.crop((256, 0, 1280, 768)).tobytes()
    # The new strip is the provider's (the green strip, changed), with no
    # grey bar from DALL-E 2's square padding at the top or bottom.
    for y in (0, 767):
        assert result.getpixel((100, y)) == (128, 72, 128), y
    assert job.mask_leak == 1.0


# --- The frame is checked ----------------------------------------------------------


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        ("256,0,1024", "four whole numbers: x,y,width,height"),
        ("x,0,10,10", "four whole numbers"),
        ("0,0,0,10", "must have a width and a height"),
        ("40,0,64,48", "must lie inside the first image (64×48)"),
    ],
)
def test_a_frame_that_is_not_inside_the_first_image_is_refused(
    alice_client: Client, offline_model: ImageModel, frame: str, message: str
) -> None:
    response = alice_client.post(
        "/",
        {
            "prompt": "invert",
            "image_model": offline_model.pk,
            "images": [upload(picture(64, 48))],
            "frame": frame,
        },
    )
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Job.objects.exists()


def test_a_frame_without_an_image_is_refused(
    alice_client: Client, offline_model: ImageModel
) -> None:
    response = alice_client.post(
        "/", {"prompt": "a lighthouse", "image_model": offline_model.pk, "frame": "0,0,8,8"}
    )
    assert response.status_code == 400
    assert "A frame needs an image to apply to." in response.content.decode()
    assert not Job.objects.exists()


def test_a_recovered_job_is_finished_the_same_way_without_a_second_call(
    dalle2_fake: Dalle2Fake, dalle2_model: ImageModel, alice: Any
) -> None:
    job = make_job(
        user=alice,
        model=dalle2_model,
        images=[picture(64, 48)],
        mask=mask_bytes(64, 48, box=(0, 0, 32, 48)),
        params={"n": 1, "size": "256x256", "keep_outside_mask": True},
    )
    first = run(job)
    raw = first.images.get(role=ImageRole.RAW)
    # The answer as it was saved before its base64 was dropped.
    answer = {
        **first.provider_response,
        "data": [{"b64_json": base64.b64encode(stored_bytes(raw)).decode()}],
    }
    # As if the worker had stopped after the answer was saved: nothing stored yet.
    first.images.filter(role__in=[ImageRole.RESULT, ImageRole.RAW]).delete()
    Job.objects.filter(pk=job.pk).update(
        status=JobStatus.QUEUED, mask_leak=None, notices=[], provider_response=answer
    )
    pipeline.run_job(job_id=str(job.pk))
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.error_message
    assert len(dalle2_fake.paid_calls("/images/edits")) == 1
    # Stored again from the saved answer, which then names what holds its image.
    kept_as_received(job, job.images.get(role=ImageRole.RAW))
    result = job.images.get(role=ImageRole.RESULT)
    assert (result.width, result.height) == (64, 48)
    assert job.images.filter(role=ImageRole.RAW).count() == 1
    assert job.mask_leak == 1.0


def test_the_history_shows_each_jobs_leak_in_the_same_queries(
    alice: Any, alice_client: Client, django_assert_max_num_queries: Any
) -> None:
    leaky = make_job(user=alice, prompt="leaky sky")
    make_job(user=alice, prompt="unmeasured sea")
    Job.objects.filter(pk=leaky.pk).update(mask_leak=0.523)
    alice_client.get("/history/")  # the first request caches the session's user
    with django_assert_max_num_queries(4):
        page = alice_client.get("/history/").content.decode()
    assert page.count("leak 52.3 %") == 1
    details = alice_client.get(f"/jobs/{leaky.pk}/").content.decode()
    assert "52.3 % of the protected pixels changed by the provider" in details


def test_a_dalle2_edit_cropped_to_its_centre_square_keeps_that_squares_pixels(
    dalle2_fake: Dalle2Fake, dalle2_model: ImageModel, alice: Any
) -> None:
    job = run(
        make_job(
            user=alice,
            model=dalle2_model,
            images=[picture(96, 64)],
            mask=mask_bytes(96, 64, box=(0, 0, 48, 64)),
            params={"n": 1, "size": "256x256", "square_mode": "crop", "keep_outside_mask": True},
        )
    )
    assert job.status == JobStatus.SUCCEEDED, job.error_message
    result_row = job.images.get(role=ImageRole.RESULT)
    assert (result_row.width, result_row.height) == (64, 64)
    square = open_bytes(picture(96, 64)).convert("RGB").crop((16, 0, 80, 64))
    result = pixels(result_row).convert("RGB")
    # Columns 48..80 of the image are outside the mask: the original's, exactly.
    assert result.crop((32, 0, 64, 64)).tobytes() == square.crop((32, 0, 64, 64)).tobytes()
    assert job.images.get(role=ImageRole.RAW).width == 256
    assert job.mask_leak == 1.0
