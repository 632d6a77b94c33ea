"""What an upload becomes before it is stored: upright, first frame, a plain
mode, the picture and its colours kept. Every check reads pixels."""

from __future__ import annotations

import io
from typing import Any

import pytest
from PIL import Image, ImageCms, ImageFile, ImageOps, JpegImagePlugin

from editor import imaging
from tests.images import (
    QUADRANTS,
    animation,
    close_to,
    cmyk_profile,
    display_p3_profile,
    exif_after_pixels,
    image_bytes,
    open_bytes,
    oriented_photo,
    png_48_bit,
    printed_colour,
    quadrant_colours,
    quadrant_picture,
)

LIMIT = 40_000_000
ORIENTATION = 0x0112


def prepare(data: bytes, **options: int) -> imaging.PreparedImage:
    return imaging.prepare_image(data, max_pixels=options.pop("max_pixels", LIMIT), **options)


def encoded(image: Image.Image, image_format: str = "PNG", **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=image_format, **options)
    return buffer.getvalue()


# --- Orientation -----------------------------------------------------------------


@pytest.mark.parametrize("orientation", range(2, 9))
def test_a_phone_jpeg_is_stored_upright_without_its_orientation_tag(orientation: int) -> None:
    prepared = prepare(oriented_photo(orientation), thumbnail_size=16)
    stored = open_bytes(prepared.data)
    assert stored.format == "JPEG"
    assert stored.size == (48, 64) == prepared.info.size
    assert close_to(quadrant_colours(stored), QUADRANTS, 12), quadrant_colours(stored)
    exif = stored.getexif()
    assert ORIENTATION not in exif
    assert exif[0x010F] == "Darkroom test camera"  # the rest of the EXIF stays
    assert prepared.thumbnail is not None
    small = open_bytes(prepared.thumbnail)
    assert small.size == (12, 16)
    assert close_to(quadrant_colours(small), QUADRANTS, 30), quadrant_colours(small)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_a_phone_jpeg_left_to_turn_later_is_kept_as_received_and_described_upright(
    orientation: int,
) -> None:
    photo = oriented_photo(orientation)
    prepared = imaging.prepare_image(
        photo, max_pixels=1_000_000, thumbnail_size=16, turn_later=True
    )
    assert prepared.data == photo
    assert prepared.orientation == orientation
    assert prepared.info.size == (48, 64)
    assert prepared.thumbnail is not None
    small = open_bytes(prepared.thumbnail)
    assert small.size == (12, 16)
    assert close_to(quadrant_colours(small), QUADRANTS, 30), quadrant_colours(small)
    # Turning it later gives what turning it at once would have.
    turned = prepare(prepared.data)
    assert turned.data == prepare(photo).data and turned.info.size == (48, 64)


def test_only_a_plain_jpeg_is_left_to_turn_later() -> None:
    # A PNG's orientation, or a JPEG that changes anyway, is applied at once.
    sideways = open_bytes(oriented_photo(6))
    cmyk = encoded(sideways.convert("CMYK"), "JPEG", exif=sideways.info["exif"])
    for photo in (oriented_photo(6, image_format="PNG"), cmyk):
        prepared = imaging.prepare_image(photo, max_pixels=1_000_000, turn_later=True)
        assert prepared.orientation == 1
        stored = open_bytes(prepared.data)
        assert stored.size == (48, 64)
        assert stored.getexif().get(ORIENTATION, 1) == 1


def test_a_thumbnail_of_a_photo_not_yet_turned_is_upright() -> None:
    small = open_bytes(imaging.thumbnail(oriented_photo(6), size=16))
    assert small.size == (12, 16)
    assert close_to(quadrant_colours(small), QUADRANTS, 30), quadrant_colours(small)


def test_a_jpeg_turned_upright_keeps_its_quantization_and_subsampling() -> None:
    original = open_bytes(oriented_photo(6, width=480, height=640))
    stored = open_bytes(prepare(oriented_photo(6, width=480, height=640)).data)
    # The photo's own quality, as Pillow's quality="keep" would: not the
    # larger files of a fixed high quality, nor a visibly worse picture.
    assert stored.quantization == original.quantization
    assert JpegImagePlugin.get_sampling(stored) == JpegImagePlugin.get_sampling(original) == 2


def test_an_upright_photo_is_stored_byte_for_byte() -> None:
    original = oriented_photo(1)
    prepared = prepare(original)
    assert prepared.data == original
    assert prepared.info.sha256 == imaging.inspect_image(original, max_pixels=LIMIT).sha256


