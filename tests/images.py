"""Test images made in memory with Pillow."""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Sequence
from typing import Any

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


# --- Phone photos: an asymmetric picture and its EXIF orientations -------------

# Colours of the upright picture's quadrants: top left, top right, bottom
# left, bottom right. All four differ, so any turn or flip shows.
QUADRANTS = ((220, 30, 30), (30, 200, 40), (40, 60, 220), (240, 240, 240))
# What undoes each orientation: the raw pixels a camera writes for a picture
# that shows upright once the orientation is applied (EXIF 2.3, 4.6.4).
RAW_FOR_ORIENTATION: dict[int, Image.Transpose | None] = {
    1: None,
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}


def quadrant_picture(width: int, height: int) -> Image.Image:
    """The upright picture: four coloured quadrants."""
    image = Image.new("RGB", (width, height))
    half_w, half_h = width // 2, height // 2
    boxes = (
        (0, 0, half_w, half_h),
        (half_w, 0, width, half_h),
        (0, half_h, half_w, height),
        (half_w, half_h, width, height),
    )
    for box, colour in zip(boxes, QUADRANTS, strict=True):
        image.paste(colour, box)
    return image


def oriented_photo(
    orientation: int,
    *,
    width: int = 48,
    height: int = 64,
    image_format: str = "JPEG",
    icc_profile: bytes | None = None,
) -> bytes:
    """A file that shows ``quadrant_picture(width, height)`` once its EXIF
    ``orientation`` is applied, as a phone writes a photo taken upright."""
    raw = quadrant_picture(width, height)
    method = RAW_FOR_ORIENTATION[orientation]
    if method is not None:
        raw = raw.transpose(method)
    exif = Image.Exif()
    exif[0x0112] = orientation  # Orientation
    exif[0x010F] = "Darkroom test camera"  # Make: other tags stay
    options: dict[str, Any] = {"exif": exif.tobytes()}
    if image_format == "JPEG":
        options["quality"] = 95
    if icc_profile is not None:
        options["icc_profile"] = icc_profile
    buffer = io.BytesIO()
    raw.save(buffer, format=image_format, **options)
    return buffer.getvalue()


