"""All of Darkroom's Pillow work. Imports nothing else of Darkroom's.

Untrusted bytes only ever reach the PNG, JPEG, WebP and GIF decoders. An
upload is decoded once: checked, turned upright as browsers show it, brought
to a mode every provider reads, and thumbnailed, all from that one decode.
A phone photo may leave its turn for later (``turn_later``). Images are
re-encoded only where the result must differ from what came in.
"""

from __future__ import annotations

import hashlib
import io
import logging
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from PIL import (
    ExifTags,
    Image,
    ImageCms,
    ImageDraw,
    ImageEnhance,
    ImageFilter,
    ImageOps,
    JpegImagePlugin,
)

logger = logging.getLogger(__name__)

ALLOWED_FORMATS = ("PNG", "JPEG", "WEBP", "GIF")
# Formats stored as they come. GIF is not among them: no provider takes it, so
# a GIF (its first frame) is stored as PNG.
STORED_FORMATS = ("PNG", "JPEG", "WEBP")
# Modes stored as they are: 8 bits per channel, grey or RGB, with or without
# alpha, which every browser and provider reads alike. Anything else (16-bit,
# palette, 1-bit, CMYK, ...) is converted, keeping the picture.
PLAIN_MODES = {"JPEG": ("L", "RGB"), "PNG": ("L", "LA", "RGB", "RGBA"), "WEBP": ("RGB", "RGBA")}
SIXTEEN_BIT_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I")
# Browsers turn JPEG and PNG upright by their EXIF orientation but show WebP
# as stored (Chromium 156; tests/browser/test_orientation.py checks it).
# Darkroom follows the browser, so the painter and the server see one size.
ORIENTED_FORMATS = ("JPEG", "PNG")
# A re-encoded PNG: level 1 takes 0.8 s for 12 MP where the default level 6
# takes 5 s, for files about 15% larger.
PNG_COMPRESS_LEVEL = 1
# Where Pillow cannot keep a JPEG's own quantization tables.
JPEG_QUALITY = 95
NOT_AN_IMAGE = "This file is not a PNG, JPEG, WebP or GIF image Darkroom can read."
DAMAGED = "This image is damaged or incomplete."
MaskConvention = Literal["transparent", "white"]

SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


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


def _info(
    data: bytes, *, size: tuple[int, int], image_format: str, sha256: str | None = None
) -> ImageInfo:
    """What Darkroom records of ``data`` (``sha256``: its digest, when known)."""
    return ImageInfo(
        width=size[0],
        height=size[1],
        format=image_format,
        bytes=len(data),
        sha256=sha256 or hashlib.sha256(data).hexdigest(),
    )


@dataclass
class _Decoded:
    """The first frame of an image, loaded, and what browsers do with it."""

    image: Image.Image
    orientation: int  # EXIF orientation browsers apply (1: none)
    animated: bool


def _decode(data: bytes, *, max_pixels: int) -> _Decoded:
    """Decode the first frame of ``data``, or raise ImageRejectedError.

    The pixel limit is checked from the header, before any pixel is decoded.
    """
    opened = _open(data, max_pixels=max_pixels)
    _load(opened)
    return opened


def _load(opened: _Decoded) -> None:
    """Decode every pixel of the opened image, or close it and raise ImageRejectedError."""
    try:
        opened.image.load()
    except Exception as exc:
        opened.image.close()
        raise ImageRejectedError(DAMAGED) from exc


