"""All of Darkroom's Pillow work. Imports nothing else of Darkroom's.

Untrusted bytes only ever reach the PNG, JPEG and WebP decoders, and images
are re-encoded only where the result must differ from what came in.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageOps

ALLOWED_FORMATS = ("PNG", "JPEG", "WEBP")
MaskConvention = Literal["transparent", "white"]


class ImageRejectedError(ValueError):
    """Bytes that are not an acceptable image; the message is for the user."""


@dataclass(frozen=True)
class ImageInfo:
    width: int
    height: int
    format: str
    bytes: int
    sha256: str

    @property
    def size(self) -> tuple[int, int]:
        return (self.width, self.height)


def inspect_image(data: bytes, *, max_pixels: int) -> ImageInfo:
    """Decode ``data`` completely and describe it, or raise ImageRejectedError."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS)
        except Image.DecompressionBombError as exc:
            raise ImageRejectedError("This image has too many pixels.") from exc
        except Image.DecompressionBombWarning as exc:
            raise ImageRejectedError("This image has too many pixels.") from exc
        except Exception as exc:
            raise ImageRejectedError(
                "This file is not a PNG, JPEG or WebP image Darkroom can read."
            ) from exc
        with image:
            width, height = image.size
            if width * height > max_pixels:
                raise ImageRejectedError(
                    f"This image is {width}×{height} pixels; the limit is "
                    f"{max_pixels / 1_000_000:g} megapixels."
                )
            try:
                image.load()
            except Exception as exc:
                raise ImageRejectedError("This image is damaged or incomplete.") from exc
            return ImageInfo(
                width=width,
                height=height,
                format=str(image.format),
                bytes=len(data),
                sha256=hashlib.sha256(data).hexdigest(),
            )


def open_image(data: bytes) -> Image.Image:
    """Open bytes that were already inspected (stored inputs and results)."""
    image = Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS)
    image.load()
    return image


