"""Mask tools in a real browser: selections, feather, overlay, outpainting.

Each test reads what the fake OpenAI server received, in OpenAI's own
convention (alpha 0 = the area to change), so it proves the whole path:
painter, form, server, worker, provider call.
"""

from __future__ import annotations

import io
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from editor.models import ImageRole, Job, JobStatus
from tests.browser.painting import paint_stroke, png, screen_mapping
from tests.browser.picker import choose_model
from tests.fakes.openai import OpenAIFake

try:
    from playwright.sync_api import expect
except ImportError:  # the browser fixture skips (or, in CI, fails) and says why
    expect = None

pytestmark = [pytest.mark.browser]

Point = tuple[float, float]
ORANGE = (200, 120, 40)


def open_editor(page: Any, width: int, height: int, model: str | None = "GPT Image 1") -> None:
    page.goto("/")
    page.set_input_files("#id_images", [png(width, height, ORANGE)])
    painter_shown = (
        "() => !document.getElementById('painter').hidden"
        " && document.getElementById('painter-canvas').dataset.scale"
    )
    # The page settles (the painter appears) before the picker is used.
    page.wait_for_function(painter_shown)
    if model:
        choose_model(page, model)
        page.wait_for_function(painter_shown)
    # Shortcuts work while not typing: leave the model picker.
    focus_canvas(page)


def focus_canvas(page: Any) -> None:
    """Focus the painter's canvas; the model picker takes the focus back a
    moment after a pick, so try again until the canvas keeps it."""
    for _ in range(20):
        page.locator("#painter-canvas").focus()
        page.wait_for_timeout(100)
        if page.evaluate("() => document.activeElement.id") == "painter-canvas":
            return
    raise AssertionError("the painter's canvas does not keep the focus")


TOOL_KEYS = {"b": "brush", "e": "eraser", "m": "rectangle", "l": "lasso", "p": "polygon"}


def press_on_canvas(page: Any, key: str) -> None:
    """Choose a tool by its shortcut with the canvas focused.

    The model picker takes the focus back a moment after a pick, which can
    swallow the key (a CI run once painted a brush stroke where a rectangle
    was asked for): pressed again until the tool is chosen, which choosing
    twice does no harm to.
    """
    tool = page.locator(f".painter-tools [data-tool={TOOL_KEYS[key]}]")
    for _ in range(5):
        focus_canvas(page)
        page.keyboard.press(key)
        if tool.get_attribute("aria-pressed") == "true":
            return
        page.wait_for_timeout(200)
        if tool.get_attribute("aria-pressed") == "true":
            return
    raise AssertionError(f"the {key!r} key did not choose the {TOOL_KEYS[key]} tool")


def drag(page: Any, points: list[Point], *, alt: bool = False, steps: int = 8) -> None:
    """Press at the first point (image pixels), move through the others, release."""
    _, to_screen = screen_mapping(page)
    if alt:
        page.keyboard.down("Alt")
    page.mouse.move(*to_screen(points[0]))
    page.mouse.down()
    for point in points[1:]:
        page.mouse.move(*to_screen(point), steps=steps)
    page.mouse.up()
    if alt:
        page.keyboard.up("Alt")


def click_at(page: Any, point: Point) -> None:
    _, to_screen = screen_mapping(page)
    page.mouse.click(*to_screen(point))


def run_and_wait(page: Any, user: Any, prompt: str) -> Job:
    page.fill("#id_prompt", prompt)
    page.click("#job-form button[type=submit]")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        job = Job.objects.filter(owner=user).first()
        if job is not None and job.status in (JobStatus.SUCCEEDED, JobStatus.FAILED):
            return job
        page.wait_for_timeout(100)
    raise AssertionError("the job did not finish within 30 s")


def received_area(fake: OpenAIFake) -> Image.Image:
    """The mask the provider received as 0-255, 255 = change."""
    assert fake.last_mask is not None, f"no mask reached the provider ({fake.rejections})"
    alpha = fake.last_mask.getchannel("A")
    area = alpha.point(lambda value: 255 - value)
    assert isinstance(area, Image.Image)
    return area


