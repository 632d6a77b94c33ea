"""The editor in a real browser: images, the mask painter, models, submit."""

from __future__ import annotations

import base64
import io
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

try:
    from playwright.sync_api import expect
except ImportError:  # the browser fixture skips (or, in CI, fails) and says why
    expect = None

from editor.models import ImageModel, ImageRole, Job, JobStatus
from tests.browser.painting import assert_mask_is_stroke, paint_stroke, png, touch_stroke
from tests.browser.picker import choose_model
from tests.browser.running import open_job_page, run_in_place, wait_for_run
from tests.images import image_bytes

pytestmark = [pytest.mark.browser]


def test_it_edits_two_images_with_a_mask_painted_at_full_resolution(
    page: Any, celery_worker: Any, user: Any, shot: Callable[..., Path]
) -> None:
    page.goto("/")
    page.set_input_files(
        "#id_images", [png(1600, 1000, (30, 90, 200)), png(640, 480, (200, 160, 30))]
    )
    page.wait_for_function("() => document.querySelectorAll('#image-list li').length === 2")
    assert "mask applies here" in page.locator("#image-list li").first.inner_text()
    page.wait_for_function(
        "() => !document.getElementById('painter').hidden"
        " && document.getElementById('painter-canvas').dataset.scale"
    )
    start, end, size = (300.0, 250.0), (1100.0, 600.0), 120
    view = paint_stroke(page, start, end, size)
    assert view["scale"] < 1, "the first image should be shown smaller than its full size"
    page.fill("#id_prompt", "make it black and white")
    shot(page, "editor-two-images-painted-mask")
    run_in_place(page)
    open_job_page(page)
    page.wait_for_selector(".badge[data-status=succeeded]", timeout=30_000)
    shot(page, "job-succeeded-with-compare")

    job = Job.objects.get(owner=user)
    assert job.status == JobStatus.SUCCEEDED
    inputs = list(job.images.filter(role=ImageRole.INPUT).order_by("position"))
    assert [(image.width, image.height) for image in inputs] == [(1600, 1000), (640, 480)]
    stored = job.images.get(role=ImageRole.MASK)
    with stored.file.open("rb") as handle:
        mask = Image.open(io.BytesIO(handle.read()))
        mask.load()
    assert mask.size == (1600, 1000)
    assert mask.mode == "L"
    # Mouse positions land on whole screen pixels, so the stroke can sit up to
    # one screen pixel off; add the antialiased edge on top.
    slack = 1.5 + 1 / view["scale"]
    assert_mask_is_stroke(mask, start, end, size / 2, slack)
    # The result view offers the before/after slider.
    assert page.locator(".viewer-stage .compare-range").count() == 1


@pytest.fixture
def text_only_model(transactional_db: None) -> ImageModel:
    """A second model with other parameters: generates from text, takes no image."""
    offline = ImageModel.objects.get(provider__kind="offline")
    return ImageModel.objects.create(
        provider=offline.provider,
        model_id="offline-text-only",
        label="Text-only sketcher",
        can_edit=False,
        can_generate=True,
        supports_mask=False,
        max_images=1,
        parameters={
            "seed": {"min": 0, "max": 999, "default": 7},
            "quality": {"choices": ["low", "high"], "default": "high"},
        },
        pricing={"per_image_range": {"min": "0.01", "max": "0.04"}},
    )


def test_it_swaps_in_exactly_the_chosen_models_fields(
    page: Any, text_only_model: ImageModel, shot: Callable[..., Path]
) -> None:
    page.goto("/")
    expect(page.locator("#id_n")).to_be_visible()
    # The offline demo's size only applies when generating.
    expect(page.locator("#id_size")).to_be_visible()
    page.set_input_files("#id_images", [png(64, 64, (1, 2, 3))])
    expect(page.locator("#id_size")).to_be_hidden()
    expect(page.locator("#id_size")).to_be_disabled()
    page.get_by_role("button", name="Remove image 1 (photo-64x64.png)").click()
    expect(page.locator("#id_size")).to_be_enabled()
    choose_model(page, "Text-only sketcher")
    expect(page.locator("#id_quality")).to_be_visible()
    expect(page.locator("#id_n")).to_have_count(0)
    seed = page.locator("#id_seed")
    assert (seed.get_attribute("min"), seed.get_attribute("max")) == ("0", "999")
    assert seed.input_value() == "7"
    expect(page.locator("#model-price")).to_contain_text("$0.01–$0.04 / image")
    shot(page, "editor-generate-mode-other-model")

    # With an image, only models that edit are offered: the picker moves on.
    page.set_input_files("#id_images", [png(320, 200, (10, 120, 60))])
    expect(page.locator("#id_n")).to_be_visible()
    expect(page.locator("#id_image_model option", has_text="Text-only sketcher")).to_be_disabled()
    expect(page.locator("#model-mode-note")).to_contain_text("only generates from text")


