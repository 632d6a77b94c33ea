"""The job page in a real browser: progress, cancel, results, and what comes next."""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from editor import pipeline
from editor.models import ImageRole, Job, JobStatus
from tests.browser.running import open_job_page, run_in_place
from tests.factories import make_job
from tests.images import image_bytes, mask_bytes

try:
    from playwright.sync_api import expect
except ImportError:  # the browser fixture skips (or, in CI, fails) and says why
    expect = None

pytestmark = [pytest.mark.browser]


def wait_until_final(job: Job, timeout: float = 30.0) -> Job:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.is_final:
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job.pk} still {job.status}")


def stored_bytes(image: Any) -> bytes:
    with image.file.open("rb") as handle:
        return handle.read()


def test_it_shows_the_queue_position_and_cancels_a_queued_job(
    page: Any, idle_queue: Path, user: Any, shot: Callable[..., Path]
) -> None:
    make_job(user=user, prompt="first in line")
    job = make_job(user=user, prompt="second in line")
    page.goto(f"/jobs/{job.pk}/")
    expect(page.locator(".stage")).to_contain_text("number 2 in your queue")
    expect(page.locator(".cancel-form")).to_contain_text("may still charge")
    shot(page, "job-queued")
    page.get_by_role("button", name="Cancel job").click()
    expect(page.locator(".badge")).to_have_attribute("data-status", "canceled")
    expect(page.locator(".canceled-note")).to_contain_text("may still charge")
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELED
    # The first job is untouched.
    assert Job.objects.get(prompt="first in line").status == JobStatus.QUEUED


def test_it_follows_a_job_to_its_result_without_a_reload(
    page: Any, idle_queue: Path, user: Any
) -> None:
    job = make_job(user=user)
    page.goto(f"/jobs/{job.pk}/")
    expect(page.locator(".badge")).to_have_attribute("data-status", "queued")
    page.evaluate("() => { window.notReloaded = true; }")
    pipeline.run_job(job_id=str(job.pk))
    expect(page.locator(".badge")).to_have_attribute("data-status", "succeeded")
    assert page.evaluate("() => window.notReloaded") is True
    expect(page.locator(".compare-range")).to_have_count(1)


def test_a_failed_job_says_why_and_offers_retry_and_another_model(
    page: Any, idle_queue: Path, user: Any, shot: Callable[..., Path]
) -> None:
    job = make_job(user=user, prompt="a forbidden thing")
    claimed = pipeline.job_claim(str(job.pk))
    assert claimed is not None
    pipeline.job_fail(
        job=claimed,
        code="content_policy",
        message="The provider refused this prompt: it may break its content rules.",
        detail={"provider_code": "moderation_blocked"},
    )
    page.goto(f"/jobs/{job.pk}/")
    expect(page.locator(".error-box")).to_contain_text(
        "The provider refused this prompt: it may break its content rules."
    )
    shot(page, "job-failed")
    page.get_by_role("link", name="Try another model").click()
    page.wait_for_url("**/?from_job=*")
    # The picker opens, ready to filter by typing.
    expect(page.locator(".ts-wrapper.model-picker .ts-dropdown")).to_be_visible()
    expect(page.locator(".ts-wrapper.model-picker input")).to_be_focused()
    expect(page.locator("#id_prompt")).to_have_value("a forbidden thing")
    page.go_back()
    page.get_by_role("link", name="Retry").click()
    expect(page.locator("#image-list li")).to_have_count(1)
    expect(page.locator("#id_prompt")).to_have_value("a forbidden thing")


