"""Uploads through the editor form: phone photos stored, thumbnailed, masked
and edited upright; animations keep their first frame and say so."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import Client
from PIL import Image, ImageOps

from editor import imaging, media, pipeline, tasks
from editor.models import ImageRole, Job, JobImage, JobStatus
from editor.providers.base import ProviderConfig
from editor.providers.results import check_image
from tests.images import (
    QUADRANTS,
    animation,
    close_to,
    image_bytes,
    mask_bytes,
    open_bytes,
    oriented_photo,
    quadrant_colours,
    upload,
)
from tests.media_helpers import body_of, stored
from tests.test_job_create import assert_nothing_stored, post


def photo_upload(orientation: int, **options: Any) -> Any:
    return upload(oriented_photo(orientation, **options), "IMG_0001.jpg", "image/jpeg")


def inverted(colours: Any) -> list[tuple[int, int, int]]:
    return [(255 - r, 255 - g, 255 - b) for r, g, b in colours]


@pytest.mark.parametrize("orientation", range(1, 9))
def test_a_phone_photo_is_stored_thumbnailed_and_edited_upright(
    alice_client: Client, offline_model: Any, orientation: int
) -> None:
    response = post(
        alice_client, offline_model, prompt="invert it", images=[photo_upload(orientation)]
    )
    assert response.status_code == 302
    job = Job.objects.get()
    source = job.images.get(role=ImageRole.INPUT)
    assert (source.width, source.height) == (48, 64)
    # Kept as received until the job's worker turns it; shown upright meanwhile.
    assert source.orientation == orientation
    received, received_name = stored(source), source.file.name
    assert received == oriented_photo(orientation)
    as_shown = ImageOps.exif_transpose(open_bytes(received))
    assert as_shown.size == (48, 64)
    assert close_to(quadrant_colours(as_shown), QUADRANTS, 12), quadrant_colours(as_shown)
    with source.thumbnail.open("rb") as handle:
        small = open_bytes(handle.read())
    assert small.width < small.height
    assert close_to(quadrant_colours(small), QUADRANTS, 30), quadrant_colours(small)

    pipeline.run_job(job_id=str(job.pk))
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.error_message
    source.refresh_from_db()
    assert source.orientation == 1
    picture = open_bytes(stored(source))
    assert picture.size == (48, 64)
    assert close_to(quadrant_colours(picture), QUADRANTS, 12), quadrant_colours(picture)
    assert picture.getexif().get(0x0112, 1) == 1  # nothing left for a browser to turn
    assert source.bytes == len(stored(source))
    assert source.sha256 == hashlib.sha256(stored(source)).hexdigest()
    # The received file is gone, and the job's storage count follows the new one.
    assert default_storage.exists(received_name) == (orientation == 1)
    assert job.stored_bytes == sum(i.bytes + i.thumbnail_bytes for i in job.images.all())
    result = job.images.get(role=ImageRole.RESULT)
    edited = open_bytes(stored(result))
    assert (result.width, result.height) == edited.size == (48, 64)
    assert close_to(quadrant_colours(edited), inverted(QUADRANTS), 16), quadrant_colours(edited)


def sideways_job(client: Client, model: Any) -> tuple[Job, JobImage]:
    """A job made from a phone photo (EXIF 6), and its input, not yet turned."""
    post(client, model, images=[photo_upload(6)])
    job = Job.objects.get()
    source = job.images.get(role=ImageRole.INPUT)
    assert source.orientation == 6  # its job has not run (yet)
    return job, source


def test_a_photo_not_yet_turned_is_turned_by_the_job_that_reuses_it(
    alice_client: Client, offline_model: Any
) -> None:
    first, source = sideways_job(alice_client, offline_model)
    response = post(alice_client, offline_model, prompt="invert it", source_image=str(source.pk))
    assert response.status_code == 302
    again = Job.objects.exclude(pk=first.pk).get()
    reused = again.images.get(role=ImageRole.INPUT)
    assert (reused.orientation, reused.width, reused.height) == (6, 48, 64)
    pipeline.run_job(job_id=str(again.pk))
    again.refresh_from_db()
    assert again.status == JobStatus.SUCCEEDED, again.error_message
    reused.refresh_from_db()
    assert reused.orientation == 1
    edited = open_bytes(stored(again.images.get(role=ImageRole.RESULT)))
    assert close_to(quadrant_colours(edited), inverted(QUADRANTS), 16), quadrant_colours(edited)
    # The first job's own copy is untouched until it runs.
    source.refresh_from_db()
    assert source.orientation == 6 and stored(source) == oriented_photo(6)


def test_a_photo_that_cannot_be_turned_fails_its_job_before_anything_is_sent(
    alice_client: Client, offline_model: Any
) -> None:
    job, source = sideways_job(alice_client, offline_model)
    # Damaged in storage after it was checked.
    default_storage.delete(source.file.name)
    assert default_storage.save(source.file.name, ContentFile(b"not a JPEG")) == source.file.name
    pipeline.run_job(job_id=str(job.pk))
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert job.error_code == "bad_input"
    assert job.error_message.startswith("Image 1 could not be read (")
    assert job.error_message.endswith("so nothing was sent.")
    assert job.sent is None
    source.refresh_from_db()
    assert source.orientation == 6


def test_a_mask_painted_on_the_upright_photo_fits_and_lands_on_its_pixels(
    alice_client: Client, offline_model: Any
) -> None:
    # The top-left quadrant of the upright 48x64 picture is the area to change.
    mask = mask_bytes(48, 64, box=(0, 0, 24, 32))
    response = post(
        alice_client,
        offline_model,
        prompt="invert it",
        images=[photo_upload(6)],
        mask=upload(mask, "mask.png"),
    )
    assert response.status_code == 302
    job = Job.objects.get()
    pipeline.run_job(job_id=str(job.pk))
    edited = open_bytes(stored(job.images.get(role=ImageRole.RESULT)))
    expected = [inverted(QUADRANTS[:1])[0], *QUADRANTS[1:]]
    assert close_to(quadrant_colours(edited), expected, 16), quadrant_colours(edited)


def test_a_mask_of_the_raw_sideways_size_is_refused_with_the_upright_size(
    alice_client: Client, offline_model: Any, media_dir: Path
) -> None:
    response = post(
        alice_client,
        offline_model,
        images=[photo_upload(6)],
        mask=upload(mask_bytes(64, 48, box=(0, 0, 10, 10)), "mask.png"),
    )
    assert response.status_code == 400
    assert (
        "The mask is 64×48; it must be the same size as the first image (48×64)."
        in response.content.decode()
    )
    assert_nothing_stored(media_dir)


def test_an_animated_image_keeps_its_first_frame_and_the_job_says_so(
    alice_client: Client, offline_model: Any
) -> None:
    gif = animation("GIF", [(200, 30, 30), (30, 200, 30)])
    response = post(
        alice_client,
        offline_model,
        images=[upload(image_bytes()), upload(gif, "dance.gif", "image/gif")],
    )
    assert response.status_code == 302
    job = Job.objects.get()
    notice = "Image 2 is animated; only its first frame was used."
    assert job.notices == [notice]
    second = job.images.get(role=ImageRole.INPUT, position=1)
    assert second.format == "PNG" and second.file.name.endswith(".png")
    assert open_bytes(stored(second)).convert("RGB").getpixel((5, 5)) == (200, 30, 30)
    assert notice in alice_client.get(f"/jobs/{job.pk}/").content.decode()


def test_an_upload_is_decoded_once(
    alice_client: Client, offline_model: Any, monkeypatch: Any
) -> None:
    photo = photo_upload(6)
    data = photo.read()
    photo.seek(0)
    opened: list[int] = []
    real_open = Image.open

    def counting_open(fp: Any, *args: Any, **kwargs: Any) -> Any:
        if hasattr(fp, "getvalue") and fp.getvalue() == data:
            opened.append(1)
        return real_open(fp, *args, **kwargs)

    monkeypatch.setattr(Image, "open", counting_open)
    response = post(alice_client, offline_model, images=[photo])
    assert response.status_code == 302
    # Checked, turned upright, re-encoded and thumbnailed from one decode.
    assert len(opened) == 1
    assert JobImage.objects.get().thumbnail_bytes > 0


def test_a_sideways_result_from_a_provider_is_stored_upright() -> None:
    config = ProviderConfig(
        name="p", kind="openai", base_url="http://p", api_key="k", connect_timeout=1, deadline=1
    )
    result = check_image(config, oriented_photo(6), index=0)
    assert result.info is not None and result.info.size == (48, 64)
    assert close_to(quadrant_colours(open_bytes(result.data)), QUADRANTS, 12)
    assert result.info.sha256 == imaging.inspect_image(result.data, max_pixels=10**7).sha256


def test_a_photo_whose_job_was_canceled_before_running_is_turned_by_the_sweep(
    alice_client: Client, offline_model: Any
) -> None:
    job, source = sideways_job(alice_client, offline_model)
    received_name = source.file.name
    assert alice_client.post(f"/jobs/{job.pk}/cancel/").status_code in (200, 302)
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELED
    assert tasks.recover_jobs()["inputs_turned"] == 1
    source.refresh_from_db()
    assert source.orientation == 1
    picture = open_bytes(stored(source))
    assert picture.size == (48, 64)
    assert close_to(quadrant_colours(picture), QUADRANTS, 12), quadrant_colours(picture)
    assert picture.getexif().get(0x0112, 1) == 1
    assert (source.bytes, source.sha256) == (
        len(stored(source)),
        hashlib.sha256(stored(source)).hexdigest(),
    )
    assert not default_storage.exists(received_name)
    job.refresh_from_db()
    assert job.stored_bytes == sum(i.bytes + i.thumbnail_bytes for i in job.images.all())
    # What the owner downloads is the upright file.
    assert body_of(alice_client.get(f"/images/{source.pk}/")) == stored(source)
    # Nothing left to turn.
    assert media.final_inputs_upright() == 0


def test_a_photo_whose_job_is_still_queued_is_left_to_its_worker(
    alice_client: Client, offline_model: Any
) -> None:
    _, source = sideways_job(alice_client, offline_model)
    assert media.final_inputs_upright() == 0
    source.refresh_from_db()
    assert source.orientation == 6 and stored(source) == oriented_photo(6)


def test_a_damaged_photo_of_an_ended_job_is_not_tried_again(
    alice_client: Client, offline_model: Any, caplog: Any
) -> None:
    job, source = sideways_job(alice_client, offline_model)
    Job.objects.filter(pk=job.pk).update(status=JobStatus.FAILED)
    default_storage.delete(source.file.name)
    assert default_storage.save(source.file.name, ContentFile(b"not a JPEG")) == source.file.name
    assert media.final_inputs_upright() == 0
    assert f"Input image {source.pk} could not be read to turn it upright" in caplog.text
    source.refresh_from_db()
    assert source.orientation == 1
    assert stored(source) == b"not a JPEG"
