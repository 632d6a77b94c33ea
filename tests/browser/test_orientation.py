"""Phone photos in the browser: the painter, the server, the provider and the
job page all see the picture upright, as the browser shows it."""

from __future__ import annotations

import base64
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageOps

from editor import pipeline
from editor.models import ImageRole, Job, JobImage, JobStatus
from tests.browser.painting import assert_mask_is_stroke, paint_stroke
from tests.browser.picker import choose_model
from tests.browser.running import open_job_page, run_in_place
from tests.fakes.openai import OpenAIFake
from tests.images import (
    QUADRANTS,
    animation,
    close_to,
    exif_after_pixels,
    oriented_photo,
    quadrant_colours,
)

try:
    from playwright.sync_api import expect
except ImportError:  # the browser fixture skips (or, in CI, fails) and says why
    expect = None

pytestmark = [pytest.mark.browser]

MIME = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}


def photo_file(
    orientation: int, *, width: int = 48, height: int = 64, image_format: str = "JPEG"
) -> dict[str, Any]:
    """A file that shows the quadrant picture (width×height) upright once its
    EXIF orientation is applied; its raw pixels are turned."""
    extension = image_format.lower().replace("jpeg", "jpg")
    return {
        "name": f"IMG_{orientation}.{extension}",
        "mimeType": MIME[image_format],
        "buffer": oriented_photo(
            orientation, width=width, height=height, image_format=image_format
        ),
    }


def seen_colours(image: Any) -> list[tuple[int, int, int]]:
    """The quadrant colours of an <img> as it appears on screen, where its
    picture is drawn inside its box (object-fit: contain centres it)."""
    left, top, width, height = image.evaluate(
        """img => {
          const box = img.getBoundingClientRect();
          const scale = Math.min(box.width / img.naturalWidth, box.height / img.naturalHeight);
          const width = img.naturalWidth * scale, height = img.naturalHeight * scale;
          return [(box.width - width) / 2, (box.height - height) / 2, width, height];
        }"""
    )
    screen = Image.open(io.BytesIO(image.screenshot()))
    return quadrant_colours(
        screen.crop((round(left), round(top), round(left + width), round(top + height)))
    )


def natural_size(locator: Any) -> tuple[int, int]:
    width, height = locator.evaluate("img => [img.naturalWidth, img.naturalHeight]")
    return (width, height)


def wait_for_image(locator: Any) -> None:
    locator.scroll_into_view_if_needed()
    locator.evaluate("img => img.decode()")


# Turned a half turn, mirrored across the diagonal, and a quarter turn each way.
@pytest.mark.parametrize("orientation", [3, 5, 6, 8])
def test_a_phone_photo_is_painted_sent_and_shown_upright(
    page: Any,
    celery_worker: Any,
    fake_openai: OpenAIFake,
    user: Any,
    shot: Callable[..., Path],
    orientation: int,
) -> None:
    fake_openai.echo_input = True
    page.goto("/")
    # Shown 480×640 by the phone, whatever its raw pixels (640×480 on their
    # side for 5, 6 and 8).
    page.set_input_files("#id_images", [photo_file(orientation, width=480, height=640)])
    choose_model(page, "GPT Image 1")
    expect(page.locator("#image-list .image-caption")).to_contain_text("480×640")
    page.wait_for_function("() => document.getElementById('painter-canvas').dataset.scale")
    # Over the top right corner of the upright picture (its green quadrant).
    start, end, size = (340.0, 70.0), (440.0, 110.0), 70
    view = paint_stroke(page, start, end, size)
    if orientation == 6:
        shot(page, "editor-phone-photo-painted-upright")
    page.fill("#id_prompt", "a small boat on the water")
    run_in_place(page)
    open_job_page(page)
    expect(page.locator(".badge")).to_have_attribute("data-status", "succeeded", timeout=30_000)
    job = Job.objects.get(owner=user)
    assert job.status == JobStatus.SUCCEEDED, job.error_message

    # The provider got the upright picture and a mask over the painted pixels.
    [sent] = fake_openai.last_images
    assert sent.size == (480, 640)
    assert close_to(quadrant_colours(sent), QUADRANTS, 12), quadrant_colours(sent)
    received = fake_openai.last_mask
    assert received is not None, f"no mask reached the provider ({fake_openai.rejections})"
    assert received.size == (480, 640)
    area = received.getchannel("A").point(lambda alpha: 255 if alpha == 0 else 0)
    assert isinstance(area, Image.Image)
    assert_mask_is_stroke(area, start, end, size / 2, 1.5 + 1 / view["scale"])
    assert area.getbbox() is not None and area.getbbox()[0] >= 240  # type: ignore[index]

    # The job page shows before, after and the input's thumbnail upright.
    compare = page.locator(".compare")
    before, after = page.locator("img.compare-before"), page.locator("img.compare-after")
    thumb = page.get_by_alt_text("Input 1")
    for image in (before, after, thumb):
        wait_for_image(image)
    assert natural_size(before) == natural_size(after) == (480, 640)
    thumb_width, thumb_height = natural_size(thumb)
    assert thumb_width * 4 == thumb_height * 3, (thumb_width, thumb_height)
    if orientation == 6:
        shot(page, "job-phone-photo-upright")
    compare.scroll_into_view_if_needed()
    compare.evaluate("el => el.style.setProperty('--position', '100%')")  # all before
    assert close_to(seen_colours(before), QUADRANTS, 20), seen_colours(before)
    compare.evaluate("el => el.style.setProperty('--position', '0%')")  # all after
    assert close_to(seen_colours(after), QUADRANTS, 20), seen_colours(after)
    assert close_to(seen_colours(thumb), QUADRANTS, 30), seen_colours(thumb)