def test_edit_this_result_starts_a_linked_job_from_the_result(
    page: Any, celery_worker: Any, user: Any, shot: Callable[..., Path]
) -> None:
    job = wait_until_final(
        make_job(user=user, images=[image_bytes(160, 120, colour=(200, 30, 30))])
    )
    result = job.images.get(role=ImageRole.RESULT)
    page.goto(f"/jobs/{job.pk}/")
    page.get_by_role("link", name="Edit this result").click()
    expect(page.locator("#image-list li")).to_have_count(1)
    expect(page.locator("#image-list li").first).to_contain_text("mask applies here · 160×120")
    expect(page.locator("#id_parent")).to_have_value(str(job.pk))
    expect(page.locator(".continues")).to_contain_text("This continues an earlier job")
    page.wait_for_function("() => document.getElementById('painter-canvas').dataset.scale")
    page.fill("#id_prompt", "now sepia")
    shot(page, "editor-edit-this-result")
    run_in_place(page)
    open_job_page(page)
    child = Job.objects.get(prompt="now sepia")
    assert child.parent_id == job.pk
    first = child.images.get(role=ImageRole.INPUT, position=0)
    assert first.sha256 == result.sha256
    expect(page.locator(".badge")).to_have_attribute("data-status", "succeeded", timeout=30_000)


def test_run_again_brings_back_the_inputs_mask_model_and_parameters(
    page: Any, idle_queue: Path, user: Any
) -> None:
    images = [image_bytes(100, 80, colour=(0, 90, 200)), image_bytes(50, 50, colour=(9, 9, 9))]
    job = make_job(
        user=user, images=images, mask=mask_bytes(100, 80, box=(10, 10, 60, 40)), params={"n": 2}
    )
    page.goto(f"/jobs/{job.pk}/")
    page.get_by_role("button", name="Cancel job").click()
    page.get_by_role("link", name="Run again").click()
    expect(page.locator("#image-list li")).to_have_count(2)
    expect(page.locator("#id_n")).to_have_value("2")
    expect(page.locator("#painter-status")).to_contain_text("earlier mask is loaded")
    run_in_place(page)
    again = Job.objects.exclude(pk=job.pk).get()
    # Every parameter of the first run comes back (the editor may add its own
    # defaults, such as keeping the pixels outside the mask).
    assert {name: again.params.get(name) for name in job.params} == {"n": 2}
    assert [i.sha256 for i in again.images.filter(role=ImageRole.INPUT).order_by("position")] == [
        i.sha256 for i in job.images.filter(role=ImageRole.INPUT).order_by("position")
    ]
    old_mask = Image.open(io.BytesIO(stored_bytes(job.images.get(role=ImageRole.MASK))))
    new_mask = Image.open(io.BytesIO(stored_bytes(again.images.get(role=ImageRole.MASK))))
    assert old_mask.convert("L").tobytes() == new_mask.convert("L").tobytes()


# Headless Chromium never hides its tab, so the page is told it is hidden.
SET_VISIBILITY = """state => {
    Object.defineProperty(document, 'visibilityState', {configurable: true, get: () => state});
    document.dispatchEvent(new Event('visibilitychange'));
}"""


def test_polling_pauses_while_the_tab_is_hidden(page: Any, idle_queue: Path, user: Any) -> None:
    job = make_job(user=user)
    polls: list[str] = []
    page.on(
        "request", lambda request: polls.append(request.url) if "/status/" in request.url else None
    )
    page.goto(f"/jobs/{job.pk}/")
    page.wait_for_timeout(1500)
    assert polls, "the queued job's status is not polled"
    page.evaluate(SET_VISIBILITY, "hidden")
    polls.clear()
    page.wait_for_timeout(2500)
    assert polls == []
    page.evaluate(SET_VISIBILITY, "visible")
    page.wait_for_timeout(300)
    assert polls, "coming back to the tab does not refresh the status"


def test_the_result_page_fits_a_phone(
    open_context: Callable[..., Any], idle_queue: Path, user: Any, shot: Callable[..., Path]
) -> None:
    job = make_job(user=user, images=[image_bytes(1200, 800, colour=(200, 120, 40))])
    pipeline.run_job(job_id=str(job.pk))
    context = open_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.goto(f"/jobs/{job.pk}/")
    expect(page.locator(".badge")).to_have_attribute("data-status", "succeeded")
    slider = page.locator(".compare-range")
    slider.focus()
    for _ in range(20):
        page.keyboard.press("ArrowLeft")
    assert (
        page.locator(".compare").evaluate("el => el.style.getPropertyValue('--position')") == "30%"
    )
    overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, "the job page scrolls sideways on a phone"
    shot(page, "job-succeeded-phone")


