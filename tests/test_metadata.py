"""What a provider receives of a photo: the picture and its colour profile,
never where, when or with what it was taken."""

from __future__ import annotations

import io
from typing import Any

import pytest
from PIL import Image, ImageCms, PngImagePlugin

from editor.metadata import without_metadata
from editor.models import ImageModel, ImageRole, JobStatus
from tests.factories import make_job
from tests.fakes.openai import OpenAIFake
from tests.providers.conftest import run

GPS_IFD = 0x8825
MAKE = 0x010F
SERIAL = 0xA431
SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def phone_exif() -> Image.Exif:
    exif = Image.Exif()
    exif[MAKE] = "PhoneMaker"
    exif[SERIAL] = "SN-0042-SECRET"
    exif[GPS_IFD] = {1: "N", 2: (48.0, 51.0, 24.0), 3: "E", 4: (2.0, 21.0, 7.0)}
    return exif


def noise(size: tuple[int, int] = (64, 48)) -> Image.Image:
    return Image.effect_noise(size, 60).convert("RGB")


def saved(image: Image.Image, image_format: str, **options: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=image_format, **options)
    return buffer.getvalue()


def pixels(data: bytes) -> bytes:
    with Image.open(io.BytesIO(data)) as image:
        return image.convert("RGB").tobytes()


def says_nothing_of_the_phone(data: bytes) -> None:
    for secret in (b"PhoneMaker", b"SN-0042-SECRET", b"Exif\x00\x00", b"48.85", b"GPS"):
        assert secret not in data
    with Image.open(io.BytesIO(data)) as image:
        assert dict(image.getexif()) == {}
        assert image.info.get("icc_profile") == SRGB


def jpeg_segment(marker: int, payload: bytes) -> bytes:
    return bytes([0xFF, marker]) + (len(payload) + 2).to_bytes(2, "big") + payload


@pytest.mark.parametrize("progressive", [False, True])
def test_a_phone_jpeg_loses_its_exif_and_keeps_its_picture_and_profile(progressive: bool) -> None:
    photo = saved(
        noise(),
        "JPEG",
        exif=phone_exif(),
        icc_profile=SRGB,
        progressive=progressive,
        quality=90,
    )
    assert b"PhoneMaker" in photo
    picture = pixels(photo)
    # As phones write them: XMP and a comment too, and a second picture (a
    # depth or gain map, with its own EXIF) after the first, listed by MPF.
    xmp = jpeg_segment(0xE1, b"http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta>GPS 48.85</x:xmpmeta>")
    mpf = jpeg_segment(0xE2, b"MPF\x00II*\x00" + bytes(16))
    comment = jpeg_segment(0xFE, b"taken at home, 48.85 N")
    photo = photo[:2] + xmp + mpf + comment + photo[2:]
    trailer = saved(noise((8, 8)), "JPEG", exif=phone_exif())
    sent = without_metadata(photo + trailer, image_format="JPEG")
    says_nothing_of_the_phone(sent)
    assert b"MPF\x00" not in sent
    assert sent.endswith(b"\xff\xd9")
    # The compressed picture itself is copied, not re-encoded.
    assert pixels(sent) == picture
    assert sent[-1000:] == photo[-1000:]


def test_a_png_loses_its_text_exif_and_time_and_keeps_its_profile() -> None:
    info = PngImagePlugin.PngInfo()
    info.add_text("Location", "48.85 N, 2.35 E")
    info.add_itxt("Camera", "PhoneMaker SN-0042-SECRET")
    image = noise().convert("RGBA")
    image.putpixel((0, 0), (10, 20, 30, 0))
    original = saved(image, "PNG", pnginfo=info, exif=phone_exif(), icc_profile=SRGB)
    sent = without_metadata(original, image_format="PNG")
    says_nothing_of_the_phone(sent)
    with Image.open(io.BytesIO(sent)) as opened:
        assert "Location" not in opened.info and "Camera" not in opened.info
        assert opened.mode == "RGBA"
        assert opened.tobytes() == image.tobytes()


def test_a_webp_loses_its_exif_with_its_flag_and_keeps_its_profile() -> None:
    image = noise()
    original = saved(image, "WEBP", exif=phone_exif(), icc_profile=SRGB, lossless=True)
    sent = without_metadata(original, image_format="WEBP")
    says_nothing_of_the_phone(sent)
    assert int.from_bytes(sent[4:8], "little") == len(sent) - 8
    assert pixels(sent) == image.tobytes()


@pytest.mark.parametrize("image_format", ["JPEG", "PNG", "WEBP"])
def test_a_file_without_metadata_is_sent_byte_for_byte(image_format: str) -> None:
    plain = saved(noise(), image_format)
    assert without_metadata(plain, image_format=image_format) == plain


@pytest.mark.parametrize(
    ("data", "image_format"),
    [
        (b"\xff\xd8\xff\xe1\xff\xff", "JPEG"),
        (b"\xff\xd8\x00garbage", "JPEG"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\xff\xffIHDR", "PNG"),
        (b"RIFF\x10\x00\x00\x00WEBPVP8X\xff\xff\xff\x00", "WEBP"),
        (b"not an image at all", "JPEG"),
    ],
)
def test_a_file_whose_structure_is_broken_is_left_as_it_is(data: bytes, image_format: str) -> None:
    assert without_metadata(data, image_format=image_format) == data


def test_the_provider_gets_the_photo_without_its_gps_and_the_owner_keeps_it_whole(
    openai_model: tuple[OpenAIFake, ImageModel], alice: Any
) -> None:
    fake, model = openai_model
    photo = saved(noise(), "JPEG", exif=phone_exif(), icc_profile=SRGB, quality=90)
    job = run(make_job(user=alice, model=model, images=[photo], params={"n": 1}))
    assert job.status == JobStatus.SUCCEEDED, job.error_message
    (call,) = fake.paid_calls("/images/edits")
    ((_, sent),) = call.multipart()["image[]"]
    says_nothing_of_the_phone(sent)
    assert pixels(sent) == pixels(photo)
    stored = job.images.get(role=ImageRole.INPUT)
    with stored.file.open("rb") as handle:
        assert handle.read() == photo