def test_the_editor_and_the_server_see_every_photo_alike(
    page: Any, idle_queue: Path, user: Any
) -> None:
    files = [photo_file(orientation) for orientation in range(1, 9)]
    files += [photo_file(6, image_format="PNG"), photo_file(6, image_format="WEBP")]
    late_exif = exif_after_pixels(oriented_photo(6, image_format="PNG"))
    files.append({"name": "late-exif.png", "mimeType": "image/png", "buffer": late_exif})
    page.goto("/")
    page.set_input_files("#id_images", files)
    captions = page.locator("#image-list .image-caption")
    expect(captions).to_have_count(len(files))
    shown_sizes = [caption.split(" · ")[-1] for caption in captions.all_inner_texts()]
    # What the browser draws from each file (as <img>, canvas and the painter do).
    drawn = page.evaluate(
        """async (files) => Promise.all(files.map(async ([data, type]) => {
          const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
          const bitmap = await createImageBitmap(new Blob([bytes], { type }));
          const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
          const context = canvas.getContext("2d");
          context.drawImage(bitmap, 0, 0);
          const w = bitmap.width, h = bitmap.height;
          const points = [[w / 4, h / 4], [3 * w / 4, h / 4],
                          [w / 4, 3 * h / 4], [3 * w / 4, 3 * h / 4]];
          const colours = points.map(([x, y]) =>
            Array.from(context.getImageData(Math.floor(x), Math.floor(y), 1, 1).data.slice(0, 3)));
          return { size: [w, h], colours };
        }))""",
        [[base64.b64encode(file["buffer"]).decode(), file["mimeType"]] for file in files],
    )
    page.fill("#id_prompt", "make it black and white")
    run_in_place(page)
    job = Job.objects.get(owner=user)
    inputs = list(job.images.filter(role=ImageRole.INPUT).order_by("position"))
    assert len(inputs) == len(files)
    for index, (stored, seen, shown) in enumerate(zip(inputs, drawn, shown_sizes, strict=True)):
        name = files[index]["name"]
        assert shown == f"{stored.width}×{stored.height}", name
        assert [stored.width, stored.height] == seen["size"], name
        picture = Image.open(io.BytesIO(read(stored)))
        if stored.orientation != 1:
            # A JPEG kept as received until the worker turns it: shown by its tag.
            picture = ImageOps.exif_transpose(picture)
        assert close_to(quadrant_colours(picture), seen["colours"], 12), name
    # JPEG and PNG turn by their orientation; WebP, and a PNG whose EXIF comes
    # after its pixels, are shown (and kept) as stored.
    assert shown_sizes == ["48×64"] * 9 + ["64×48"] * 2
    assert close_to(drawn[5]["colours"], QUADRANTS, 12)
    # Once the job has run, every file is stored as it was seen, with no tag
    # left for a viewer to turn.
    pipeline.run_job(job_id=str(job.pk))
    for stored, seen in zip(inputs, drawn, strict=True):
        stored.refresh_from_db()
        picture = Image.open(io.BytesIO(read(stored)))
        assert stored.orientation == 1
        assert [stored.width, stored.height] == list(picture.size) == seen["size"]
        assert close_to(quadrant_colours(picture), seen["colours"], 12), stored.position
        if picture.format == "JPEG":
            assert picture.getexif().get(0x0112, 1) == 1


def read(image: JobImage) -> bytes:
    with image.file.open("rb") as handle:
        return bytes(handle.read())


def test_an_animated_gif_is_taken_with_a_notice(
    page: Any, idle_queue: Path, user: Any, shot: Callable[..., Path]
) -> None:
    page.goto("/")
    gif = animation("GIF", [(200, 30, 30), (30, 200, 30)], size=64)
    page.set_input_files(
        "#id_images", [{"name": "dance.gif", "mimeType": "image/gif", "buffer": gif}]
    )
    expect(page.locator("#image-list .image-caption")).to_contain_text("64×64")
    page.fill("#id_prompt", "make it black and white")
    run_in_place(page)
    open_job_page(page)
    expect(page.locator(".notices")).to_contain_text(
        "Image 1 is animated; only its first frame was used."
    )
    shot(page, "job-animated-gif-notice")
    stored = JobImage.objects.get(job__owner=user, role=ImageRole.INPUT)
    assert stored.format == "PNG"