def encode(image: Image.Image, image_format: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    if image_format == "JPEG" and image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    image.save(buffer, format=image_format, **options)
    return buffer.getvalue()


def thumbnail(data: bytes, *, size: int) -> bytes:
    """A small WebP (keeps transparency) that fits in ``size``×``size``."""
    image = open_image(data)
    image = ImageOps.exif_transpose(image) or image
    image.thumbnail((size, size), Image.Resampling.LANCZOS)
    if image.mode not in ("RGB", "RGBA", "L", "LA"):
        image = image.convert("RGBA")
    return encode(image, "WEBP", quality=80, method=4)


# --- Masks ------------------------------------------------------------------
# The canonical mask is an 8-bit greyscale PNG the size of the first image:
# 255 marks the area to change, 0 the area to keep.


def canonical_mask(data: bytes) -> tuple[bytes, MaskConvention]:
    """Read an uploaded mask in either common convention.

    A mask with fully transparent pixels follows OpenAI's convention (those
    pixels are the area to change); an opaque mask is black and white with
    white marking the area to change.
    """
    image = open_image(data)
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        alpha = image.convert("RGBA").getchannel("A")
        if alpha.getextrema()[0] == 0:
            area = alpha.point(lambda value: 255 if value == 0 else 0)
            return encode(area, "PNG", optimize=True), "transparent"
    grey = image.convert("L")
    area = grey.point(lambda value: 255 if value >= 128 else 0)
    return encode(area, "PNG", optimize=True), "white"


def mask_area(mask: bytes) -> Image.Image:
    return open_image(mask).convert("L")


def mask_is_empty(mask: bytes) -> bool:
    return mask_area(mask).getextrema()[1] == 0


def mask_to_alpha(mask: bytes, *, size: tuple[int, int] | None = None) -> bytes:
    """OpenAI's convention: an RGBA PNG, alpha 0 where the image may change."""
    area = mask_area(mask)
    if size and area.size != size:
        area = area.resize(size, Image.Resampling.NEAREST)
    image = Image.new("RGBA", area.size, (0, 0, 0, 255))
    image.putalpha(ImageOps.invert(area))
    return encode(image, "PNG", optimize=True)


def mask_to_white_on_black(mask: bytes, *, size: tuple[int, int] | None = None) -> bytes:
    """The JSON routers' convention: opaque, white where the image may change."""
    area = mask_area(mask)
    if size and area.size != size:
        area = area.resize(size, Image.Resampling.NEAREST)
    return encode(area.convert("RGB"), "PNG", optimize=True)


# --- The offline demo's effects ---------------------------------------------


def _sepia(image: Image.Image) -> Image.Image:
    grey = ImageOps.grayscale(image)
    return ImageOps.colorize(grey, black=(40, 26, 13), white=(255, 240, 200)).convert("RGB")


def _tint(image: Image.Image) -> Image.Image:
    overlay = Image.new("RGB", image.size, (255, 0, 160))
    return Image.blend(image, overlay, 0.35)


EFFECTS: dict[str, Callable[[Image.Image], Image.Image]] = {
    "grayscale": lambda image: ImageOps.grayscale(image).convert("RGB"),
    "invert": lambda image: ImageOps.invert(image),
    "blur": lambda image: image.filter(ImageFilter.GaussianBlur(radius=max(image.size) / 150 + 2)),
    "sharpen": lambda image: ImageEnhance.Sharpness(image).enhance(3.0),
    "sepia": _sepia,
    "brighten": lambda image: ImageEnhance.Brightness(image).enhance(1.4),
    "darken": lambda image: ImageEnhance.Brightness(image).enhance(0.6),
    "rotate": lambda image: image.transpose(Image.Transpose.ROTATE_90),
    "flip": lambda image: ImageOps.flip(image),
    "mirror": lambda image: ImageOps.mirror(image),
    "tint": _tint,
}
# Effects that move pixels cannot be confined to a mask meaningfully.
GEOMETRIC_EFFECTS = {"rotate", "flip", "mirror"}


def apply_effects(data: bytes, *, effects: list[str], mask: bytes | None) -> tuple[bytes, str]:
    """Apply ``effects`` to the image, only inside ``mask`` if given.

    Returns the new image in the input's own format (alpha is kept).
    """
    original = open_image(data)
    image_format = original.format or "PNG"
    alpha = original.getchannel("A") if original.mode in ("RGBA", "LA") else None
    edited = original.convert("RGB")
    for name in effects:
        edited = EFFECTS[name](edited)
    if mask is not None and not any(name in GEOMETRIC_EFFECTS for name in effects):
        area = mask_area(mask)
        if area.size != edited.size:
            area = area.resize(edited.size, Image.Resampling.NEAREST)
        edited = Image.composite(edited, original.convert("RGB"), area)
    if alpha is not None:
        if alpha.size != edited.size:
            alpha = alpha.transpose(Image.Transpose.ROTATE_90)
        edited.putalpha(alpha)
    return encode(edited, image_format, **_quality_options(image_format)), image_format


def _quality_options(image_format: str) -> dict[str, object]:
    if image_format == "JPEG":
        return {"quality": 92}
    if image_format == "WEBP":
        return {"quality": 90}
    return {}


def draw_picture(*, prompt: str, width: int, height: int, seed: int) -> bytes:
    """A simple generated PNG: a gradient and circles coloured by the prompt."""
    digest = hashlib.sha256(f"{seed}:{prompt}".encode()).digest()

    def colour(offset: int) -> tuple[int, int, int]:
        return (digest[offset], digest[offset + 1], digest[offset + 2])

    gradient = Image.linear_gradient("L").resize((width, height))
    image = Image.composite(
        Image.new("RGB", (width, height), colour(3)),
        Image.new("RGB", (width, height), colour(0)),
        gradient,
    )
    draw = ImageDraw.Draw(image)
    for index in range(4):
        x = digest[6 + index] / 255 * width
        y = digest[10 + index] / 255 * height
        radius = (digest[14 + index] / 255 * 0.2 + 0.05) * min(width, height)
        draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=colour(18 + index * 3))
    draw.text((12, max(0, height - 24)), prompt[:80], fill=(255, 255, 255))
    return encode(image, "PNG")


# --- Fitting inputs to a provider's limits -------------------------------------


def has_transparent_pixels(data: bytes) -> bool:
    image = open_image(data)
    if image.mode not in ("RGBA", "LA", "PA") and not (
        image.mode == "P" and "transparency" in image.info
    ):
        return False
    return bool(image.convert("RGBA").getchannel("A").getextrema()[0] == 0)


