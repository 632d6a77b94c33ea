"""The nanogpt kind against a strict fake JSON router over real HTTP."""

from __future__ import annotations

import base64
import io
import json
import os
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
from PIL import Image

from editor.models import ImageModel, ImageRole, Job, JobStatus
from editor.providers import nanogpt
from tests.factories import make_job
from tests.fakes.common import json_reply
from tests.fakes.nanogpt import NanoGPTFake
from tests.images import image_bytes, mask_bytes, open_bytes
from tests.providers.conftest import assert_key_hidden, model_of, provider_on, run
from tests.providers.fault_suite import *  # noqa: F403  (the shared fault tests)


@pytest.fixture
def fake() -> Iterator[NanoGPTFake]:
    server = NanoGPTFake()
    with server.running():
        yield server


@pytest.fixture
def provider(fake: NanoGPTFake, db: None) -> Any:
    return provider_on(kind="nanogpt", base_url=fake.base_url + "/v1")


@pytest.fixture
def model(provider: Any) -> ImageModel:
    return model_of(provider, "gpt-image-1")


@pytest.fixture
def paid_path() -> str:
    return "/images/generations"


@pytest.fixture
def new_job(model: ImageModel) -> Callable[[Any], Job]:
    return lambda user: make_job(user=user, model=model, images=[image_bytes(24, 24)])


@pytest.fixture
def url_answer() -> Callable[[list[str]], Any]:
    return lambda urls: json_reply({"created": 1, "data": [{"url": url} for url in urls]})


def decoded(data_url: str) -> bytes:
    return base64.b64decode(data_url.partition(",")[2])


def test_an_edit_sends_images_as_data_urls_and_the_mask_white_on_black(
    fake: NanoGPTFake, model: ImageModel, alice: Any, alice_client: Any
) -> None:
    inputs = [image_bytes(40, 30), image_bytes(20, 20, image_format="JPEG")]
    job = make_job(
        user=alice,
        model=model,
        images=inputs,
        mask=mask_bytes(40, 30, box=(0, 0, 10, 10), convention="transparent"),
        params={"n": 2, "size": "512x512"},
    )
    job = run(job)
    assert job.status == JobStatus.SUCCEEDED, job.error_message
    assert fake.rejections == []
    (call,) = fake.paid_calls("/images/generations")
    assert call.content_type.startswith("application/json")
    body = json.loads(call.body)
    assert [decoded(url) for url in body["imageDataUrls"]] == inputs
    assert body["imageDataUrls"][1].startswith("data:image/jpeg;base64,")
    assert (body["n"], body["size"], body["response_format"]) == (2, "512x512", "b64_json")
    mask = open_bytes(decoded(body["maskDataUrl"]))
    assert mask.size == (40, 30)
    assert mask.convert("L").getpixel((5, 5)) == 255  # white = change
    assert mask.convert("L").getpixel((30, 20)) == 0
    with job.images.get(role=ImageRole.SENT_MASK).file.open("rb") as handle:
        assert handle.read() == decoded(body["maskDataUrl"])
    assert job.images.filter(role=ImageRole.RESULT).count() == 2
    assert job.cost == Decimal("0.032")  # 2 x 512x512 at the listed $0.016
    assert job.usage == {"remaining_balance": 9.97}
    assert_key_hidden(job, alice_client)


def test_one_image_goes_as_image_data_url_with_the_extra_parameters(
    fake: NanoGPTFake, provider: Any, alice: Any
) -> None:
    job = make_job(
        user=alice,
        model=model_of(provider, "flux-kontext"),
        images=[image_bytes(32, 32)],
        params={
            "n": 1,
            "guidance_scale": 7.5,
            "num_inference_steps": 30,
            "seed": 42,
            "kontext_max_mode": "true",
        },
    )
    job = run(job)
    assert job.status == JobStatus.SUCCEEDED, job.error_message
    body = json.loads(fake.paid_calls("/images/generations")[0].body)
    assert "imageDataUrls" not in body and body["imageDataUrl"].startswith("data:image/png")
    assert (body["guidance_scale"], body["num_inference_steps"], body["seed"]) == (7.5, 30, 42)
    assert body["kontext_max_mode"] is True


