"""The dalle2 kind against a strict fake of the classic contract over real HTTP."""

from __future__ import annotations

import io
import json
import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from PIL import Image

from editor.models import ImageModel, ImageRole, Job, JobStatus
from editor.providers import dalle2
from tests.factories import make_job
from tests.fakes.common import json_reply, status_reply
from tests.fakes.dalle2 import Dalle2Fake
from tests.images import image_bytes, mask_bytes, open_bytes
from tests.providers.conftest import assert_key_hidden, model_of, provider_on, run
from tests.providers.fault_suite import *  # noqa: F403  (the shared fault tests)


@pytest.fixture
def fake() -> Iterator[Dalle2Fake]:
    server = Dalle2Fake()
    with server.running():
        yield server


@pytest.fixture
def model(fake: Dalle2Fake, db: None) -> ImageModel:
    return model_of(provider_on(kind="dalle2", base_url=fake.base_url + "/v1"), "dall-e-2")


@pytest.fixture
def paid_path() -> str:
    return "/images/edits"


@pytest.fixture
def new_job(model: ImageModel) -> Callable[[Any], Job]:
    return lambda user: make_job(
        user=user,
        model=model,
        images=[image_bytes(40, 40)],
        mask=mask_bytes(40, 40, box=(0, 0, 9, 9)),
    )


@pytest.fixture
def url_answer() -> Callable[[list[str]], Any]:
    return lambda urls: json_reply({"created": 1, "data": [{"url": url} for url in urls]})