def quadrant_colours(image: Image.Image) -> list[tuple[int, int, int]]:
    """The colour at the centre of each quadrant, in QUADRANTS order."""
    rgb = image.convert("RGB")
    width, height = rgb.size
    points = (
        (width // 4, height // 4),
        (3 * width // 4, height // 4),
        (width // 4, 3 * height // 4),
        (3 * width // 4, 3 * height // 4),
    )
    return [rgb.getpixel(point) for point in points]  # type: ignore[misc]


def close_to(
    actual: Sequence[Sequence[int]], expected: Sequence[Sequence[int]], tolerance: int
) -> bool:
    return all(
        abs(a - e) <= tolerance
        for got, want in zip(actual, expected, strict=True)
        for a, e in zip(got, want, strict=True)
    )


# --- Colour profiles, written as ICC v2 files ----------------------------------

D50 = (0.9642, 1.0, 0.8249)
# sRGB's primaries adapted to D50 (Bradford), as in every sRGB ICC profile.
SRGB_TO_XYZ_D50 = (
    (0.4360747, 0.3850649, 0.1430804),
    (0.2225045, 0.7168786, 0.0606169),
    (0.0139322, 0.0971045, 0.7141733),
)


def _s15(value: float) -> bytes:
    return struct.pack(">i", round(value * 65536))


def _icc(device_class: bytes, space: bytes, pcs: bytes, tags: list[tuple[bytes, bytes]]) -> bytes:
    table_end = 128 + 4 + 12 * len(tags)
    table, body = b"", b""
    for signature, data in tags:
        table += struct.pack(">4sII", signature, table_end + len(body), len(data))
        body += data + b"\0" * (-len(data) % 4)
    header = bytearray(128)
    struct.pack_into(">I", header, 0, table_end + len(body))
    header[8:12] = bytes([2, 0x10, 0, 0])
    header[12:16], header[16:20], header[20:24] = device_class, space, pcs
    header[36:40] = b"acsp"
    header[68:80] = b"".join(_s15(value) for value in D50)
    return bytes(header) + struct.pack(">I", len(tags)) + table + body


def _description(text: str) -> bytes:
    ascii_text = text.encode() + b"\0"
    return (
        b"desc\0\0\0\0"
        + struct.pack(">I", len(ascii_text))
        + ascii_text
        + struct.pack(">IIHB", 0, 0, 0, 0)
        + b"\0" * 67
    )


def _common_tags(text: str) -> list[tuple[bytes, bytes]]:
    return [
        (b"desc", _description(text)),
        (b"cprt", b"text\0\0\0\0No copyright, test data\0"),
        (b"wtpt", b"XYZ \0\0\0\0" + b"".join(_s15(value) for value in D50)),
    ]


def display_p3_profile() -> bytes:
    """A Display P3 matrix/TRC profile (gamma 2.2 curves stand in for P3's)."""
    colorants = ((0.5151, 0.2412, -0.0011), (0.2920, 0.6922, 0.0419), (0.1571, 0.0666, 0.7841))
    curve = b"curv\0\0\0\0" + struct.pack(">IH", 1, 0x0233)
    tags = _common_tags("Display P3 (test)")
    for name, xyz in zip((b"rXYZ", b"gXYZ", b"bXYZ"), colorants, strict=True):
        tags.append((name, b"XYZ \0\0\0\0" + b"".join(_s15(value) for value in xyz)))
    tags += [(b"rTRC", curve), (b"gTRC", curve), (b"bTRC", curve)]
    return _icc(b"mntr", b"RGB ", b"XYZ ", tags)


# Printing inks as sRGB colours, and the paper.
INKS = {"C": (0, 160, 227), "M": (230, 0, 126), "Y": (255, 237, 0), "K": (35, 31, 32)}


def _linear(channel: int) -> float:
    value = channel / 255
    return value / 12.92 if value <= 0.04045 else ((value + 0.055) / 1.055) ** 2.4


def _encoded(value: float) -> int:
    value = min(max(value, 0.0), 1.0)
    value = value * 12.92 if value <= 0.0031308 else 1.055 * value ** (1 / 2.4) - 0.055
    return round(value * 255)


def printed_colour(*inks: str) -> tuple[int, int, int]:
    """The sRGB colour of ``inks`` printed over each other on white paper:
    each layer lets through its own colour's share of light."""
    light = [1.0, 1.0, 1.0]
    for ink in inks:
        light = [share * _linear(channel) for share, channel in zip(light, INKS[ink], strict=True)]
    return (_encoded(light[0]), _encoded(light[1]), _encoded(light[2]))


def _lab_of(colour: tuple[int, int, int]) -> tuple[float, float, float]:
    linear = [_linear(channel) for channel in colour]
    x, y, z = (sum(m * c for m, c in zip(row, linear, strict=True)) for row in SRGB_TO_XYZ_D50)

    def f(t: float) -> float:
        return t ** (1 / 3) if t > (6 / 29) ** 3 else t / (3 * (6 / 29) ** 2) + 4 / 29

    fx, fy, fz = f(x / D50[0]), f(y / D50[1]), f(z / D50[2])
    return (116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz))


def cmyk_profile() -> bytes:
    """A CMYK printer profile whose inks are INKS (printed_colour of each
    combination at the corners of its colour table)."""
    grid = []
    for corner in range(16):
        inks = [ink for bit, ink in zip((8, 4, 2, 1), "CMYK", strict=True) if corner & bit]
        lightness, a, b = _lab_of(printed_colour(*inks))
        grid.append(
            struct.pack(
                ">3H",
                round(lightness * 65280 / 100),
                round((a + 128) * 256),
                round((b + 128) * 256),
            )
        )
    identity = b"".join(_s15(1.0 if row == col else 0.0) for row in range(3) for col in range(3))
    lut = (
        b"mft2\0\0\0\0"
        + bytes([4, 3, 2, 0])
        + identity
        + struct.pack(">HH", 2, 2)
        + struct.pack(">2H", 0, 65535) * 4
        + b"".join(grid)
        + struct.pack(">2H", 0, 65535) * 3
    )
    return _icc(b"prtr", b"CMYK", b"Lab ", [*_common_tags("CMYK inks (test)"), (b"A2B0", lut)])


def png_48_bit(width: int, height: int, colour: tuple[int, int, int]) -> bytes:
    """An RGB PNG with 16 bits per channel (Pillow can read one, not write one)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        checksum = struct.pack(">I", zlib.crc32(kind + body))
        return struct.pack(">I", len(body)) + kind + body + checksum

    row = b"\0" + struct.pack(">3H", *colour) * width
    header = struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )


def animation(image_format: str, colours: Sequence[tuple[int, int, int]], size: int = 24) -> bytes:
    """An animated GIF, WebP or PNG (APNG) with one flat frame per colour."""
    frames = [Image.new("RGB", (size, size), colour) for colour in colours]
    buffer = io.BytesIO()
    options: dict[str, Any] = {"save_all": True, "append_images": frames[1:], "duration": 100}
    if image_format == "WEBP":
        options["lossless"] = True
    frames[0].save(buffer, format=image_format, **options)
    return buffer.getvalue()


def exif_after_pixels(png: bytes) -> bytes:
    """``png`` with its eXIf chunk moved after the pixels (IDAT), where
    browsers no longer read an orientation from it."""
    chunks, position = [], 8
    while position < len(png):
        (length,) = struct.unpack(">I", png[position : position + 4])
        chunks.append(png[position : position + 12 + length])
        position += 12 + length
    exif = [chunk for chunk in chunks if chunk[4:8] == b"eXIf"]
    others = [chunk for chunk in chunks if chunk[4:8] != b"eXIf"]
    assert len(exif) == 1 and others[-1][4:8] == b"IEND"
    return png[:8] + b"".join([*others[:-1], *exif, others[-1]])
