"""Lining results up with what the user sent: crop-back, mask fidelity, leak.

Pillow work only, like ``editor.imaging`` (whose decoding and encoding it
uses); it imports nothing else of Darkroom's.

* **Crop-back.** A provider that needs a square (DALL-E 2) was sent the first
  image centred on a padded square; its answer is cut back to where the
  image sat, so before and after line up. For an outpainted job the first
  image *is* the extended canvas, so that is what comes back.
* **Leak.** The share of the protected pixels (fully outside the mask, and
  inside the original's frame when the canvas was extended) that the
  provider changed. A pixel counts as changed when any channel (alpha
  included) differs by more than ``LEAK_TOLERANCE`` out of 255: lossy codecs
  move values by a step or two without anyone changing anything. It is
  measured at the size the provider answered (the original is scaled to it
  when they differ), so a provider is not blamed for answering smaller.
* **Fidelity.** The original first image is put back outside the mask, at
  its full resolution, weighted by the mask's grey levels (a feathered edge
  blends). The provider's answer is scaled to the original's size first when
  it has the same shape.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from PIL import Image, ImageChops

from editor import imaging

# Channel differences up to this (of 255) are codec noise, not a change.
LEAK_TOLERANCE = 2
# Answers whose width:height differs from the original's by more than this
# are another shape: scaling them back would stretch the picture.
ASPECT_TOLERANCE = 0.015
# How far from the exact shape two cut edges can leave an answer, in pixels.
CUT_PIXELS = 2
# Scaled edges this close to a whole pixel are on it (float rounding).
EDGE_EPSILON = 1e-6


@dataclass(frozen=True)
class Box:
    """A rectangle in pixels: left, top, and its size."""

    x: int
    y: int
    width: int
    height: int

    @property
    def corners(self) -> tuple[int, int, int, int]:
        return (self.x, self.y, self.x + self.width, self.y + self.height)

    def __str__(self) -> str:
        return f"{self.x},{self.y},{self.width},{self.height}"


class FrameError(ValueError):
    """A ``frame`` that is not a rectangle inside the image; the message is for the user."""


def parse_frame(value: str, *, image_size: tuple[int, int]) -> Box:
    """``"x,y,width,height"``: the original's rectangle inside the (extended) first image."""
    parts = [part.strip() for part in value.split(",")]
    if len(parts) != 4 or not all(part.lstrip("-").isdigit() for part in parts):
        raise FrameError(
            "The frame of the original image must be four whole numbers: x,y,width,height."
        )
    x, y, width, height = (int(part) for part in parts)
    if width <= 0 or height <= 0:
        raise FrameError("The frame of the original image must have a width and a height.")
    image_width, image_height = image_size
    if x < 0 or y < 0 or x + width > image_width or y + height > image_height:
        raise FrameError(
            f"The frame of the original image ({x},{y},{width}×{height}) must lie inside "
            f"the first image ({image_width}×{image_height})."
        )
    return Box(x=x, y=y, width=width, height=height)


def format_leak(share: float) -> str:
    """A leak as people read it: "52.3 %", "100 %", "0 %", "< 0.1 %"."""
    percent = share * 100
    if 0 < percent < 0.1:
        return "< 0.1 %"
    if 99.9 < percent < 100:
        return "> 99.9 %"
    return f"{percent:.1f}".removesuffix(".0") + " %"


@dataclass(frozen=True)
class Placement:
    """Where the first image sat inside the image the provider was sent
    (e.g. centred on a padded square), in the sent image's pixels.

    ``region`` is set when only part of the first image was sent (its centre
    square): the answer lines up with that part, in the first image's pixels.
    """

    box: Box
    sent_size: tuple[int, int]
    region: Box | None = None


@dataclass(frozen=True)
class FinishedResult:
    """One result as Darkroom shows it, and how it came from the provider's answer."""

    # The bytes to show: the provider's own when nothing was changed.
    data: bytes
    # Of ``data`` when Darkroom changed it (else the answer's own, or unknown).
    size: tuple[int, int]
    format: str
    # Darkroom changed the picture (cropped it back or put the original back).
    changed: bool
    # Share of protected pixels the provider changed, 0..1; None when not measured.
    leak: float | None
    # What Darkroom did or could not do, in words for the user ("" when nothing).
    notice: str


