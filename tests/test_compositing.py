"""Crop-back, mask leak and fidelity compositing, on images made in memory."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from editor import compositing
from editor.compositing import Box, Placement
from tests.images import open_bytes

BAR = (0, 0, 0, 0)


def png(image: Image.Image, image_format: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=image_format)
    return buffer.getvalue()


def gradient(width: int, height: int) -> Image.Image:
    """A picture where every pixel differs from its neighbours (so shifts show)."""
    image = Image.new("RGB", (width, height))
    image.putdata(
        [
            ((x * 7) % 256, (y * 11) % 256, (x + y) % 256)
            for y in range(height)
            for x in range(width)
        ]
    )
    return image


def mask_of(size: tuple[int, int], box: tuple[int, int, int, int], level: int = 255) -> bytes:
    area = Image.new("L", size, 0)
    area.paste(level, box)
    return png(area)


# --- Frames ----------------------------------------------------------------------


def test_a_frame_inside_the_image_is_read() -> None:
    frame = compositing.parse_frame("256, 0,1024,768", image_size=(1280, 768))
    assert frame == Box(x=256, y=0, width=1024, height=768)
    assert frame.corners == (256, 0, 1280, 768)
    assert str(frame) == "256,0,1024,768"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("256,0,1024", "four whole numbers"),
        ("a,b,c,d", "four whole numbers"),
        ("1.5,0,10,10", "four whole numbers"),
        ("0,0,0,768", "a width and a height"),
        ("-1,0,10,10", "inside the first image (1280×768)"),
        ("300,0,1024,768", "inside the first image (1280×768)"),
        ("0,1,1280,768", "inside the first image"),
    ],
)
def test_a_frame_outside_the_image_or_malformed_is_refused(value: str, message: str) -> None:
    with pytest.raises(
        compositing.FrameError, match=message.replace("(", r"\(").replace(")", r"\)")
    ):
        compositing.parse_frame(value, image_size=(1280, 768))


# --- Crop-back -------------------------------------------------------------------


def padded_answer(picture: Image.Image, side: int, answer_side: int) -> bytes:
    """What a square-only model answers: ``picture`` centred on a square with bars."""
    square = Image.new("RGBA", (side, side), BAR)
    square.paste(
        picture.convert("RGBA"), ((side - picture.width) // 2, (side - picture.height) // 2)
    )
    return png(square.resize((answer_side, answer_side), Image.Resampling.NEAREST))


def test_a_padded_answer_is_cut_back_to_where_the_image_sat() -> None:
    picture = gradient(40, 30)
    placement = Placement(box=Box(0, 5, 40, 30), sent_size=(40, 40))
    finished = compositing.finish_result(
        padded_answer(picture, 40, 80), original=None, mask=None, placement=placement
    )
    assert finished.changed and finished.size == (80, 60) and finished.format == "PNG"
    result = open_bytes(finished.data)
    assert result.size == (80, 60)
    assert result.getchannel("A").getextrema() == (255, 255), "no transparent bar is left"
    assert result.convert("RGB").resize((40, 30), Image.Resampling.NEAREST).tobytes() == (
        picture.tobytes()
    )


def test_an_answer_at_another_scale_is_cut_along_fractional_edges_without_bars() -> None:
    # 1280×768 sent on a 1280 square (top 256), answered at 1024: the picture
    # sits from y = 204.8 to 819.2 of the answer.
    picture = Image.new("RGB", (1280, 768), (200, 40, 40))
    placement = Placement(box=Box(0, 256, 1280, 768), sent_size=(1280, 1280))
    finished = compositing.finish_result(
        padded_answer(picture, 1280, 1024), original=None, mask=None, placement=placement
    )
    result = open_bytes(finished.data).convert("RGBA")
    assert result.size == (1024, 614)
    for y in (0, result.height - 1):
        red, green, blue, alpha = result.getpixel((result.width // 2, y))
        assert alpha >= 200 and red >= 150, f"row {y} is part of a bar: {(red, green, blue, alpha)}"


@pytest.mark.parametrize(
    ("size", "other", "same"),
    [
        ((1024, 614), (1280, 768), True),  # 1024 / 614.4, cut on whole pixels
        ((256, 76), (1000, 300), True),  # two pixels short of 3.33:1 at 256 wide
        ((32, 32), (64, 32), False),
        ((4, 2), (4, 3), False),  # too small for a pixel's slack to mean rounding
        ((1024, 1024), (1536, 1024), False),
    ],
)
def test_answers_cut_on_whole_pixels_keep_their_shape(
    size: tuple[int, int], other: tuple[int, int], same: bool
) -> None:
    assert compositing.same_shape(size, other) is same


def test_an_answer_that_needs_nothing_is_kept_byte_for_byte() -> None:
    raw = png(gradient(20, 10))
    finished = compositing.finish_result(
        raw,
        original=None,
        mask=None,
        placement=Placement(box=Box(0, 0, 20, 20), sent_size=(20, 20)),
    )
    assert finished.data == raw and not finished.changed and finished.leak is None


# --- Leak -------------------------------------------------------------------------


def test_the_leak_counts_protected_pixels_changed_past_codec_noise() -> None:
    original = Image.new("RGB", (10, 10), (100, 100, 100))
    result = original.copy()
    result.paste((103, 100, 100), (0, 0, 10, 2))  # 20 protected pixels moved by 3: changed
    result.paste((102, 98, 100), (0, 2, 10, 4))  # 20 moved by at most 2: codec noise
    result.paste((0, 0, 0), (5, 5, 10, 10))  # inside the mask: not counted
    area = Image.new("L", (10, 10), 0)
    area.paste(255, (5, 5, 10, 10))
    protected = compositing.protected_area(area, frame=None)
    assert compositing.leak_share(original=original, result=result, protected=protected) == (
        pytest.approx(20 / 75)
    )


def test_grey_mask_edges_are_not_protected() -> None:
    area = Image.new("L", (4, 1), 0)
    area.putdata([0, 1, 128, 255])
    assert list(compositing.protected_area(area, frame=None).tobytes()) == [255, 0, 0, 0]


def test_only_the_originals_pixels_are_protected_in_an_extended_canvas() -> None:
    area = Image.new("L", (10, 4), 0)
    protected = compositing.protected_area(area, frame=Box(4, 0, 6, 4))
    assert protected.histogram()[255] == 24
    assert protected.getpixel((3, 0)) == 0 and protected.getpixel((4, 0)) == 255


def test_a_change_of_alpha_alone_is_a_change() -> None:
    original = Image.new("RGBA", (2, 1), (10, 10, 10, 255))
    result = Image.new("RGBA", (2, 1), (10, 10, 10, 0))
    protected = Image.new("L", (2, 1), 255)
    assert compositing.leak_share(original=original, result=result, protected=protected) == 1.0


def test_nothing_protected_measures_nothing() -> None:
    image = Image.new("RGB", (2, 2))
    protected = Image.new("L", (2, 2), 0)
    assert compositing.leak_share(original=image, result=image, protected=protected) is None


@pytest.mark.parametrize(
    ("share", "text"),
    [(1.0, "100 %"), (0.523, "52.3 %"), (0.0, "0 %"), (0.0004, "< 0.1 %"), (0.9996, "> 99.9 %")],
)
def test_a_leak_reads_as_a_percentage(share: float, text: str) -> None:
    assert compositing.format_leak(share) == text


# --- Fidelity ---------------------------------------------------------------------


def test_the_original_is_put_back_outside_the_mask_at_full_resolution() -> None:
    original = gradient(64, 48)
    answer = Image.new("RGBA", (32, 24), (255, 255, 255, 255))  # half size, same shape
    finished = compositing.finish_result(
        png(answer),
        original=png(original),
        mask=mask_of((64, 48), (0, 0, 32, 48)),
        keep_outside_mask=True,
    )
    assert finished.changed and finished.size == (64, 48)
    assert finished.leak == 1.0
    result = open_bytes(finished.data)
    assert result.format == "PNG" and result.size == (64, 48)
    kept = result.convert("RGB").crop((32, 0, 64, 48))
    assert kept.tobytes() == original.crop((32, 0, 64, 48)).tobytes()
    assert result.convert("RGB").getpixel((5, 5)) == (255, 255, 255)


def test_a_feathered_edge_blends_the_two() -> None:
    original = Image.new("RGB", (4, 1), (0, 0, 0))
    area = Image.new("L", (4, 1))
    area.putdata([0, 64, 192, 255])
    finished = compositing.finish_result(
        png(Image.new("RGB", (4, 1), (255, 255, 255))),
        original=png(original),
        mask=png(area),
        keep_outside_mask=True,
    )
    values = list(open_bytes(finished.data).convert("RGB").getchannel("R").tobytes())
    assert values[0] == 0 and values[3] == 255
    assert 55 <= values[1] <= 75 and 180 <= values[2] <= 200


def test_outside_the_frame_the_providers_pixels_stay() -> None:
    # An outpaint: the left 16 columns were added and are not the original's.
    extended = Image.new("RGBA", (48, 24), (0, 0, 0, 0))
    extended.paste(Image.new("RGBA", (32, 24), (200, 40, 40, 255)), (16, 0))
    answer = Image.new("RGBA", (48, 24), (10, 200, 10, 255))
    mask = mask_of((48, 24), (0, 0, 16, 24))
    finished = compositing.finish_result(
        png(answer),
        original=png(extended),
        mask=mask,
        frame=Box(16, 0, 32, 24),
        keep_outside_mask=True,
    )
    result = open_bytes(finished.data).convert("RGBA")
    assert result.getpixel((5, 5)) == (10, 200, 10, 255)
    assert result.getpixel((30, 5)) == (200, 40, 40, 255)
    assert finished.leak == 1.0


def test_without_fidelity_the_answer_is_kept_and_its_leak_measured() -> None:
    original = gradient(16, 16)
    raw = png(original.point(lambda value: value ^ 0x80))
    finished = compositing.finish_result(
        raw, original=png(original), mask=mask_of((16, 16), (0, 0, 8, 8)), keep_outside_mask=False
    )
    assert finished.data == raw and not finished.changed
    assert finished.leak == 1.0


def test_an_answer_of_another_shape_is_left_alone_and_says_why() -> None:
    raw = png(Image.new("RGB", (32, 32)))
    finished = compositing.finish_result(
        raw,
        original=png(gradient(64, 32)),
        mask=mask_of((64, 32), (0, 0, 8, 8)),
        keep_outside_mask=True,
    )
    assert finished.data == raw and not finished.changed and finished.leak is None
    assert "answered 32×32 for a 64×32 image" in finished.notice


def test_the_composite_keeps_the_providers_format() -> None:
    original = Image.new("RGB", (16, 16), (200, 40, 40))
    finished = compositing.finish_result(
        png(Image.new("RGB", (16, 16), (10, 10, 10)), "JPEG"),
        original=png(original),
        mask=mask_of((16, 16), (0, 0, 8, 16)),
        keep_outside_mask=True,
    )
    assert finished.format == "JPEG"
    assert open_bytes(finished.data).format == "JPEG"


def test_an_answer_for_the_centre_square_is_measured_and_kept_against_that_square() -> None:
    # A 60×40 image whose centre square (10..50) was sent; the answer is 80×80.
    original = gradient(60, 40)
    answer = Image.new("RGB", (80, 80), (255, 255, 255))
    placement = Placement(box=Box(0, 0, 40, 40), sent_size=(40, 40), region=Box(10, 0, 40, 40))
    finished = compositing.finish_result(
        png(answer),
        original=png(original),
        mask=mask_of((60, 40), (0, 0, 30, 40)),  # the left half of the image
        placement=placement,
        keep_outside_mask=True,
    )
    assert finished.size == (40, 40) and finished.leak == 1.0
    result = open_bytes(finished.data).convert("RGB")
    # Columns 30..50 of the image (20..40 of the square) are outside the mask.
    assert result.crop((20, 0, 40, 40)).tobytes() == original.crop((30, 0, 50, 40)).tobytes()
    assert result.getpixel((5, 5)) == (255, 255, 255)


def test_a_frame_outside_the_sent_square_protects_nothing_of_it() -> None:
    finished = compositing.finish_result(
        png(Image.new("RGB", (40, 40))),
        original=png(gradient(60, 40)),
        mask=mask_of((60, 40), (50, 0, 60, 40)),
        placement=Placement(box=Box(0, 0, 40, 40), sent_size=(40, 40), region=Box(10, 0, 40, 40)),
        frame=Box(0, 0, 10, 40),
        keep_outside_mask=True,
    )
    assert finished.leak is None
    assert open_bytes(finished.data).convert("RGB").getpixel((20, 20)) == (0, 0, 0)