def inside_polygon(x: float, y: float, polygon: list[Point]) -> bool:
    inside = False
    for (ax, ay), (bx, by) in zip(polygon, polygon[1:] + polygon[:1], strict=True):
        if (ay > y) != (by > y) and x < ax + (y - ay) * (bx - ax) / (by - ay):
            inside = not inside
    return inside


def distance_to_outline(x: float, y: float, polygon: list[Point]) -> float:
    best = math.inf
    for (ax, ay), (bx, by) in zip(polygon, polygon[1:] + polygon[:1], strict=True):
        dx, dy = bx - ax, by - ay
        t = max(0.0, min(1.0, ((x - ax) * dx + (y - ay) * dy) / (dx * dx + dy * dy)))
        best = min(best, math.hypot(x - (ax + t * dx), y - (ay + t * dy)))
    return best


def wrong_pixels(
    area: Image.Image, marked: Callable[[float, float], bool], near_edge: Callable[..., bool]
) -> list[tuple[int, int, int]]:
    """Pixels (every 3rd) that are not 255 where marked or not 0 where not, away from edges."""
    pixels = area.load()
    wrong = []
    for y in range(0, area.height, 3):
        for x in range(0, area.width, 3):
            if near_edge(x + 0.5, y + 0.5):
                continue
            want = 255 if marked(x + 0.5, y + 0.5) else 0
            if pixels[x, y] != want:
                wrong.append((x, y, pixels[x, y]))
    return wrong


def test_rectangle_lasso_and_polygon_reach_the_provider_as_drawn(
    page: Any, celery_worker: Any, fake_openai: OpenAIFake, user: Any, shot: Callable[..., Path]
) -> None:
    open_editor(page, 1024, 768)
    canvas = page.locator("#painter-canvas")

    press_on_canvas(page, "m")
    expect(page.get_by_role("button", name="Rectangle")).to_have_attribute("aria-pressed", "true")
    # The rectangle while it is dragged: an outline, nothing in the mask yet.
    _, to_screen = screen_mapping(page)
    page.mouse.move(*to_screen((80, 80)))
    page.mouse.down()
    page.mouse.move(*to_screen((420, 330)), steps=6)
    shot(page, "mask-rectangle-dragging", full_page=False)
    page.mouse.up()
    rectangle = [(80.0, 80.0), (420.0, 80.0), (420.0, 330.0), (80.0, 330.0)]
    # Alt takes a box out of it.
    drag(page, [(150, 150), (260, 240)], alt=True)
    hole = [(150.0, 150.0), (260.0, 150.0), (260.0, 240.0), (150.0, 240.0)]
    expect(page.locator("#painter-status")).to_contain_text("taken out of the mask")

    press_on_canvas(page, "l")
    expect(page.get_by_role("button", name="Lasso")).to_have_attribute("aria-pressed", "true")
    lasso = [(600.0, 80.0), (940.0, 80.0), (770.0, 400.0)]
    drag(page, [*lasso, lasso[0]], steps=30)
    shot(page, "mask-rectangle-hole-and-lasso", full_page=False)

    press_on_canvas(page, "p")
    expect(page.get_by_role("button", name="Polygon")).to_have_attribute("aria-pressed", "true")
    polygon = [(120.0, 450.0), (500.0, 470.0), (420.0, 700.0), (160.0, 660.0)]
    for corner in polygon:
        click_at(page, corner)
    page.mouse.move(*to_screen((300, 740)))
    shot(page, "mask-polygon-in-progress", full_page=False)
    canvas.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#painter-status")).to_contain_text("Polygon added to the mask")
    shot(page, "mask-all-selections", full_page=False)

    view = canvas.evaluate("el => +el.dataset.scale")
    job = run_and_wait(page, user, "a field of flowers")
    assert job.status == JobStatus.SUCCEEDED, job.error
    area = received_area(fake_openai)
    assert area.size == (1024, 768)

    slack = 1.5 + 1 / view
    shapes = [rectangle, lasso, polygon]

    def marked(x: float, y: float) -> bool:
        in_shape = any(inside_polygon(x, y, shape) for shape in shapes)
        return in_shape and not inside_polygon(x, y, hole)

    def near_edge(x: float, y: float) -> bool:
        return any(distance_to_outline(x, y, shape) < slack for shape in [*shapes, hole])

    wrong = wrong_pixels(area, marked, near_edge)
    assert not wrong, f"{len(wrong)} pixels differ from the shapes drawn, e.g. {wrong[:5]}"
    # And the picture itself reached it unchanged in size.
    assert [image.size for image in fake_openai.last_images] == [(1024, 768)]