def as_received(raw: bytes, *, notice: str = "") -> FinishedResult:
    """The provider's answer shown as it came, without decoding it."""
    return FinishedResult(data=raw, size=(0, 0), format="", changed=False, leak=None, notice=notice)


def finish_result(
    raw: bytes,
    *,
    original: bytes | None,
    mask: bytes | None,
    placement: Placement | None = None,
    frame: Box | None = None,
    keep_outside_mask: bool = False,
) -> FinishedResult:
    """Crop the provider's answer back, measure its leak, and put the original back.

    ``original`` is the first image as sent by the user, ``mask`` the
    canonical mask (L, 255 = change) at its size. Without both, only the
    crop-back applies.
    """
    answer = imaging.open_image(raw)
    picture, cropped = _cropped_back(_plain(answer), placement)
    if original is None or mask is None:
        return _finished(picture, raw, answer, changed=cropped, leak=None)
    source = imaging.open_image(original)
    area = imaging.mask_area(mask)
    if area.size != source.size:
        area = area.resize(source.size, Image.Resampling.NEAREST)
    if placement is not None and placement.region is not None:
        # Only this part was sent: the answer is measured and kept against it.
        source = source.crop(placement.region.corners)
        area = area.crop(placement.region.corners)
        frame = _frame_within(frame, placement.region) if frame is not None else None
    protected = protected_area(area, frame=frame)
    if not same_shape(picture.size, source.size):
        return _finished(
            picture,
            raw,
            answer,
            changed=cropped,
            leak=None,
            notice=(
                f"The provider answered {picture.width}×{picture.height} for a "
                f"{source.width}×{source.height} image, another shape: "
                "Darkroom could not line it up with the original, so it did not measure "
                "the mask leak or put the original back outside the mask."
            ),
        )
    leak = leak_share(original=source, result=picture, protected=protected)
    if not keep_outside_mask:
        return _finished(picture, raw, answer, changed=cropped, leak=leak)
    composite = keep_outside(original=source, result=picture, mask=area, frame=frame)
    return _finished(composite, raw, answer, changed=True, leak=leak)


def _finished(
    picture: Image.Image,
    raw: bytes,
    answer: Image.Image,
    *,
    changed: bool,
    leak: float | None,
    notice: str = "",
) -> FinishedResult:
    image_format = answer.format if answer.format in ENCODE_OPTIONS else "PNG"
    if not changed:
        return FinishedResult(
            data=raw, size=answer.size, format=image_format, changed=False, leak=leak, notice=notice
        )
    return FinishedResult(
        data=_encode_like(picture, image_format, answer),
        size=picture.size,
        format=image_format,
        changed=True,
        leak=leak,
        notice=notice,
    )


def _frame_within(frame: Box, region: Box) -> Box:
    """The part of ``frame`` inside ``region``, in the region's pixels (may be empty)."""
    left, top = max(frame.x, region.x), max(frame.y, region.y)
    right = min(frame.x + frame.width, region.x + region.width)
    bottom = min(frame.y + frame.height, region.y + region.height)
    return Box(
        x=left - region.x,
        y=top - region.y,
        width=max(0, right - left),
        height=max(0, bottom - top),
    )


def _cropped_back(answer: Image.Image, placement: Placement | None) -> tuple[Image.Image, bool]:
    """The part of ``answer`` where the first image sat; itself when it filled the image."""
    if placement is None:
        return answer, False
    sent_width, sent_height = placement.sent_size
    if placement.box.corners == (0, 0, sent_width, sent_height):
        return answer, False
    scale_x, scale_y = answer.width / sent_width, answer.height / sent_height
    left, top, right, bottom = placement.box.corners
    # The answer may be another size than what was sent: where an edge falls
    # between pixels, the pixel it cuts is left out, so no sliver of padding
    # remains (the image loses less than a pixel of the answer's at that edge).
    box = (
        math.ceil(left * scale_x - EDGE_EPSILON),
        math.ceil(top * scale_y - EDGE_EPSILON),
        math.floor(right * scale_x + EDGE_EPSILON),
        math.floor(bottom * scale_y + EDGE_EPSILON),
    )
    return answer.crop(box), True