def test_it_hides_the_painter_for_a_model_without_masks_and_says_why(
    page: Any, transactional_db: None
) -> None:
    offline = ImageModel.objects.get(provider__kind="offline")
    ImageModel.objects.create(
        provider=offline.provider,
        model_id="offline-no-mask",
        label="Maskless editor",
        can_edit=True,
        can_generate=False,
        supports_mask=False,
        max_images=2,
        parameters={},
    )
    page.goto("/")
    page.set_input_files("#id_images", [png(320, 200, (10, 120, 60))])
    expect(page.locator("#painter")).to_be_visible()
    choose_model(page, "Maskless editor")
    expect(page.locator("#painter")).to_be_hidden()
    expect(page.locator("#mask-unsupported")).to_have_text(
        "Maskless editor does not take a mask: it changes the whole picture as the prompt says."
    )
    # Its image limit is checked before anything is uploaded.
    page.set_input_files("#id_images", [png(64, 64, (1, 2, 3)), png(64, 64, (4, 5, 6))])
    expect(page.locator("#image-status")).to_contain_text("takes at most 2 images")
    expect(page.locator("#image-list li")).to_have_count(2)


def test_it_refuses_unusable_files_before_uploading(page: Any, settings: Any) -> None:
    settings.DARKROOM_MAX_UPLOAD_BYTES = 50_000
    settings.DARKROOM_MAX_IMAGE_PIXELS = 250_000
    page.goto("/")
    noisy = Image.frombytes("RGB", (200, 200), os.urandom(200 * 200 * 3))
    buffer = io.BytesIO()
    noisy.save(buffer, format="PNG")
    page.set_input_files(
        "#id_images",
        [
            {"name": "noise.png", "mimeType": "image/png", "buffer": buffer.getvalue()},
            png(600, 500, (1, 1, 1)),
            png(400, 300, (1, 1, 1)),
        ],
    )
    expect(page.locator("#image-status")).to_contain_text(
        re.compile(r"“noise.png” is 1\d\d KB; the limit is 49 KB\.")
    )
    expect(page.locator("#image-status")).to_contain_text(
        "“photo-600x500.png” is 600×500 (300,000 pixels); the limit is 250,000 pixels."
    )
    expect(page.locator("#image-list li")).to_have_count(1)
    page.set_input_files(
        "#id_images",
        [
            {"name": "notes.txt", "mimeType": "text/plain", "buffer": b"hello"},
            {"name": "broken.png", "mimeType": "image/png", "buffer": b"not a png"},
        ],
    )
    expect(page.locator("#image-status")).to_contain_text(
        "“notes.txt” is not a PNG, JPEG, WebP or GIF image."
    )
    expect(page.locator("#image-status")).to_contain_text(
        "“broken.png” could not be read as an image."
    )
    expect(page.locator("#image-list li")).to_have_count(1)


def test_it_reorders_images_and_the_mask_follows_the_first(
    page: Any, idle_queue: Path, user: Any
) -> None:
    page.goto("/")
    page.set_input_files("#id_images", [png(300, 200, (200, 0, 0)), png(200, 300, (0, 0, 200))])
    expect(page.locator("#image-list li")).to_have_count(2)
    page.get_by_role("button", name="Move image 2 (photo-200x300.png) earlier").click()
    expect(page.locator("#image-list li").first).to_contain_text("mask applies here · 200×300")
    page.wait_for_function("() => document.getElementById('painter-canvas').dataset.scale")
    paint_stroke(page, (50, 50), (150, 250), 30)
    page.fill("#id_prompt", "sepia")
    run_in_place(page)
    job = Job.objects.get(owner=user)
    inputs = list(job.images.filter(role=ImageRole.INPUT).order_by("position"))
    assert [(image.width, image.height) for image in inputs] == [(200, 300), (300, 200)]
    assert job.images.get(role=ImageRole.MASK).width == 200


