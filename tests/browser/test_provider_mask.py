"""The provider receives exactly the mask painted in the browser, at full resolution."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from editor.models import Job, JobStatus
from tests.browser.painting import assert_mask_is_stroke, paint_stroke, png
from tests.browser.picker import choose_model
from tests.browser.running import open_job_page, run_in_place
from tests.fakes.openai import OpenAIFake

try:
    from playwright.sync_api import expect
except ImportError:  # the browser fixture skips (or, in CI, fails) and says why
    expect = None

pytestmark = [pytest.mark.browser]


def test_the_provider_receives_the_painted_mask_at_full_resolution(
    page: Any, celery_worker: Any, fake_openai: OpenAIFake, user: Any, shot: Callable[..., Path]
) -> None:
    page.goto("/")
    page.set_input_files("#id_images", [png(1200, 800, (120, 60, 20)), png(300, 300, (9, 9, 9))])
    choose_model(page, "GPT Image 1")
    expect(page.locator("#id_input_fidelity")).to_be_visible()
    page.wait_for_function("() => document.getElementById('painter-canvas').dataset.scale")
    start, end, size = (150.0, 600.0), (1000.0, 200.0), 90
    view = paint_stroke(page, start, end, size)
    page.fill("#id_prompt", "a small boat on the water")
    run_in_place(page)
    open_job_page(page)
    expect(page.locator(".badge")).to_have_attribute("data-status", "succeeded", timeout=30_000)
    shot(page, "job-succeeded-openai-fake")
    job = Job.objects.get(owner=user)
    assert job.status == JobStatus.SUCCEEDED, job.error

    assert [image.size for image in fake_openai.last_images] == [(1200, 800), (300, 300)]
    received = fake_openai.last_mask
    assert received is not None, f"no mask reached the provider ({fake_openai.rejections})"
    assert received.size == (1200, 800)
    # OpenAI's convention: fully transparent pixels are the area to change.
    area = received.getchannel("A").point(lambda alpha: 255 if alpha == 0 else 0)
    assert isinstance(area, Image.Image)
    assert_mask_is_stroke(area, start, end, size / 2, 1.5 + 1 / view["scale"])