def test_a_png_is_turned_upright_by_its_exif_chunk_as_browsers_do() -> None:
    prepared = prepare(oriented_photo(8, image_format="PNG"))
    stored = open_bytes(prepared.data)
    assert (stored.format, stored.size) == ("PNG", (48, 64))
    assert quadrant_colours(stored) == list(QUADRANTS)
    assert ORIENTATION not in stored.getexif()


def test_a_png_whose_exif_follows_its_pixels_is_kept_as_browsers_show_it() -> None:
    original = exif_after_pixels(oriented_photo(6, image_format="PNG"))
    prepared = prepare(original)
    assert prepared.data == original
    assert prepared.info.size == (64, 48)


def test_a_webp_is_kept_as_browsers_show_it_ignoring_its_orientation() -> None:
    # Browsers do not turn WebP by its EXIF (tests/browser/test_orientation.py).
    original = oriented_photo(6, image_format="WEBP")
    prepared = prepare(original)
    assert prepared.data == original
    assert prepared.info.size == (64, 48)


def test_the_pixel_limit_reports_the_upright_size() -> None:
    with pytest.raises(imaging.ImageRejectedError, match="48×64 pixels"):
        prepare(oriented_photo(6), max_pixels=1000)


def test_a_rotated_photo_keeps_its_display_p3_profile() -> None:
    profile = display_p3_profile()
    stored = open_bytes(prepare(oriented_photo(6, icc_profile=profile)).data)
    assert stored.info["icc_profile"] == profile
    assert stored.size == (48, 64)
    assert close_to(quadrant_colours(stored), QUADRANTS, 12)


# --- Modes -------------------------------------------------------------------------


def test_a_16_bit_grey_png_keeps_its_grey_levels() -> None:
    # A horizontal ramp over the whole 16-bit range, 1024 steps.
    ramp = Image.new("I", (1024, 4))
    ramp.putdata([x * 64 for _ in range(4) for x in range(1024)])
    original = encoded(ramp.convert("I;16"))
    assert open_bytes(original).mode == "I;16"
    stored = open_bytes(prepare(original).data)
    assert stored.mode == "L"
    row = [stored.getpixel((x, 0)) for x in range(1024)]
    assert len(set(row)) == 256  # clipping left 2 levels (black and white)
    assert all(abs(value - x * 64 / 257) <= 0.5 for x, value in enumerate(row))


def test_a_48_bit_png_is_kept_as_it_is_and_thumbnailed_in_its_colours() -> None:
    original = png_48_bit(20, 10, (0x8000, 0x4000, 0xC0FF))
    prepared = prepare(original, thumbnail_size=8)
    assert prepared.data == original
    assert prepared.thumbnail is not None
    small = open_bytes(prepared.thumbnail).convert("RGB")
    assert close_to([small.getpixel((4, 2))], [(128, 64, 192)], 3)


def test_a_cmyk_jpeg_is_converted_to_srgb_through_its_profile() -> None:
    patches = [(), ("C",), ("M",), ("Y",), ("C", "M"), ("K",)]
    cmyk = Image.new("CMYK", (32 * len(patches), 32))
    for index, inks in enumerate(patches):
        value = tuple(255 if ink in inks else 0 for ink in "CMYK")
        cmyk.paste(value, (32 * index, 0, 32 * index + 32, 32))
    original = encoded(cmyk, "JPEG", quality=98, icc_profile=cmyk_profile())
    stored = open_bytes(prepare(original).data)
    assert (stored.format, stored.mode) == ("JPEG", "RGB")
    got = [stored.getpixel((32 * index + 16, 16)) for index in range(len(patches))]
    expected = [printed_colour(*inks) for inks in patches]
    assert close_to(got, expected, 6), (got, expected)
    # A naive conversion makes cyan (0, 255, 255); the profile's cyan is (0, 160, 227).
    assert expected[1] == (0, 160, 227)


def test_a_palette_png_with_transparency_keeps_its_transparent_pixels() -> None:
    palette = Image.new("P", (20, 10), 1)
    palette.putpalette([0, 0, 0, 200, 40, 40, 10, 200, 10])
    palette.paste(2, (10, 0, 20, 10))
    palette.paste(0, (0, 0, 5, 5))
    stored = open_bytes(prepare(encoded(palette, transparency=0)).data)
    assert stored.mode == "RGBA"
    assert stored.getpixel((2, 2))[3] == 0
    assert stored.getpixel((7, 7)) == (200, 40, 40, 255)
    assert stored.getpixel((15, 5)) == (10, 200, 10, 255)


def test_a_palette_png_without_transparency_becomes_rgb_with_its_profile() -> None:
    palette = Image.new("P", (20, 10), 1)
    palette.putpalette([0, 0, 0, 200, 40, 40, 10, 200, 10])
    palette.paste(2, (10, 0, 20, 10))
    profile = display_p3_profile()
    stored = open_bytes(prepare(encoded(palette, icc_profile=profile)).data)
    assert stored.mode == "RGB"
    assert (stored.getpixel((2, 2)), stored.getpixel((15, 5))) == ((200, 40, 40), (10, 200, 10))
    assert stored.info["icc_profile"] == profile