def test_it_submits_with_the_keyboard_alone(page: Any, idle_queue: Path, user: Any) -> None:
    page.goto("/")
    for _ in range(40):
        if page.evaluate("() => document.activeElement.id") == "id_prompt":
            break
        page.keyboard.press("Tab")
    else:
        raise AssertionError("the prompt cannot be reached with Tab")
    page.keyboard.type("a lighthouse at dusk")
    for _ in range(40):
        if page.evaluate("() => document.activeElement.matches('#job-form button[type=submit]')"):
            break
        page.keyboard.press("Tab")
    else:
        raise AssertionError("the Run button cannot be reached with Tab")
    editor_url = page.url
    page.keyboard.press("Enter")
    wait_for_run(page, editor_url=editor_url)
    job = Job.objects.get(owner=user)
    assert (job.kind, job.prompt) == ("generate", "a lighthouse at dusk")


def test_the_plain_form_submits_an_edit_without_javascript(
    open_context: Callable[..., Any], idle_queue: Path, user: Any, shot: Callable[..., Path]
) -> None:
    page = open_context(java_script_enabled=False).new_page()
    page.goto("/")
    expect(page.locator("#painter")).to_be_hidden()
    page.set_input_files("#id_images", [png(120, 80, (90, 90, 200))])
    page.fill("#id_prompt", "make it black and white")
    shot(page, "editor-without-javascript")
    page.click("#job-form button[type=submit]")
    page.wait_for_url("**/jobs/*/")
    job = Job.objects.get(owner=user)
    assert job.kind == "edit"
    assert job.images.filter(role=ImageRole.INPUT).count() == 1


def test_it_fits_a_phone_and_a_4k_screen(
    open_context: Callable[..., Any], shot: Callable[..., Path]
) -> None:
    screens = {
        "phone": {
            "viewport": {"width": 390, "height": 844},
            "is_mobile": True,
            "has_touch": True,
            "device_scale_factor": 2,
        },
        "4k": {"viewport": {"width": 3840, "height": 2160}},
    }
    for name, options in screens.items():
        page = open_context(**options).new_page()
        page.goto("/")
        page.set_input_files("#id_images", [png(1200, 900, (40, 140, 90))])
        page.wait_for_function("() => document.getElementById('painter-canvas').dataset.scale")
        overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"the editor scrolls sideways on the {name} screen"
        stage = page.locator("#painter-stage").bounding_box()
        assert stage["width"] >= options["viewport"]["width"] * (0.8 if name == "phone" else 0.4)
        shot(page, f"editor-{name}")


def stored_mask(job: Job) -> Image.Image:
    with job.images.get(role=ImageRole.MASK).file.open("rb") as handle:
        mask = Image.open(io.BytesIO(handle.read()))
        mask.load()
    return mask


def test_the_painter_tools_undo_redo_and_invert(page: Any, idle_queue: Path, user: Any) -> None:
    page.goto("/")
    page.set_input_files("#id_images", [png(400, 300, (50, 50, 50))])
    page.wait_for_function("() => document.getElementById('painter-canvas').dataset.scale")
    kept = ((40.0, 40.0), (200.0, 60.0))
    view = paint_stroke(page, *kept, 30)
    paint_stroke(page, (100, 250), (350, 250), 40)
    page.get_by_role("button", name="Undo").click()
    page.keyboard.press("Control+Shift+Z")  # redo the second stroke
    page.keyboard.press("Control+Z")  # and take it back again
    # An eraser stroke away from the kept stroke changes nothing.
    page.keyboard.press("e")
    expect(page.get_by_role("button", name="Eraser")).to_have_attribute("aria-pressed", "true")
    paint_stroke(page, (300, 150), (380, 150), 20)
    page.get_by_role("button", name="Invert").click()
    page.fill("#id_prompt", "blur")
    run_in_place(page)
    mask = stored_mask(Job.objects.get(owner=user))
    inverted = mask.point(lambda value: 255 - value)
    assert isinstance(inverted, Image.Image)
    assert_mask_is_stroke(inverted, *kept, 15, 1.5 + 1 / view["scale"])