def test_feather_softens_the_edge_shown_and_sent(
    page: Any, celery_worker: Any, fake_openai: OpenAIFake, user: Any, shot: Callable[..., Path]
) -> None:
    open_editor(page, 1024, 768)
    press_on_canvas(page, "m")
    drag(page, [(200, 200), (600, 500)])
    shot(page, "mask-rectangle-hard-edge", full_page=False)
    page.eval_on_selector(
        "#feather",
        "el => { el.value = '30'; el.dispatchEvent(new Event('input', {bubbles: true})); }",
    )
    expect(page.locator("#feather-value")).to_have_text("30")
    # The preview shows the soft edge: the overlay fades across the border
    # (drawn once the blur is computed, later on a busy machine).
    deadline = time.monotonic() + 10
    while True:
        shown = [overlay_red(page, (x, 350.0)) for x in (150.0, 200.0, 250.0, 400.0)]
        if shown[0] < shown[1] < shown[2] <= shown[3] + 1 or time.monotonic() > deadline:
            break
        page.wait_for_timeout(100)
    assert shown[0] < shown[1] < shown[2] <= shown[3] + 1, shown
    shot(page, "mask-rectangle-feathered-30px", full_page=False)

    job = run_and_wait(page, user, "a window with a view")
    assert job.status == JobStatus.SUCCEEDED, job.error
    area = received_area(fake_openai)
    # A Gaussian edge of 30 px (sigma 10): half at the border, ~84 % 10 px
    # inside, ~16 % 10 px outside, all or nothing 40 px away.
    at = {x: area.getpixel((x, 350)) for x in (150, 190, 200, 210, 240, 400)}
    assert at[150] == 0 and at[400] == 255, at
    assert at[240] >= 250, at
    assert 108 <= at[200] <= 148, at
    assert 180 <= at[210] <= 240, at
    assert 15 <= at[190] <= 75, at


def overlay_red(page: Any, point: Point) -> int:
    """How much red the painter shows at ``point`` (image pixels) above the picture."""
    return int(sample_canvas(page, point)[0])


def sample_canvas(page: Any, point: Point) -> list[int]:
    view, _ = screen_mapping(page)
    x = view["x"] + point[0] * view["scale"]
    y = view["y"] + point[1] * view["scale"]
    return list(
        page.eval_on_selector(
            "#painter-canvas",
            """(el, [x, y]) => {
                const ratio = el.width / el.clientWidth;
                const data = el.getContext('2d').getImageData(
                    Math.round(x * ratio), Math.round(y * ratio), 1, 1).data;
                return [data[0], data[1], data[2], data[3]];
            }""",
            [x, y],
        )
    )