def in_viewport(page: Any, selector: str) -> bool:
    box = page.locator(selector).bounding_box()
    size = page.viewport_size
    return bool(
        box
        and box["y"] >= 0
        and box["x"] >= 0
        and box["y"] + box["height"] <= size["height"]
        and box["x"] + box["width"] <= size["width"]
    )


def test_the_result_fits_the_screen_with_its_actions_in_view(
    page: Any, idle_queue: Path, user: Any, shot: Callable[..., Path]
) -> None:
    # Taller than the screen: it must be scaled down, not run past the bottom.
    job = make_job(user=user, images=[image_bytes(1024, 1536, colour=(40, 120, 200))])
    pipeline.run_job(job_id=str(job.pk))
    page.goto(f"/jobs/{job.pk}/")
    expect(page.locator(".badge").first).to_have_attribute("data-status", "succeeded")
    page.wait_for_function("() => document.getElementById('viewer-image').complete")
    shot(page, "job-viewer-1440x900", full_page=False)
    for selector in ("#viewer-image", "#download-result", "#edit-result", ".compare-range"):
        assert in_viewport(page, selector), f"{selector} is not in view at 1440×900"
    assert page.evaluate("() => window.scrollY") == 0
    shot(page, "job-viewer-1440x900", full_page=False)
    # A click shows it at its own size, another fits it again.
    fitted = page.locator("#viewer-image").bounding_box()["height"]
    page.locator(".viewer-stage .compare").click()
    expect(page.locator(".viewer-stage")).to_have_class("viewer-stage zoomed")
    assert page.locator("#viewer-image").bounding_box()["height"] == pytest.approx(1536, abs=2)
    shot(page, "job-viewer-zoomed", full_page=False)
    page.locator(".viewer-stage .compare").click()
    assert page.locator("#viewer-image").bounding_box()["height"] == pytest.approx(fitted, abs=2)


def test_variations_are_thumbnails_to_pick_from(
    page: Any, idle_queue: Path, user: Any, shot: Callable[..., Path]
) -> None:
    job = make_job(user=user, images=[image_bytes(300, 200, colour=(200, 60, 60))], params={"n": 3})
    pipeline.run_job(job_id=str(job.pk))
    results = list(job.images.filter(role=ImageRole.RESULT).order_by("position"))
    assert len(results) == 3
    page.goto(f"/jobs/{job.pk}/")
    expect(page.locator("a.variation")).to_have_count(3)
    # One viewer, one slider: not three full-size compares stacked.
    expect(page.locator(".compare")).to_have_count(1)
    expect(page.locator(".compare-range")).to_have_count(1)
    expect(page.locator("a.variation").first).to_have_attribute("aria-current", "true")
    shot(page, "job-variations-first", full_page=False)
    page.evaluate("() => { window.notReloaded = true; }")
    page.locator("a.variation").nth(1).click()
    expect(page.locator("#viewer-image")).to_have_attribute("src", f"/images/{results[1].pk}/")
    expect(page.locator("a.variation").nth(1)).to_have_attribute("aria-current", "true")
    expect(page.locator("a.variation").first).not_to_have_attribute("aria-current", "true")
    expect(page.locator("#download-result")).to_have_attribute(
        "href", f"/images/{results[1].pk}/download/"
    )
    expect(page.locator("#edit-result")).to_have_attribute(
        "href", f"/?from_image={results[1].pk}&parent={job.pk}"
    )
    expect(page.locator("#selected-meta")).to_contain_text("Variation 2")
    assert page.evaluate("() => window.notReloaded") is True
    assert page.url.endswith("?variation=2")
    # Before/after works on the chosen one, in place.
    slider = page.locator(".compare-range")
    slider.focus()
    for _ in range(10):
        page.keyboard.press("ArrowRight")
    assert (
        page.locator(".compare").evaluate("el => el.style.getPropertyValue('--position')") == "60%"
    )
    shot(page, "job-variations-second", full_page=False)
    # The address is a permalink to that variation.
    page.reload()
    expect(page.locator("#viewer-image")).to_have_attribute("src", f"/images/{results[1].pk}/")
