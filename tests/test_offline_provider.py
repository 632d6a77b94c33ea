from __future__ import annotations

import pytest
from PIL import ImageChops

from editor.providers.base import ImageRequest, NullObserver, ProviderConfig, SourceImage
from editor.providers.offline import OfflineAdapter, effects_for
from tests.images import image_bytes, mask_bytes, open_bytes


def adapter() -> OfflineAdapter:
    return OfflineAdapter(
        ProviderConfig(
            name="offline", kind="offline", base_url="", api_key="", connect_timeout=1, deadline=1
        )
    )


@pytest.mark.parametrize(
    ("prompt", "effects"),
    [
        ("make it black and white", ["grayscale"]),
        ("Greyscale please", ["grayscale"]),
        ("invert the colours", ["invert"]),
        ("blur the background", ["blur"]),
        ("sharpen it", ["sharpen"]),
        ("old sepia look", ["sepia"]),
        ("brighten it", ["brighten"]),
        ("make it darker", ["darken"]),
        ("rotate it", ["rotate"]),
        ("flip it", ["flip"]),
        ("mirror it", ["mirror"]),
        ("blur then invert", ["blur", "invert"]),
        ("add a dragon", ["tint"]),
    ],
)
def test_it_reads_effects_from_the_prompt(prompt: str, effects: list[str]) -> None:
    assert effects_for(prompt) == effects


def edit(prompt: str, data: bytes, mask: bytes | None = None) -> bytes:
    image = open_bytes(data)
    request = ImageRequest(
        model_id="offline-demo",
        prompt=prompt,
        params={"n": 1},
        images=(
            SourceImage(
                data=data, width=image.width, height=image.height, format=image.format or "PNG"
            ),
        ),
        mask=mask,
    )
    return adapter().edit(request, observer=NullObserver()).images[0].data


def test_grayscale_turns_every_pixel_grey() -> None:
    result = open_bytes(edit("black and white", image_bytes(colour=(200, 40, 40))))
    r, g, b = result.convert("RGB").getpixel((5, 5))
    assert r == g == b


def test_an_unknown_prompt_tints_visibly() -> None:
    before = image_bytes(colour=(100, 100, 100))
    after = open_bytes(edit("add a dragon", before))
    assert after.convert("RGB").getpixel((1, 1)) != (100, 100, 100)


def test_it_keeps_the_input_format() -> None:
    jpeg = image_bytes(image_format="JPEG")
    assert open_bytes(edit("invert", jpeg)).format == "JPEG"


def test_it_changes_only_the_masked_area() -> None:
    before = image_bytes(64, 48, colour=(200, 40, 40))
    mask = mask_bytes(64, 48, box=(0, 0, 32, 48))
    after = open_bytes(edit("invert", before, mask=mask)).convert("RGB")
    assert after.getpixel((5, 5)) == (55, 215, 215)
    assert after.getpixel((50, 5)) == (200, 40, 40)
    untouched = ImageChops.difference(
        after.crop((32, 0, 64, 48)), open_bytes(before).convert("RGB").crop((32, 0, 64, 48))
    )
    assert untouched.getbbox() is None


def test_generation_draws_the_requested_size() -> None:
    request = ImageRequest(
        model_id="offline-demo", prompt="a lighthouse", params={"size": "512x512", "n": 2}
    )
    result = adapter().generate(request, observer=NullObserver())
    assert len(result.images) == 2
    assert open_bytes(result.images[0].data).size == (512, 512)