def _open(data: bytes, *, max_pixels: int) -> _Decoded:
    """``data`` opened and checked from its header alone: no pixel decoded yet."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise ImageRejectedError("This image has too many pixels.") from exc
        except Exception as exc:
            raise ImageRejectedError(NOT_AN_IMAGE) from exc
        # Read before loading: browsers take a PNG's orientation only from an
        # eXIf chunk ahead of the pixels, which is what Pillow has read by now.
        orientation = exif_orientation(image)
        width, height = upright_size(image.size, orientation)
        if width * height > max_pixels:
            image.close()
            raise ImageRejectedError(
                f"This image is {width}×{height} pixels; the limit is "
                f"{max_pixels / 1_000_000:g} megapixels."
            )
        try:
            # Before load(): finding out seeks past the first frame and back.
            animated = bool(getattr(image, "is_animated", False))
        except Exception as exc:
            image.close()
            raise ImageRejectedError(DAMAGED) from exc
    return _Decoded(image=image, orientation=orientation, animated=animated)


def upright_size(size: tuple[int, int], orientation: int) -> tuple[int, int]:
    """``size`` once ``orientation`` is applied: 5 to 8 turn it a quarter."""
    return (size[1], size[0]) if orientation in (5, 6, 7, 8) else size


def exif_orientation(image: Image.Image) -> int:
    """The EXIF orientation a browser applies to ``image`` as opened (1: none).

    Only the EXIF block counts: browsers ignore an orientation in XMP, which
    Pillow's ``getexif()`` would also report.
    """
    raw = image.info.get("exif")
    if image.format not in ORIENTED_FORMATS or not isinstance(raw, bytes):
        return 1
    exif = Image.Exif()
    try:
        exif.load(raw)
    except Exception:
        return 1
    orientation = exif.get(ExifTags.Base.Orientation, 1)
    return orientation if isinstance(orientation, int) and 1 <= orientation <= 8 else 1


def inspect_image(data: bytes, *, max_pixels: int) -> ImageInfo:
    """Decode ``data`` completely and describe its bytes, or raise ImageRejectedError.

    For images Darkroom made itself (results it drew, masks it encoded);
    anything that comes from outside goes through ``prepare_image``.
    """
    decoded = _decode(data, max_pixels=max_pixels)
    with decoded.image as image:
        return _info(data, size=image.size, image_format=str(image.format))


def probe_image(data: bytes, *, max_pixels: int) -> ImageInfo:
    """Describe ``data`` from its header alone (no pixel decoded), or raise
    ImageRejectedError: what a file needs to be stored and served before
    the image is checked."""
    opened = _open(data, max_pixels=max_pixels)
    with opened.image as image:
        return _info(data, size=image.size, image_format=str(image.format))


@dataclass(frozen=True)
class PreparedImage:
    """An image as Darkroom keeps it: upright, first frame, in a plain mode."""

    # The bytes as received when nothing had to change, else re-encoded.
    data: bytes
    info: ImageInfo
    # A WebP thumbnail from the same decode, when one was asked for.
    thumbnail: bytes | None
    # It had more frames; only the first was kept.
    animated: bool
    # The EXIF orientation ``data`` still carries, when turning it was left
    # for later (``turn_later``); ``info`` and the thumbnail are upright.
    orientation: int = 1


def prepare_image(
    data: bytes,
    *,
    max_pixels: int,
    thumbnail_size: int | None = None,
    turn_later: bool = False,
    sha256: str | None = None,
) -> PreparedImage:
    """Check ``data`` and make it what Darkroom stores, decoding it once.

    The image is turned upright by its EXIF orientation (and loses the tag,
    or browsers would turn it twice), keeps its first frame only, and is
    converted where its mode is not plain (see PLAIN_MODES). A JPEG stays a
    JPEG; anything else that changes becomes a PNG. An image that needs none
    of this keeps its bytes as they are.

    With ``turn_later``, a plain JPEG that only needs turning (a phone photo)
    is checked like an upright one and kept as received, with its orientation
    in the answer: turning means a full decode, a turn and a re-encode, 2-3
    times the decode alone, which an upload need not wait for. Browsers show
    it upright meanwhile, and ``prepare_image`` without ``turn_later`` turns it.

    ``sha256``: the digest of ``data`` when the caller has it (a result whose
    answer was hashed on arrival), so bytes kept as they are are not hashed
    again: ~2 ms for a 3 MB result.
    """
    decoded = _open(data, max_pixels=max_pixels)
    with decoded.image as image:
        source_format = str(image.format)
        target = _stored_format(source_format)
        # Before a JPEG is decoded smaller.
        full_size = upright_size(image.size, decoded.orientation)
        if _checked_without_full_decode(
            decoded, thumbnail_size=thumbnail_size, turn_later=turn_later
        ):
            upright = _upright(image, decoded.orientation)
            small = _thumbnail_of(upright, size=thumbnail_size) if thumbnail_size else None
            return PreparedImage(
                data=data,
                info=_info(data, size=full_size, image_format=source_format, sha256=sha256),
                thumbnail=small,
                animated=False,
                orientation=decoded.orientation,
            )
        _load(decoded)
        plain = _plain(_upright(image, decoded.orientation), target)
        if plain is image and not decoded.animated and source_format in STORED_FORMATS:
            stored, stored_format = data, source_format
        else:
            if plain is not image:
                # Only what describes the source (its JPEG tables) is needed
                # from here on: 36 MB less at the peak for a turned 12 MP photo.
                image.close()
            stored, stored_format = _reencode(plain, image_format=target, source=image), target
        size = plain.size
        small = _thumbnail_of(plain, size=thumbnail_size) if thumbnail_size else None
    return PreparedImage(
        data=stored,
        info=_info(
            stored,
            size=size,
            image_format=stored_format,
            sha256=sha256 if stored is data else None,
        ),
        thumbnail=small,
        animated=decoded.animated,
    )


def _checked_without_full_decode(
    decoded: _Decoded, *, thumbnail_size: int | None, turn_later: bool = False
) -> bool:
    """Whether the opened image was checked without decoding every pixel:
    True when nothing about it changes now and a cheaper check is enough;
    False when it must be decoded in full (nothing read yet). With
    ``turn_later``, a JPEG's orientation is not a change now.

    A PNG's chunks are read and their checksums verified (for a result, which
    needs no thumbnail now: a full decode of a 1024² PNG took ~16 ms on the
    way to the user). A JPEG's whole stream is decoded at a fraction of its
    size (JPEG's DCT scaling, "draft" mode): big enough for the thumbnail, if
    one is asked for, else an eighth; a 12 MP photo takes ~25 ms so instead
    of ~120 ms. WebP, and a PNG that needs a thumbnail, are decoded in full.
    """
    image = decoded.image
    source_format = str(image.format)
    if (
        (decoded.orientation != 1 and not (turn_later and source_format == "JPEG"))
        or decoded.animated
        or source_format not in STORED_FORMATS
        or not _is_plain(image, _stored_format(source_format))
        or (thumbnail_size is not None and source_format != "JPEG")
    ):
        return False
    try:
        if source_format == "PNG":
            # Pillow can read nothing more of the file after this.
            image.verify()
        else:
            if source_format == "JPEG":
                image.draft(image.mode, _draft_size(image.size, thumbnail_size))
            image.load()
    except Exception as exc:
        raise ImageRejectedError(DAMAGED) from exc
    return True


def _draft_size(size: tuple[int, int], thumbnail_size: int | None) -> tuple[int, int]:
    """The smallest size a JPEG may be decoded at: the thumbnail's, or an eighth."""
    if thumbnail_size is not None:
        return (min(size[0], thumbnail_size), min(size[1], thumbnail_size))
    return (max(1, size[0] // 8), max(1, size[1] // 8))


def _stored_format(source_format: str) -> str:
    """What an image becomes if it must change: a JPEG stays one, the rest become PNG."""
    return "JPEG" if source_format == "JPEG" else "PNG"


def _is_plain(image: Image.Image, image_format: str) -> bool:
    return image.mode in PLAIN_MODES[image_format] and "transparency" not in image.info


def _upright(image: Image.Image, orientation: int) -> Image.Image:
    """``image`` turned as its EXIF ``orientation`` says (itself if it says nothing)."""
    if orientation == 1:
        return image
    return ImageOps.exif_transpose(image) or image


def _plain(image: Image.Image, image_format: str) -> Image.Image:
    """``image`` in a mode of PLAIN_MODES[image_format], or itself if it is one."""
    if _is_plain(image, image_format):
        return image
    mode = image.mode
    if mode == "CMYK":
        return _cmyk_to_srgb(image)
    if mode in SIXTEEN_BIT_MODES:
        # convert() would clip every value above 255 to white: scale instead.
        wide = image if mode == "I" else image.convert("I")
        grey = wide.point(lambda value: value / 257 + 0.5).convert("L")
        # A tRNS grey level is in 16-bit units; rare enough to drop.
        grey.info.pop("transparency", None)
        return grey
    if mode == "1":
        return image.convert("L")
    # A palette or a tRNS colour becomes a real alpha channel.
    alpha = image_format != "JPEG" and ("A" in image.getbands() or "transparency" in image.info)
    if mode in ("L", "LA"):
        return image.convert("LA" if alpha else "L")
    return image.convert("RGBA" if alpha else "RGB")


def _cmyk_to_srgb(image: Image.Image) -> Image.Image:
    """CMYK through its embedded profile to sRGB; a naive conversion without one."""
    profile = image.info.get("icc_profile")
    if profile:
        try:
            converted = ImageCms.profileToProfile(
                image, ImageCms.ImageCmsProfile(io.BytesIO(profile)), SRGB, outputMode="RGB"
            )
        except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
            logger.info("A CMYK image's colour profile could not be used; converting without it.")
        else:
            assert converted is not None
            if "exif" in image.info:
                converted.info["exif"] = image.info["exif"]
            return converted
    rgb = image.convert("RGB")
    rgb.info.pop("icc_profile", None)
    return rgb


def _reencode(image: Image.Image, *, image_format: str, source: Image.Image) -> bytes:
    options: dict[str, object] = {}
    exif = image.info.get("exif")
    if isinstance(exif, bytes):
        options["exif"] = _without_orientation(exif)
    if image_format == "JPEG":
        quantization = getattr(source, "quantization", None)
        if source.format == "JPEG" and image.mode == source.mode and quantization:
            # The photo's own tables and chroma subsampling, as Pillow's
            # quality="keep" would: about its size and quality, not more.
            options["qtables"] = quantization
            sampling = JpegImagePlugin.get_sampling(source)
            if sampling >= 0:
                options["subsampling"] = sampling
        else:
            options["quality"] = JPEG_QUALITY
    else:
        options["compress_level"] = PNG_COMPRESS_LEVEL
    return encode(image, image_format, icc_profile=image.info.get("icc_profile"), **options)


def _without_orientation(raw: bytes) -> bytes:
    exif = Image.Exif()
    exif.load(raw)
    exif.pop(ExifTags.Base.Orientation, None)
    return exif.tobytes()


def open_image(data: bytes) -> Image.Image:
    """Open bytes that were already inspected (stored inputs and results)."""
    image = Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS)
    image.load()
    return image


def encode(
    image: Image.Image, image_format: str, *, icc_profile: bytes | None = None, **options: object
) -> bytes:
    """``image`` as ``image_format``, carrying ``icc_profile`` if it fits the mode.

    The profile is always given to Pillow (None included): its PNG writer
    would otherwise embed whatever profile ``image.info`` still holds.
    """
    buffer = io.BytesIO()
    if image_format == "JPEG" and image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    if image_format == "WEBP" and image.mode in ("L", "LA"):
        # WebP has no grey mode; Pillow would convert after the profile check.
        image = image.convert("RGBA" if image.mode == "LA" else "RGB")
    options["icc_profile"] = _profile_for(image.mode, icc_profile)
    image.save(buffer, format=image_format, **options)
    return buffer.getvalue()


def _profile_for(mode: str, icc_profile: bytes | None) -> bytes | None:
    """``icc_profile`` if it describes colours of ``mode`` (RGB for RGB, grey for L)."""
    if not isinstance(icc_profile, bytes) or not icc_profile:
        return None
    try:
        space = ImageCms.ImageCmsProfile(io.BytesIO(icc_profile)).profile.xcolor_space
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return None
    wanted = {"L": "GRAY", "LA": "GRAY", "RGB": "RGB", "RGBA": "RGB"}.get(mode)
    return icc_profile if space.strip() == wanted else None


def thumbnail(data: bytes, *, size: int) -> bytes:
    """A small WebP (keeps transparency) of stored bytes that fits in ``size``×``size``."""
    with open_image(data) as image:
        # Upright, for a photo stored before it was turned (``turn_later``).
        upright = _upright(image, exif_orientation(image))
        return _thumbnail_of(_plain(upright, "PNG"), size=size)


def _thumbnail_of(image: Image.Image, *, size: int) -> bytes:
    """A WebP thumbnail of ``image``, which it shrinks in place."""
    image.thumbnail((size, size), Image.Resampling.LANCZOS)
    return encode(image, "WEBP", icc_profile=image.info.get("icc_profile"), quality=80, method=4)


# --- Masks ------------------------------------------------------------------
# The canonical mask is an 8-bit greyscale PNG the size of the first image:
# 255 marks the area to change, 0 the area to keep, greys a soft (feathered) edge.


@dataclass(frozen=True)
class CanonicalMask:
    png: bytes
    convention: MaskConvention
    info: ImageInfo
    # It marks no pixel to change.
    empty: bool


def canonical_mask(data: bytes, *, max_pixels: int) -> CanonicalMask:
    """Read a mask in either common convention, upright as a browser shows it.

    A mask with fully transparent pixels follows OpenAI's convention (those
    pixels are the area to change); an opaque mask is black and white with
    white marking the area to change. Partial transparency or grey is a
    partial change (a feathered edge), kept as grey.
    """
    decoded = _decode(data, max_pixels=max_pixels)
    with decoded.image:
        area, convention = _marked_area(_plain(_upright(decoded.image, decoded.orientation), "PNG"))
    png = encode(area, "PNG", optimize=True)
    return CanonicalMask(
        png=png,
        convention=convention,
        info=_info(png, size=area.size, image_format="PNG"),
        empty=area.getextrema()[1] == 0,
    )


def _marked_area(image: Image.Image) -> tuple[Image.Image, MaskConvention]:
    # Greys between the two are kept: a feathered edge is a soft change, and
    # providers that read masks as alpha or grey get the same soft edge.
    if "A" in image.getbands():
        alpha = image.getchannel("A")
        if alpha.getextrema()[0] == 0:
            return ImageOps.invert(alpha), "transparent"
    return image.convert("L"), "white"


def mask_area(mask: bytes) -> Image.Image:
    return open_image(mask).convert("L")


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
    profile = original.info.get("icc_profile")
    return (
        encode(edited, image_format, icc_profile=profile, **_quality_options(image_format)),
        image_format,
    )


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
    profile = original.info.get("icc_profile")
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
        png = encode(image, "PNG", icc_profile=profile, optimize=True)
    shrunk_from = 0
    side = image.size[0]
    while len(png) > max_bytes and side > 16:
        shrunk_from = shrunk_from or image.size[0]
        side = int(side * 0.85)
        image = image.resize((side, side), Image.Resampling.LANCZOS)
        png = encode(image, "PNG", icc_profile=profile, optimize=True)
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
    profile = original.info.get("icc_profile")
    encoded = encode(image, target, icc_profile=profile, **options)
    change: Literal["", "reencoded", "shrunk"] = "reencoded"
    while len(encoded) > max_bytes and min(image.size) > 16:
        change = "shrunk"
        image = image.resize(
            (int(image.size[0] * 0.85), int(image.size[1] * 0.85)), Image.Resampling.LANCZOS
        )
        encoded = encode(image, target, icc_profile=profile, **options)
    return FittedImage(data=encoded, format=target, size=image.size, change=change)