def noisy_png(side: int) -> bytes:
    buffer = io.BytesIO()
    Image.frombytes("RGBA", (side, side), os.urandom(side * side * 4)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_an_edit_pads_a_jpeg_to_a_square_png_and_moves_the_mask_along(
    fake: Dalle2Fake, model: ImageModel, alice: Any, alice_client: Any
) -> None:
    job = make_job(
        user=alice,
        model=model,
        images=[image_bytes(60, 40, image_format="JPEG")],
        mask=mask_bytes(60, 40, box=(0, 0, 10, 10)),
        params={"n": 2, "size": "512x512", "square_mode": "pad"},
        prompt="a red balloon",
    )
    job = run(job)
    assert job.status == JobStatus.SUCCEEDED, job.error_message
    assert fake.rejections == []
    (call,) = fake.paid_calls("/images/edits")
    fields = call.multipart()
    assert set(fields) == {"image", "mask", "model", "prompt", "n", "size", "response_format"}
    assert fields["response_format"][0][1] == b"b64_json"
    assert fake.last_image is not None and fake.last_image.size == (60, 60)
    # The padding is transparent; the picture sits 10 px down.
    assert fake.last_image.getpixel((5, 5))[3] == 0
    assert fake.last_image.getpixel((5, 15))[3] == 255
    mask = fake.last_mask
    assert mask is not None and mask.size == (60, 60)
    assert mask.getchannel("A").getpixel((5, 15)) == 0  # the painted box, moved down
    assert mask.getchannel("A").getpixel((5, 5)) == 255  # the padding is kept
    assert job.images.filter(role=ImageRole.RESULT).count() == 2
    with job.images.get(role=ImageRole.SENT_MASK).file.open("rb") as handle:
        assert handle.read() == fields["mask"][0][1]
    page = alice_client.get(f"/jobs/{job.pk}/").content.decode()
    assert "transparent square (padding)" in page
    assert "Converted from JPEG to PNG" in page
    assert_key_hidden(job, alice_client)


def test_an_edit_can_crop_to_the_centre_square(
    fake: Dalle2Fake, model: ImageModel, alice: Any
) -> None:
    job = run(
        make_job(
            user=alice,
            model=model,
            images=[image_bytes(60, 40)],
            mask=mask_bytes(60, 40, box=(30, 0, 60, 40)),
            params={"square_mode": "crop"},
        )
    )
    assert job.status == JobStatus.SUCCEEDED, job.error_message
    assert fake.last_image is not None and fake.last_image.size == (40, 40)
    assert fake.last_mask is not None
    assert fake.last_mask.getchannel("A").getpixel((25, 5)) == 0
    assert fake.last_mask.getchannel("A").getpixel((5, 5)) == 255
    assert any("centre square" in notice for notice in job.notices)


def test_a_large_image_is_shrunk_under_4_mb(
    fake: Dalle2Fake, model: ImageModel, alice: Any
) -> None:
    big = noisy_png(1100)
    assert len(big) > 4 * 1024 * 1024
    job = run(
        make_job(
            user=alice, model=model, images=[big], mask=mask_bytes(1100, 1100, box=(0, 0, 99, 99))
        )
    )
    assert job.status == JobStatus.SUCCEEDED, job.error_message
    (call,) = fake.paid_calls("/images/edits")
    sent = call.multipart()["image"][0][1]
    assert len(sent) < 4 * 1024 * 1024
    assert open_bytes(sent).size[0] < 1100
    assert any("to stay under 4 MB" in notice for notice in job.notices)


def test_an_opaque_image_without_a_mask_is_refused_before_paying(
    fake: Dalle2Fake, model: ImageModel, alice: Any
) -> None:
    job = run(make_job(user=alice, model=model, images=[image_bytes(40, 40)]))
    assert job.status == JobStatus.FAILED
    assert job.error_code == "mask_required"
    assert "paint a mask" in job.error_message
    assert fake.paid_calls("/images/edits") == []


def test_a_transparent_png_without_a_mask_is_sent_as_its_own_mask(
    fake: Dalle2Fake, model: ImageModel, alice: Any
) -> None:
    picture = Image.new("RGBA", (32, 32), (255, 0, 0, 255))
    picture.paste((0, 0, 0, 0), (0, 0, 8, 8))
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    job = run(make_job(user=alice, model=model, images=[buffer.getvalue()]))
    assert job.status == JobStatus.SUCCEEDED, job.error_message
    (call,) = fake.paid_calls("/images/edits")
    assert "mask" not in call.multipart()
    assert call.multipart()["image"][0][1] == buffer.getvalue()  # sent as it was
    assert not job.images.filter(role=ImageRole.SENT_MASK).exists()


def test_a_generation_posts_json(fake: Dalle2Fake, model: ImageModel, alice: Any) -> None:
    job = run(
        make_job(
            user=alice, model=model, images=[], prompt="a fox", params={"n": 1, "size": "256x256"}
        )
    )
    assert job.status == JobStatus.SUCCEEDED, job.error_message
    (call,) = fake.paid_calls("/images/generations")
    assert json.loads(call.body) == {
        "model": "dall-e-2",
        "prompt": "a fox",
        "n": 1,
        "size": "256x256",
        "response_format": "b64_json",
    }


def test_a_prompt_over_1000_characters_is_refused_before_paying(
    fake: Dalle2Fake, model: ImageModel, alice: Any
) -> None:
    job = run(make_job(user=alice, model=model, images=[], prompt="x" * 1001))
    assert job.error_code == "not_supported"
    assert "prompts of at most 1000" in job.error_message
    assert "nothing was sent" in job.error_message
    assert fake.paid_calls("/images/generations") == []


def test_url_answers_are_downloaded_without_the_key_and_their_deadline_kept(
    fake: Dalle2Fake, model: ImageModel, alice: Any, monkeypatch: Any
) -> None:
    monkeypatch.setattr(dalle2, "RESPONSE_FORMAT", "url")
    job = run(make_job(user=alice, model=model, images=[], prompt="a fox", params={"n": 2}))
    assert job.status == JobStatus.SUCCEEDED, job.error_message
    assert fake.rejections == []  # the file host refuses requests carrying the key
    assert len(fake.calls("/files/1.png")) == 1
    assert job.result_deadline is not None
    assert job.images.filter(role=ImageRole.RESULT).count() == 2


def test_an_expired_url_fails_readably_without_a_second_paid_call(
    fake: Dalle2Fake, model: ImageModel, alice: Any, monkeypatch: Any
) -> None:
    monkeypatch.setattr(dalle2, "RESPONSE_FORMAT", "url")
    fake.url_lifetime = -1
    job = run(make_job(user=alice, model=model, images=[], prompt="a fox"))
    assert job.status == JobStatus.FAILED
    assert job.error_code == "download_failed"
    assert "expired" in job.error_message
    assert len(fake.paid_calls("/images/generations")) == 1


def test_a_transient_failure_on_the_result_url_is_retried(
    fake: Dalle2Fake, model: ImageModel, alice: Any, monkeypatch: Any
) -> None:
    monkeypatch.setattr(dalle2, "RESPONSE_FORMAT", "url")
    fake.then(lambda request: fake.serve(request), status_reply(503))
    job = run(make_job(user=alice, model=model, images=[], prompt="a fox"))
    assert job.status == JobStatus.SUCCEEDED, job.error_message
    assert len(fake.paid_calls("/images/generations")) == 1
    assert len(fake.calls("/files/1.png")) == 2
