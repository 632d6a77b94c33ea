"""Mask fidelity from the editor: paint, run on a model that changes every pixel,
and get back the original outside the mask, with the leak shown."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageChops

from editor.models import ImageRole, Job, JobStatus
from tests.browser.painting import paint_stroke
from tests.browser.picker import choose_model
from tests.browser.running import open_job_page, run_in_place
from tests.fakes.openai import OpenAIFake

try:
    from playwright.sync_api import expect
except ImportError:  # the browser fixture skips (or, in CI, fails) and says why
    expect = None

pytestmark = [pytest.mark.browser]


def blocks(width: int, height: int) -> bytes:
    image = Image.new("RGB", (width, height))
    for x in range(0, width, 50):
        for y in range(0, height, 50):
            image.paste(((x * 3) % 256, (y * 5) % 256, 120), (x, y, x + 50, y + 50))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def decoded(image: Any) -> Image.Image:
    with image.file.open("rb") as handle:
        picture = Image.open(io.BytesIO(handle.read()))
        picture.load()
    return picture


def changed_pixels(first: Image.Image, second: Image.Image) -> Image.Image:
    """255 where any channel of the two differs at all, else 0."""
    bands = ImageChops.difference(first, second).split()
    changed = Image.new("L", first.size, 0)
    for band in bands:
        changed = ImageChops.lighter(changed, band.point(lambda value: 255 if value else 0))
    return changed


def test_the_pixels_outside_a_painted_mask_come_back_as_they_were(
    page: Any, celery_worker: Any, fake_openai: OpenAIFake, user: Any, shot: Callable[..., Path]
) -> None:
    fake_openai.change_every_pixel = True
    page.goto("/")
    page.set_input_files(
        "#id_images", [{"name": "blocks.png", "mimeType": "image/png", "buffer": blocks(600, 400)}]
    )
    choose_model(page, "GPT Image 1")
    page.wait_for_function("() => document.getElementById('painter-canvas').dataset.scale")
    paint_stroke(page, (100, 200), (500, 200), 80)
    expect(page.locator("#id_keep_outside_mask")).to_be_checked()
    page.fill("#id_prompt", "a river through the middle")
    shot(page, "fidelity-editor-box-ticked")
    run_in_place(page)
    expect(page.locator("#run-panel")).to_have_attribute("data-status", "succeeded", timeout=30_000)
    open_job_page(page)
    expect(page.locator(".badge")).to_have_attribute("data-status", "succeeded", timeout=30_000)
    expect(page.locator(".mask-leak")).to_contain_text("Leak: 100 %")
    expect(page.locator(".raw-result figcaption")).to_contain_text("Provider's raw output")
    expect(page.locator(".job-leak")).to_contain_text("100 %")
    shot(page, "fidelity-job-page-leak-and-raw-output")

    job = Job.objects.get(owner=user)
    assert job.status == JobStatus.SUCCEEDED, job.error
    original = decoded(job.images.get(role=ImageRole.INPUT)).convert("RGBA")
    result = decoded(job.images.get(role=ImageRole.RESULT)).convert("RGBA")
    raw = decoded(job.images.get(role=ImageRole.RAW)).convert("RGBA")
    area = decoded(job.images.get(role=ImageRole.MASK)).convert("L")
    protected = area.point(lambda value: 255 if value == 0 else 0)
    assert 0 < protected.histogram()[255] < 600 * 400
    # The fake changed every pixel it was sent, the protected ones included...
    assert changed_pixels(original, raw).histogram()[255] == 600 * 400
    # ...and the result has the original's pixels wherever the mask is black.
    leaked = ImageChops.multiply(changed_pixels(original, result), protected)
    assert leaked.histogram()[255] == 0
    assert job.mask_leak == 1.0