@dataclass(frozen=True)
class SquaredImage:
    """One image made square for a provider, with what was done to it."""

    png: bytes
    # The canonical mask moved the same way (None when none was given).
    mask: bytes | None
    side: int
    original_size: tuple[int, int]
    original_format: str
    squared: Literal["", "pad", "crop"]
    # The side before shrinking to fit ``max_bytes``; 0 when no shrink was needed.
    shrunk_from: int


def square_png(
    data: bytes, *, mask: bytes | None, mode: Literal["pad", "crop"], max_bytes: int
) -> SquaredImage:
    """Make ``data`` a square RGBA PNG under ``max_bytes``, moving ``mask`` along.

    ``pad`` centres the image on a transparent square (nothing is lost; a mask
    keeps the padding); ``crop`` keeps the centre square. Then the square
    shrinks until its PNG fits ``max_bytes``.
    """
    original = open_image(data)
    image_format = original.format or "PNG"
    width, height = original.size
    image = original.convert("RGBA")
    area = mask_area(mask) if mask is not None else None
    if area is not None and area.size != image.size:
        area = area.resize(image.size, Image.Resampling.NEAREST)
    squared: Literal["", "pad", "crop"] = ""
    if width != height:
        side = max(width, height) if mode == "pad" else min(width, height)
        left, top = (side - width) // 2, (side - height) // 2
        if mode == "pad":
            canvas = Image.new("RGBA", (side, side), (0, 0, 0, 0))
            canvas.paste(image, (left, top))
            image = canvas
            if area is not None:
                kept = Image.new("L", (side, side), 0)
                kept.paste(area, (left, top))
                area = kept
        else:
            box = (-left, -top, -left + side, -top + side)
            image = image.crop(box)
            area = area.crop(box) if area is not None else None
        squared = mode
    if image_format == "PNG" and not squared and original.mode == "RGBA":
        png = data  # already what the provider wants: keep the bytes as they are
    else:
        png = encode(image, "PNG", optimize=True)
    shrunk_from = 0
    side = image.size[0]
    while len(png) > max_bytes and side > 16:
        shrunk_from = shrunk_from or image.size[0]
        side = int(side * 0.85)
        image = image.resize((side, side), Image.Resampling.LANCZOS)
        png = encode(image, "PNG", optimize=True)
    new_mask = None
    if area is not None:
        if area.size != image.size:
            area = area.resize(image.size, Image.Resampling.NEAREST)
        new_mask = encode(area, "PNG", optimize=True)
    return SquaredImage(
        png=png,
        mask=new_mask,
        side=image.size[0],
        original_size=(width, height),
        original_format=image_format,
        squared=squared,
        shrunk_from=shrunk_from,
    )


@dataclass(frozen=True)
class FittedImage:
    data: bytes
    format: str
    size: tuple[int, int]
    # What changed: "" (nothing), "reencoded" or "shrunk".
    change: Literal["", "reencoded", "shrunk"]


def fit_bytes(data: bytes, *, max_bytes: int) -> FittedImage:
    """``data`` if it fits ``max_bytes``; else re-encoded, then shrunk until it fits.

    Images with transparency stay PNG (WebP would do, but not every model
    reads it); opaque ones become JPEG at high quality.
    """
    original = open_image(data)
    image_format = original.format or "PNG"
    if len(data) <= max_bytes:
        return FittedImage(data=data, format=image_format, size=original.size, change="")
    transparent = original.mode in ("RGBA", "LA", "PA") or "transparency" in original.info
    image = original.convert("RGBA" if transparent else "RGB")
    target = "PNG" if transparent else "JPEG"
    options: dict[str, object] = {"optimize": True} if transparent else {"quality": 90}
    encoded = encode(image, target, **options)
    change: Literal["", "reencoded", "shrunk"] = "reencoded"
    while len(encoded) > max_bytes and min(image.size) > 16:
        change = "shrunk"
        image = image.resize(
            (int(image.size[0] * 0.85), int(image.size[1] * 0.85)), Image.Resampling.LANCZOS
        )
        encoded = encode(image, target, **options)
    return FittedImage(data=encoded, format=target, size=image.size, change=change)