def test_overlapping_strokes_show_one_even_overlay_that_can_be_hidden(
    page: Any, idle_queue: Path, shot: Callable[..., Path]
) -> None:
    open_editor(page, 800, 600, model=None)
    paint_stroke(page, (100.0, 300.0), (700.0, 300.0), 80)
    paint_stroke(page, (400.0, 80.0), (400.0, 520.0), 80)
    paint_stroke(page, (150.0, 250.0), (650.0, 350.0), 60)
    page.wait_for_timeout(200)
    shot(page, "mask-overlapping-strokes-even", full_page=False)
    once = sample_canvas(page, (200.0, 300.0))
    three_times = sample_canvas(page, (400.0, 300.0))
    picture = sample_canvas(page, (700.0, 100.0))
    assert all(abs(a - b) <= 1 for a, b in zip(once, three_times, strict=True)), (once, three_times)
    assert once[:3] != picture[:3]

    # Opacity: the same colour over the whole mask, closer to the picture when lower.
    page.eval_on_selector(
        "#overlay-opacity",
        "el => { el.value = '20'; el.dispatchEvent(new Event('input', {bubbles: true})); }",
    )
    page.wait_for_timeout(100)
    faint = sample_canvas(page, (400.0, 300.0))
    assert abs(faint[1] - picture[1]) < abs(once[1] - picture[1])
    shot(page, "mask-overlay-opacity-20", full_page=False)

    # O hides the overlay (the mask stays), O again shows it.
    page.locator("#painter-canvas").focus()
    page.keyboard.press("o")
    expect(page.get_by_role("button", name="Overlay")).to_have_attribute("aria-pressed", "false")
    page.wait_for_timeout(100)
    assert sample_canvas(page, (400.0, 300.0))[:3] == picture[:3]
    shot(page, "mask-overlay-hidden", full_page=False)
    page.keyboard.press("o")
    expect(page.get_by_role("button", name="Overlay")).to_have_attribute("aria-pressed", "true")


def test_the_tools_fit_a_phone(
    open_context: Callable[..., Any], idle_queue: Path, shot: Callable[..., Path]
) -> None:
    context = open_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = context.new_page()
    open_editor(page, 900, 1200, model=None)
    page.locator("#outpaint summary").click()
    shot(page, "mask-tools-on-a-phone")
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    # The tools' row scrolls sideways, and its edge says where more are hidden.
    tools = page.locator(".painter-tools")
    expect(tools).to_have_attribute("data-more", "end")
    fade = tools.evaluate("row => getComputedStyle(row).maskImage")
    assert "linear-gradient" in fade
    tools.evaluate("row => row.scrollTo({left: row.scrollWidth})")
    expect(tools).to_have_attribute("data-more", "start")
    last_shown = tools.evaluate(
        """row => {
            const edge = row.getBoundingClientRect().right;
            const last = row.querySelector("[data-action=invert]").getBoundingClientRect();
            return last.right <= edge + 1;
        }"""
    )
    assert last_shown


def test_a_polygon_closes_on_its_first_corner_and_can_be_taken_back(
    page: Any, idle_queue: Path
) -> None:
    open_editor(page, 800, 600, model=None)
    press_on_canvas(page, "p")
    status = page.locator("#painter-status")
    # Escape drops a polygon under way; nothing reaches the mask.
    for corner in [(100.0, 100.0), (300.0, 100.0)]:
        click_at(page, corner)
    page.keyboard.press("Escape")
    expect(status).to_have_text("Selection cancelled.")
    expect(page.get_by_role("button", name="Undo")).to_be_disabled()
    # Backspace takes back the last corner, not the mask; clicking the first
    # corner closes the polygon.
    for corner in [(100.0, 100.0), (300.0, 100.0), (500.0, 500.0)]:
        click_at(page, corner)
    page.keyboard.press("Backspace")
    click_at(page, (300.0, 300.0))
    click_at(page, (101.0, 101.0))
    expect(status).to_have_text("Polygon added to the mask.")
    expect(page.get_by_role("button", name="Undo")).to_be_enabled()
    inside, outside = sample_canvas(page, (230.0, 150.0)), sample_canvas(page, (420.0, 400.0))
    assert inside[0] > outside[0], (inside, outside)


def test_take_out_mode_subtracts_without_a_modifier_key(
    page: Any, idle_queue: Path, shot: Callable[..., Path]
) -> None:
    open_editor(page, 800, 600, model=None)
    press_on_canvas(page, "m")
    drag(page, [(100, 100), (700, 500)])
    picture_colour = sample_canvas(page, (750.0, 550.0))
    take_out = page.get_by_role("button", name="Take out")
    take_out.click()
    expect(take_out).to_have_attribute("aria-pressed", "true")
    drag(page, [(300, 200), (500, 400)])
    expect(page.locator("#painter-status")).to_have_text("Rectangle taken out of the mask.")
    # Alt does the opposite of the mode: it adds again.
    drag(page, [(350, 250), (450, 350)], alt=True)
    expect(page.locator("#painter-status")).to_have_text("Rectangle added to the mask.")
    page.wait_for_timeout(100)
    shot(page, "mask-take-out-mode", full_page=False)
    assert sample_canvas(page, (320.0, 220.0))[:3] == picture_colour[:3]
    assert sample_canvas(page, (400.0, 300.0))[:3] != picture_colour[:3]
    assert sample_canvas(page, (200.0, 150.0))[:3] != picture_colour[:3]