def _plain(image: Image.Image) -> Image.Image:
    """``image`` in a mode Pillow resamples smoothly (palettes only resample nearest)."""
    if image.mode in ("L", "LA", "RGB", "RGBA"):
        return image
    return image.convert("RGBA" if _has_alpha(image) else "RGB")


def same_shape(size: tuple[int, int], other: tuple[int, int]) -> bool:
    """Whether two sizes have the same width:height, give or take rounding.

    Small answers cut back from a padded square can be a pixel or two off
    the exact shape (each cut edge loses up to a pixel), hence either test.
    """
    width, height = size
    ratio, other_ratio = width / height, other[0] / other[1]
    if abs(ratio - other_ratio) <= ASPECT_TOLERANCE * other_ratio:
        return True
    return min(width, height) >= 8 * CUT_PIXELS and (
        abs(height - width / other_ratio) <= CUT_PIXELS
        or abs(width - height * other_ratio) <= CUT_PIXELS
    )


def protected_area(area: Image.Image, *, frame: Box | None) -> Image.Image:
    """255 where a pixel is the original's and fully outside the mask, else 0."""
    protected = area.point(lambda value: 255 if value == 0 else 0)
    if frame is None:
        return protected
    inside = Image.new("L", area.size, 0)
    inside.paste(255, frame.corners)
    return ImageChops.multiply(protected, inside)


def leak_share(
    *, original: Image.Image, result: Image.Image, protected: Image.Image
) -> float | None:
    """Share (0..1) of ``protected`` pixels that differ between original and result.

    Compared at the result's size; None when nothing is protected.
    """
    if original.size != result.size:
        original = original.resize(result.size, Image.Resampling.LANCZOS)
        protected = protected.resize(result.size, Image.Resampling.NEAREST)
    total = protected.histogram()[255]
    if total == 0:
        return None
    difference = ImageChops.difference(original.convert("RGBA"), result.convert("RGBA"))
    changed = Image.new("L", result.size, 0)
    for band in difference.split():
        changed = ImageChops.lighter(
            changed, band.point(lambda value: 255 if value > LEAK_TOLERANCE else 0)
        )
    leaked = ImageChops.multiply(changed, protected).histogram()[255]
    return leaked / total


def keep_outside(
    *, original: Image.Image, result: Image.Image, mask: Image.Image, frame: Box | None
) -> Image.Image:
    """``result`` at the original's size, with the original put back outside ``mask``.

    Where the mask is black the pixel is the original's, exactly; where it is
    grey the two blend; where it is white the result's. Outside ``frame`` (the
    area an outpaint added) there is no original to keep.
    """
    if result.size != original.size:
        result = result.resize(original.size, Image.Resampling.LANCZOS)
    keep = mask.point(lambda value: 255 - value)
    if frame is not None:
        inside = Image.new("L", mask.size, 0)
        inside.paste(255, frame.corners)
        keep = ImageChops.multiply(keep, inside)
    with_alpha = _has_alpha(original) or _has_alpha(result)
    mode = "RGBA" if with_alpha else "RGB"
    return Image.composite(original.convert(mode), result.convert(mode), keep)


def _has_alpha(image: Image.Image) -> bool:
    return "A" in image.getbands() or "transparency" in image.info


# How a changed result is encoded, by the provider's format: near-lossless
# for lossy formats (this is the picture people download), fast for PNG.
ENCODE_OPTIONS: dict[str, dict[str, object]] = {
    "PNG": {"compress_level": imaging.PNG_COMPRESS_LEVEL},
    "JPEG": {"quality": imaging.JPEG_QUALITY},
    "WEBP": {"quality": imaging.JPEG_QUALITY},
}


def _encode_like(image: Image.Image, image_format: str, answer: Image.Image) -> bytes:
    """``image`` in the provider's own format, with the answer's colour profile."""
    if image_format == "JPEG":
        image = image.convert("RGB")
    return imaging.encode(
        image,
        image_format,
        icc_profile=answer.info.get("icc_profile"),
        **ENCODE_OPTIONS[image_format],
    )