def test_a_one_bit_png_becomes_black_and_white_grey() -> None:
    bits = Image.new("1", (16, 8), 0)
    bits.paste(1, (8, 0, 16, 8))
    stored = open_bytes(prepare(encoded(bits)).data)
    assert stored.mode == "L"
    assert (stored.getpixel((2, 2)), stored.getpixel((12, 2))) == (0, 255)


@pytest.mark.parametrize(
    ("mode", "colour"), [("L", 90), ("LA", (90, 128)), ("RGB", (1, 2, 3)), ("RGBA", (1, 2, 3, 4))]
)
def test_plain_pngs_are_stored_byte_for_byte(mode: str, colour: object) -> None:
    original = image_bytes(mode=mode, colour=colour)  # type: ignore[arg-type]
    assert prepare(original).data == original


def test_a_grey_png_with_a_transparent_level_gets_an_alpha_channel() -> None:
    grey = Image.new("L", (10, 10), 50)
    grey.paste(7, (0, 0, 5, 10))
    stored = open_bytes(prepare(encoded(grey, transparency=7)).data)
    assert stored.mode == "LA"
    assert (stored.getpixel((1, 1)), stored.getpixel((8, 8))) == ((7, 0), (50, 255))


# --- Animations ----------------------------------------------------------------------


@pytest.mark.parametrize("image_format", ["GIF", "WEBP", "PNG"])
def test_an_animation_keeps_its_first_frame_as_a_png(image_format: str) -> None:
    original = animation(image_format, [(200, 30, 30), (30, 200, 30), (30, 30, 200)])
    assert Image.open(io.BytesIO(original)).n_frames == 3  # type: ignore[attr-defined]
    prepared = prepare(original, thumbnail_size=8)
    assert prepared.animated
    stored = open_bytes(prepared.data)
    assert (stored.format, stored.size) == ("PNG", (24, 24))
    assert getattr(stored, "n_frames", 1) == 1
    assert stored.convert("RGB").getpixel((12, 12)) == (200, 30, 30)
    assert prepared.thumbnail is not None
    assert close_to(
        [open_bytes(prepared.thumbnail).convert("RGB").getpixel((4, 4))], [(200, 30, 30)], 8
    )


def test_a_still_gif_becomes_a_png_and_keeps_its_transparency() -> None:
    palette = Image.new("P", (10, 10), 1)
    palette.putpalette([0, 0, 0, 240, 200, 0])
    palette.paste(0, (0, 0, 5, 10))
    prepared = prepare(encoded(palette, "GIF", transparency=0))
    assert not prepared.animated
    stored = open_bytes(prepared.data)
    assert (stored.format, stored.mode) == ("PNG", "RGBA")
    assert stored.getpixel((1, 1))[3] == 0
    assert stored.getpixel((8, 8)) == (240, 200, 0, 255)


def test_other_formats_are_refused() -> None:
    for image_format in ("BMP", "TIFF", "ICO"):
        with pytest.raises(imaging.ImageRejectedError, match="not a PNG, JPEG, WebP or GIF"):
            prepare(image_bytes(16, 16, image_format=image_format))


# --- Masks ---------------------------------------------------------------------------


def test_a_mask_is_read_upright_and_16_bit_grey_is_not_clipped() -> None:
    # Raw 20x10 turned by orientation 6 into 10x20; a dark grey (20000 of
    # 65535) stays a dark grey (78 of 255; clipping would make it white), and
    # only the white band is fully the area to change.
    raw = Image.new("I", (20, 10), 20000)
    raw.paste(65535, (0, 0, 20, 3))  # the top band of the raw pixels...
    exif = Image.Exif()
    exif[ORIENTATION] = 6
    mask = imaging.canonical_mask(
        encoded(raw.convert("I;16"), exif=exif.tobytes()), max_pixels=LIMIT
    )
    area = open_bytes(mask.png)
    assert mask.info.size == area.size == (10, 20)
    assert mask.convention == "white" and not mask.empty
    # ...is the right-hand band once upright (turned 90° clockwise).
    assert area.getpixel((9, 10)) == 255
    assert area.getpixel((2, 10)) == 78