def test_each_tool_names_its_shortcut(page: Any, idle_queue: Path) -> None:
    open_editor(page, 400, 300, model=None)
    for name, key in [
        ("Brush", "B"),
        ("Eraser", "E"),
        ("Rectangle", "M"),
        ("Lasso", "L"),
        ("Polygon", "P"),
        ("Pan", "H"),
        ("Overlay", "O"),
    ]:
        button = page.get_by_role("button", name=name, exact=True)
        expect(button).to_have_attribute("aria-keyshortcuts", key)
        assert f"({key}" in (button.get_attribute("title") or "")
        if name != "Overlay":
            page.locator("#painter-canvas").focus()
            page.keyboard.press(key.lower())
            expect(button).to_have_attribute("aria-pressed", "true")


def test_a_canvas_extended_to_the_left_reaches_the_provider_with_the_strip_masked(
    page: Any, celery_worker: Any, fake_openai: OpenAIFake, user: Any, shot: Callable[..., Path]
) -> None:
    open_editor(page, 1024, 768)
    page.locator("#outpaint summary").click()
    page.fill("#outpaint-left", "256")
    expect(page.locator("#outpaint-summary")).to_contain_text("Sent as 1280×768")
    # GPT Image 1 makes three sizes only: the panel says what happens.
    expect(page.locator("#outpaint-summary")).to_contain_text("GPT Image 1 makes only")
    page.wait_for_timeout(200)
    shot(page, "outpaint-extended-left-256")
    # What the form sends, kept across the page change after Run.
    page.evaluate(
        """() => {
            const send = XMLHttpRequest.prototype.send;
            XMLHttpRequest.prototype.send = function (body) {
                if (body instanceof FormData) {
                    sessionStorage.setItem('sentFrame', body.get('frame'));
                }
                return send.call(this, body);
            };
        }"""
    )

    job = run_and_wait(page, user, "more of the beach")
    assert job.status == JobStatus.SUCCEEDED, job.error
    first = fake_openai.last_images[0]
    assert first.size == (1280, 768)
    rgba = first.convert("RGBA")
    assert rgba.getpixel((100, 400))[3] == 0, "the new strip is transparent"
    assert rgba.getpixel((256, 400)) == (*ORANGE, 255)
    assert rgba.getpixel((1279, 767)) == (*ORANGE, 255)
    area = received_area(fake_openai)
    assert area.size == (1280, 768)
    column = [area.getpixel((x, 384)) for x in (0, 128, 255, 256, 700, 1279)]
    assert column == [255, 255, 255, 0, 0, 0], column
    assert all(area.getpixel((255, y)) == 255 for y in range(0, 768, 16))
    assert all(area.getpixel((256, y)) == 0 for y in range(0, 768, 16))
    # The frame of the original inside the sent image goes with the form.
    assert page.evaluate("() => sessionStorage.getItem('sentFrame')") == "256,0,1024,768"
    # ...and the job keeps it, for the results to be cropped back to it.
    assert job.params["frame"] == "256,0,1024,768"