def test_strength_is_sent_for_image_to_image(fake: NanoGPTFake, provider: Any, alice: Any) -> None:
    job = run(
        make_job(
            user=alice,
            model=model_of(provider, "flux-dev"),
            images=[image_bytes(32, 32)],
            params={"strength": 0.35},
        )
    )
    assert job.status == JobStatus.SUCCEEDED, job.error_message
    assert json.loads(fake.paid_calls("/images/generations")[0].body)["strength"] == 0.35


def test_an_image_over_4_mb_encoded_is_shrunk_and_the_mask_follows(
    fake: NanoGPTFake, model: ImageModel, alice: Any
) -> None:
    side = 1100
    buffer = io.BytesIO()
    Image.frombytes("RGBA", (side, side), os.urandom(side * side * 4)).save(buffer, format="PNG")
    job = run(
        make_job(
            user=alice,
            model=model,
            images=[buffer.getvalue()],
            mask=mask_bytes(side, side, box=(0, 0, 500, 500)),
        )
    )
    assert job.status == JobStatus.SUCCEEDED, job.error_message
    body = json.loads(fake.paid_calls("/images/generations")[0].body)
    assert len(body["imageDataUrl"]) <= 4 * 1024 * 1024
    sent = open_bytes(decoded(body["imageDataUrl"]))
    assert sent.size[0] < side
    assert open_bytes(decoded(body["maskDataUrl"])).size == sent.size
    assert any("shrunk" in notice for notice in job.notices)


def test_a_large_opaque_image_is_re_encoded_first(monkeypatch: Any) -> None:
    side = 900
    buffer = io.BytesIO()
    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(buffer, format="PNG")
    monkeypatch.setattr(nanogpt, "MAX_DATA_URL", 3 * 1024 * 1024)
    from editor import imaging

    fitted = imaging.fit_bytes(buffer.getvalue(), max_bytes=nanogpt.raw_limit())
    assert fitted.format == "JPEG" and fitted.size == (side, side)
    assert fitted.change in ("reencoded", "shrunk")


def test_a_generation_posts_json_only(fake: NanoGPTFake, model: ImageModel, alice: Any) -> None:
    job = run(make_job(user=alice, model=model, images=[], prompt="a moth"))
    assert job.status == JobStatus.SUCCEEDED, job.error_message
    body = json.loads(fake.paid_calls("/images/generations")[0].body)
    assert "imageDataUrl" not in body and "maskDataUrl" not in body


def test_a_b64_answer_to_a_url_request_is_stored(
    fake: NanoGPTFake, model: ImageModel, alice: Any, monkeypatch: Any
) -> None:
    monkeypatch.setattr(nanogpt, "RESPONSE_FORMAT", "url")
    fake.b64_when_url_asked = True
    job = run(make_job(user=alice, model=model, images=[], prompt="a moth"))
    assert job.status == JobStatus.SUCCEEDED, job.error_message
    assert json.loads(fake.paid_calls("/images/generations")[0].body)["response_format"] == "url"
    assert job.result_deadline is None  # nothing to download


def test_a_url_answer_is_downloaded_and_its_deadline_recorded(
    fake: NanoGPTFake, model: ImageModel, alice: Any, monkeypatch: Any
) -> None:
    monkeypatch.setattr(nanogpt, "RESPONSE_FORMAT", "url")
    job = run(make_job(user=alice, model=model, images=[], prompt="a moth"))
    assert job.status == JobStatus.SUCCEEDED, job.error_message
    assert fake.rejections == []
    assert len(fake.calls("/files/1.png")) == 1
    assert job.result_deadline is not None