@pytest.mark.parametrize("convention", ["white", "transparent"])
def test_a_feathered_mask_keeps_its_soft_edge(convention: str) -> None:
    # 0 (keep) to 255 (change), left to right.
    ramp = Image.new("L", (256, 4))
    ramp.putdata([x for _ in range(4) for x in range(256)])
    if convention == "white":
        data = encoded(ramp)
    else:
        rgba = Image.new("RGBA", ramp.size, (0, 0, 0, 255))
        rgba.putalpha(ImageOps.invert(ramp))
        data = encoded(rgba)
    mask = imaging.canonical_mask(data, max_pixels=LIMIT)
    area = open_bytes(mask.png)
    assert mask.convention == convention
    assert [area.getpixel((x, 1)) for x in (0, 64, 128, 200, 255)] == [0, 64, 128, 200, 255]
    alpha = open_bytes(imaging.mask_to_alpha(mask.png)).getchannel("A")
    assert [alpha.getpixel((x, 1)) for x in (0, 128, 255)] == [255, 127, 0]


def test_a_converted_cmyk_image_does_not_carry_the_cmyk_profile() -> None:
    cmyk = Image.new("CMYK", (8, 8), (0, 0, 0, 0))
    stored = open_bytes(prepare(encoded(cmyk, "JPEG", icc_profile=cmyk_profile())).data)
    profile = stored.info.get("icc_profile")
    if profile:
        described = ImageCms.ImageCmsProfile(io.BytesIO(profile)).profile
        assert described.xcolor_space.strip() == "RGB"


# --- Results: stored as received, checked without a full decode -----------------------


def noisy(image_format: str, side: int = 256) -> bytes:
    """Noise, so that the compressed stream spans the whole file."""
    return encoded(
        Image.frombytes("RGB", (side, side), bytes(range(256)) * (side * side * 3 // 256)),
        image_format,
    )


def flip_a_byte_in_the_middle(data: bytes) -> bytes:
    middle = len(data) // 2
    return data[:middle] + bytes([data[middle] ^ 0xFF]) + data[middle + 1 :]


@pytest.mark.parametrize("image_format", ["PNG", "JPEG", "WEBP"])
def test_a_plain_result_is_kept_byte_for_byte(image_format: str) -> None:
    original = noisy(image_format)
    prepared = prepare(original)
    assert prepared.data == original
    assert (prepared.info.format, prepared.info.size) == (image_format, (256, 256))


@pytest.mark.parametrize("image_format", ["PNG", "JPEG", "WEBP"])
def test_a_cut_off_result_is_refused(image_format: str) -> None:
    original = noisy(image_format)
    # A cut WebP is already refused by its header (its size is in it).
    with pytest.raises(imaging.ImageRejectedError, match=r"damaged or incomplete|not a PNG"):
        prepare(original[: len(original) * 2 // 3])


def test_a_png_result_with_a_corrupted_byte_is_refused() -> None:
    with pytest.raises(imaging.ImageRejectedError, match="damaged or incomplete"):
        prepare(flip_a_byte_in_the_middle(noisy("PNG")))


@pytest.fixture
def decoded_sizes(monkeypatch: Any) -> list[tuple[int, int]]:
    """The size of every image Pillow decodes pixels of, as it decodes it."""
    sizes: list[tuple[int, int]] = []
    full_load = ImageFile.ImageFile.load

    def load(self: ImageFile.ImageFile) -> Any:
        sizes.append(self.size)
        return full_load(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", load)
    return sizes


def test_a_plain_result_is_checked_without_decoding_every_pixel(
    decoded_sizes: list[tuple[int, int]],
) -> None:
    """A full decode of a 1024² result cost ~16 ms on the way to the user."""
    prepare(noisy("PNG"))
    assert decoded_sizes == []
    prepare(noisy("JPEG"))
    assert decoded_sizes == [(32, 32)]


def test_a_plain_jpeg_upload_is_checked_and_thumbnailed_from_a_smaller_decode(
    decoded_sizes: list[tuple[int, int]],
) -> None:
    """A 12 MP photo decoded in full took ~120 ms of the upload; its
    thumbnail needs a quarter of that resolution at most."""
    original = encoded(quadrant_picture(2048, 1536), "JPEG", quality=90)
    prepared = prepare(original, thumbnail_size=384)
    assert prepared.data == original
    assert prepared.info.size == (2048, 1536)
    assert decoded_sizes[0] == (512, 384)
    assert prepared.thumbnail is not None
    thumbnail = open_bytes(prepared.thumbnail)
    assert thumbnail.size == (384, 288)
    assert close_to(quadrant_colours(thumbnail), QUADRANTS, 12)


def test_a_cut_off_jpeg_upload_is_refused() -> None:
    original = encoded(quadrant_picture(1024, 768), "JPEG", quality=90)
    with pytest.raises(imaging.ImageRejectedError, match="damaged or incomplete"):
        prepare(original[: len(original) // 2], thumbnail_size=384)