def test_it_paints_with_a_finger_on_a_touch_screen(
    open_context: Callable[..., Any], idle_queue: Path, user: Any
) -> None:
    context = open_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.goto("/")
    page.set_input_files("#id_images", [png(900, 1200, (10, 60, 130))])
    page.wait_for_function("() => document.getElementById('painter-canvas').dataset.scale")
    page.locator("#painter-canvas").scroll_into_view_if_needed()
    start, end = (200.0, 300.0), (700.0, 900.0)
    view = touch_stroke(page, start, end, 80)
    page.fill("#id_prompt", "invert")
    run_in_place(page)
    assert_mask_is_stroke(
        stored_mask(Job.objects.get(owner=user)), start, end, 40, 1.5 + 1 / view["scale"]
    )


def test_it_shows_the_servers_objections_and_keeps_the_work(
    page: Any, idle_queue: Path, user: Any
) -> None:
    ImageModel.objects.filter(provider__kind="offline").update(max_prompt_length=10)
    page.goto("/")
    page.set_input_files("#id_images", [png(200, 100, (1, 100, 1))])
    page.wait_for_function("() => document.getElementById('painter-canvas').dataset.scale")
    paint_stroke(page, (20, 20), (120, 60), 20)
    page.fill("#id_prompt", "far too long a prompt for this model")
    page.click("#job-form button[type=submit]")
    expect(page.locator("#field-prompt .errors")).to_contain_text("takes at most 10")
    expect(page.locator("#image-list li")).to_have_count(1)
    assert not Job.objects.exists()
    page.fill("#id_prompt", "sepia")
    run_in_place(page)
    assert Job.objects.get(owner=user).images.filter(role=ImageRole.MASK).exists()


def test_a_refusal_shows_in_the_page_and_the_work_stays(
    page: Any, live_server: Any, idle_queue: Path, shot: Callable[..., Path]
) -> None:
    page.goto("/")
    page.set_input_files("#id_images", [png(200, 100, (1, 100, 1))])
    page.wait_for_function("() => document.getElementById('painter-canvas').dataset.scale")
    page.fill("#id_prompt", "sepia")
    # The form expires: another tab logged in again, say, and the token changed.
    page.context.add_cookies([{"name": "csrftoken", "value": "x" * 32, "url": live_server.url}])
    page.click("#job-form button[type=submit]")
    expect(page.locator("#messages [role=alert]")).to_contain_text("This form has expired")
    shot(page, "editor-refusal-in-place", full_page=False)
    expect(page.locator("#image-list li")).to_have_count(1)
    expect(page.locator("#id_prompt")).to_have_value("sepia")
    assert not Job.objects.exists()


# A synthetic event carrying a file, as the browser builds for a real paste or drop.
SEND_FILE = """([kind, name, data]) => {
    const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
    const transfer = new DataTransfer();
    transfer.items.add(new File([bytes], name, {type: 'image/png'}));
    if (kind === 'paste') {
        document.dispatchEvent(new ClipboardEvent('paste', {clipboardData: transfer}));
    } else {
        const zone = document.querySelector('.inputs-panel');
        zone.dispatchEvent(new DragEvent('dragover', {dataTransfer: transfer, bubbles: true}));
        zone.dispatchEvent(new DragEvent('drop', {dataTransfer: transfer, bubbles: true}));
    }
}"""


def test_it_takes_images_pasted_or_dropped(page: Any) -> None:
    page.goto("/")
    data = base64.b64encode(image_bytes(90, 60, colour=(5, 5, 5))).decode()
    page.evaluate(SEND_FILE, ["paste", "clipboard.png", data])
    expect(page.locator("#image-status")).to_have_text("1 image pasted.")
    page.evaluate(SEND_FILE, ["drop", "dropped.png", data])
    expect(page.locator("#image-status")).to_have_text("1 image dropped in.")
    expect(page.locator("#image-list li img")).to_have_count(2)
    expect(page.locator("#image-list li img").nth(1)).to_have_attribute(
        "alt", "Image 2: dropped.png"
    )