def test_an_extension_past_the_pixel_limit_is_refused_in_place(
    page: Any, idle_queue: Path, shot: Callable[..., Path]
) -> None:
    open_editor(page, 1024, 768, model=None)
    page.locator("#outpaint summary").click()
    page.select_option("#outpaint-mode", "ratio")
    page.select_option("#outpaint-ratio", "16:9")
    expect(page.locator("#outpaint-summary")).to_contain_text("Sent as 1365×768")
    expect(page.locator("#outpaint-summary")).to_contain_text("the picture at 171,0")
    page.select_option("#outpaint-anchor", "left")
    expect(page.locator("#outpaint-summary")).to_contain_text("the picture at 0,0")
    page.select_option("#outpaint-ratio", "3:4")
    expect(page.locator("#outpaint-summary")).to_contain_text("Sent as 1024×1365")
    page.select_option("#outpaint-mode", "pixels")
    page.fill("#outpaint-left", "9000")
    page.fill("#outpaint-bottom", "4000")
    summary = page.locator("#outpaint-summary")
    expect(summary).to_contain_text("more than the")
    expect(summary).to_contain_text("extend less")
    shot(page, "outpaint-too-large")
    page.fill("#id_prompt", "nothing")
    # Run with the panel closed: it opens again and its field says why,
    # rather than Run doing nothing at all.
    page.locator("#outpaint summary").click()
    expect(page.locator("#outpaint")).not_to_have_attribute("open", "")
    page.click("#job-form button[type=submit]")
    expect(page.locator("#outpaint")).to_have_attribute("open", "")
    expect(page.locator("#outpaint-left")).to_be_focused()
    message = page.locator("#outpaint-left").evaluate("field => field.validationMessage")
    assert "extend less" in message
    page.wait_for_timeout(300)
    assert not Job.objects.exists()


def test_a_run_refused_for_a_field_out_of_sight_says_why_in_the_form(
    page: Any, idle_queue: Path
) -> None:
    open_editor(page, 64, 64, model=None)
    page.locator("#outpaint summary").click()
    page.select_option("#outpaint-mode", "ratio")
    # A field of the other mode, hidden, that the browser could not point at.
    hidden = page.locator("#outpaint-top")
    expect(hidden).to_be_hidden()
    hidden.evaluate("field => field.setCustomValidity('Give a whole number of pixels.')")
    page.fill("#id_prompt", "nothing")
    page.click("#job-form button[type=submit]")
    expect(page.locator("#form-errors [role=alert]")).to_have_text(
        "Top: Give a whole number of pixels."
    )
    page.wait_for_timeout(300)
    assert not Job.objects.exists()


def test_the_extension_feather_and_mask_survive_a_reload(
    page: Any, idle_queue: Path, user: Any, shot: Callable[..., Path]
) -> None:
    open_editor(page, 400, 300, model=None)
    press_on_canvas(page, "m")
    drag(page, [(50, 50), (200, 150)])
    page.eval_on_selector(
        "#feather",
        "el => { el.value = '12'; el.dispatchEvent(new Event('input', {bubbles: true})); }",
    )
    page.locator("#outpaint summary").click()
    page.fill("#outpaint-left", "100")
    expect(page.locator("#outpaint-summary")).to_contain_text("Sent as 500×300")
    page.fill("#id_prompt", "invert")
    page.wait_for_timeout(1500)  # the workspace is saved a moment after the last change

    page.once("dialog", lambda dialog: dialog.accept())
    page.reload()
    page.wait_for_selector("#job-form[data-workspace=ready]", state="attached")
    expect(page.locator("#feather-value")).to_have_text("12")
    expect(page.locator("#outpaint-left")).to_have_value("100")
    expect(page.locator("#outpaint-summary")).to_contain_text("Sent as 500×300")
    page.locator("#outpaint summary").click()
    shot(page, "mask-tools-restored-after-reload", full_page=False)

    page.click("#job-form button[type=submit]")
    deadline = time.monotonic() + 20
    while not Job.objects.filter(owner=user).exists() and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    job = Job.objects.get(owner=user)
    assert job.params["frame"] == "100,0,400,300"
    stored = job.images.get(role=ImageRole.MASK)
    with stored.file.open("rb") as handle:
        mask = Image.open(io.BytesIO(handle.read()))
        mask.load()
    assert mask.size == (500, 300)
    # The strip, the rectangle (once, not softened twice), and the rest.
    values = {x: mask.getpixel((x, 100)) for x in (50, 150, 162, 225, 450)}
    assert values[50] == 255 and values[225] == 255 and values[450] == 0, values
    assert 100 <= values[150] <= 156, values  # half way, at the rectangle's edge
    assert values[162] >= 230, values  # nearly whole 12 px inside
