"""Painting in the browser and checking the mask that comes out."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from PIL import Image

from tests.images import image_bytes


def png(width: int, height: int, colour: tuple[int, int, int]) -> dict[str, Any]:
    return {
        "name": f"photo-{width}x{height}.png",
        "mimeType": "image/png",
        "buffer": image_bytes(width, height, colour=colour),
    }


def set_brush_size(page: Any, size: int) -> None:
    page.eval_on_selector(
        "#brush-size",
        "(el, size) => { el.value = String(size);"
        " el.dispatchEvent(new Event('input', {bubbles: true})); }",
        size,
    )


def screen_mapping(page: Any) -> tuple[dict[str, float], Callable[..., tuple[float, float]]]:
    """The painter's current view, and a function from image pixels to page pixels."""
    canvas = page.locator("#painter-canvas")
    box = canvas.bounding_box()
    view = canvas.evaluate(
        "el => ({scale: +el.dataset.scale, x: +el.dataset.offsetX, y: +el.dataset.offsetY})"
    )

    def to_screen(point: tuple[float, float]) -> tuple[float, float]:
        return (
            box["x"] + view["x"] + point[0] * view["scale"],
            box["y"] + view["y"] + point[1] * view["scale"],
        )

    return view, to_screen


def paint_stroke(
    page: Any, start: tuple[float, float], end: tuple[float, float], size: int
) -> dict[str, float]:
    """Drag the brush with the mouse from ``start`` to ``end`` (image pixels)."""
    set_brush_size(page, size)
    view, to_screen = screen_mapping(page)
    page.mouse.move(*to_screen(start))
    page.mouse.down()
    page.mouse.move(*to_screen(end), steps=25)
    page.mouse.up()
    return view


def touch_stroke(
    page: Any, start: tuple[float, float], end: tuple[float, float], size: int, steps: int = 20
) -> dict[str, float]:
    """Drag one finger from ``start`` to ``end`` (image pixels), as a touch screen does."""
    set_brush_size(page, size)
    view, to_screen = screen_mapping(page)
    cdp = page.context.new_cdp_session(page)
    (x0, y0), (x1, y1) = to_screen(start), to_screen(end)
    cdp.send(
        "Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": x0, "y": y0}]}
    )
    for step in range(1, steps + 1):
        x = x0 + (x1 - x0) * step / steps
        y = y0 + (y1 - y0) * step / steps
        cdp.send(
            "Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [{"x": x, "y": y}]}
        )
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    cdp.detach()
    return view


def distance_to_segment(
    x: float, y: float, a: tuple[float, float], b: tuple[float, float]
) -> float:
    ax, ay = a
    bx, by = b
    dx, dy = bx - ax, by - ay
    t = max(0.0, min(1.0, ((x - ax) * dx + (y - ay) * dy) / (dx * dx + dy * dy)))
    return math.hypot(x - (ax + t * dx), y - (ay + t * dy))


def assert_mask_is_stroke(
    mask: Image.Image, a: tuple[float, float], b: tuple[float, float], radius: float, slack: float
) -> None:
    """Inside the stroke is marked (255), outside is kept (0); only the edge band may differ."""
    pixels = mask.load()
    wrong_inside = wrong_outside = 0
    for y in range(mask.height):
        for x in range(mask.width):
            distance = distance_to_segment(x + 0.5, y + 0.5, a, b)
            value = pixels[x, y]
            if distance <= radius - slack and value != 255:
                wrong_inside += 1
            elif distance >= radius + slack and value != 0:
                wrong_outside += 1
    assert (wrong_inside, wrong_outside) == (0, 0), (
        f"{wrong_inside} pixels inside the stroke not marked, "
        f"{wrong_outside} pixels outside it marked"
    )
