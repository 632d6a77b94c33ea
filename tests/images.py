"""Test images made in memory with Pillow."""

from __future__ import annotations

import io

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image


def image_bytes(
    width: int = 64,
    height: int = 48,
    *,
    image_format: str = "PNG",
    colour: tuple[int, ...] = (200, 40, 40),
    mode: str = "RGB",
) -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, (width, height), colour).save(buffer, format=image_format)
    return buffer.getvalue()


def upload(
    data: bytes, name: str = "photo.png", content_type: str = "image/png"
) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type=content_type)


def mask_bytes(
    width: int, height: int, *, box: tuple[int, int, int, int], convention: str = "white"
) -> bytes:
    """A mask marking ``box`` as the area to change, in either convention."""
    buffer = io.BytesIO()
    if convention == "white":
        image = Image.new("L", (width, height), 0)
        image.paste(255, box)
    else:
        image = Image.new("RGBA", (width, height), (0, 0, 0, 255))
        image.paste((0, 0, 0, 0), box)
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def open_bytes(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image
