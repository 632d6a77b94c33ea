"""The imagerouter kind against a strict fake ImageRouter over real HTTP."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest

from editor.models import ImageModel, ImageRole, Job, JobStatus
from editor.providers import imagerouter
from tests.factories import make_job
from tests.fakes.common import API_KEY, json_reply, spaces_then
from tests.fakes.imagerouter import ImageRouterFake
from tests.images import image_bytes, mask_bytes, open_bytes
from tests.providers.conftest import assert_key_hidden, model_of, provider_on, run
from tests.providers.fault_suite import *  # noqa: F403  (the shared fault tests)

GPT = "openai/gpt-image-1"


@pytest.fixture
def fake() -> Iterator[ImageRouterFake]:
    server = ImageRouterFake()
    with server.running():
        yield server


@pytest.fixture
def provider(fake: ImageRouterFake, db: None) -> Any:
    return provider_on(kind="imagerouter", base_url=fake.base_url + "/v1")


@pytest.fixture
def model(provider: Any) -> ImageModel:
    return model_of(provider, GPT)


@pytest.fixture
def paid_path() -> str:
    return "/openai/images/edits"


@pytest.fixture
def new_job(model: ImageModel) -> Callable[[Any], Job]:
    return lambda user: make_job(user=user, model=model, images=[image_bytes(24, 24)])


@pytest.fixture
def url_answer() -> Callable[[list[str]], Any]:
    return lambda urls: spaces_then({"created": 1, "data": [{"url": url} for url in urls]})


def error_after_spaces(message: str) -> Any:
    return spaces_then(
        {"error": {"message": message, "type": "provider_error", "code": 500}}, spaces=5
    )


def test_models_come_from_the_models_listing(provider: Any) -> None:
    models = {m.model_id: m for m in ImageModel.objects.filter(provider=provider)}
    assert set(models) == {
        GPT,
        "google/gemini-2.5-flash-image",
        "black-forest-labs/FLUX-1-schnell",
        "test/test",
    }  # the video model is left out
    gpt = models[GPT]
    assert (gpt.can_edit, gpt.supports_mask, gpt.max_images) == (True, True, 16)
    assert gpt.parameters["quality"]["choices"] == ["auto", "low", "medium", "high"]
    assert gpt.parameters["size"]["choices"] == ["auto", "1024x1024", "1536x1024", "1024x1536"]
    assert "n" in gpt.parameters
    gemini = models["google/gemini-2.5-flash-image"]
    assert (gemini.can_edit, gemini.supports_mask) == (True, False)
    assert "quality" not in gemini.parameters
    flux = models["black-forest-labs/FLUX-1-schnell"]
    assert (flux.can_edit, flux.can_generate) == (False, True)
    # Read into the one shape the estimator knows.
    assert flux.pricing == {"per_image": "0.0013"}
    gpt = models["openai/gpt-image-1"]
    assert gpt.pricing == {"per_image_range": {"min": "0.011", "average": "0.167", "max": "0.25"}}


def test_an_edit_with_n_makes_n_calls_with_every_image_and_the_mask(
    fake: ImageRouterFake, model: ImageModel, alice: Any, alice_client: Any
) -> None:
    inputs = [image_bytes(40, 30), image_bytes(16, 16, image_format="WEBP")]
    job = make_job(
        user=alice,
        model=model,
        images=inputs,
        mask=mask_bytes(40, 30, box=(0, 0, 20, 15)),
        params={"n": 3, "quality": "low"},
    )
    job = run(job)
    assert job.status == JobStatus.SUCCEEDED, job.error_message
    assert fake.rejections == []
    calls = fake.paid_calls("/openai/images/edits")
    assert len(calls) == 3
    for call in calls:
        fields = call.multipart()
        assert "n" not in fields
        assert [data for _, data in fields["image[]"]] == inputs
        assert fields["response_format"][0][1] == b"b64_ephemeral"
        assert fields["quality"][0][1] == b"low"
        assert call.headers["authorization"] == f"Bearer {API_KEY}"
    mask = open_bytes(calls[0].multipart()["mask[]"][0][1])
    assert mask.size == (40, 30) and mask.getchannel("A").getpixel((5, 5)) == 0
    assert job.images.filter(role=ImageRole.RESULT).count() == 3
    assert job.cost == Decimal("0.501")  # three calls at the router's 0.167 each
    assert job.usage == {"calls": 3, "latency_ms": [2345, 2345, 2345]}
    with job.images.get(role=ImageRole.SENT_MASK).file.open("rb") as handle:
        assert handle.read() == calls[0].multipart()["mask[]"][0][1]
    assert_key_hidden(job, alice_client)


def test_a_generation_posts_json_without_n(
    fake: ImageRouterFake, provider: Any, alice: Any
) -> None:
    job = make_job(
        user=alice,
        model=model_of(provider, "black-forest-labs/FLUX-1-schnell"),
        images=[],
        prompt="a kite",
        params={"n": 2, "size": "512x512"},
    )
    job = run(job)
    assert job.status == JobStatus.SUCCEEDED, job.error_message
    calls = fake.paid_calls("/openai/images/generations")
    assert [json.loads(call.body) for call in calls] == [
        {
            "prompt": "a kite",
            "model": "black-forest-labs/FLUX-1-schnell",
            "response_format": "b64_ephemeral",
            "size": "512x512",
        }
    ] * 2
    assert job.images.filter(role=ImageRole.RESULT).count() == 2


def test_an_error_after_200_and_spaces_fails_the_job_with_its_message(
    fake: ImageRouterFake, model: ImageModel, alice: Any, alice_client: Any
) -> None:
    fake.then(error_after_spaces("Upstream provider failed: content policy"))
    job = run(make_job(user=alice, model=model, images=[image_bytes()]))
    assert job.status == JobStatus.FAILED
    assert "Upstream provider failed: content policy" in job.error_message
    assert len(fake.paid_calls("/openai/images/edits")) == 1
    assert "content policy" in alice_client.get(f"/jobs/{job.pk}/").content.decode()


def test_a_failed_later_call_keeps_the_paid_results_and_says_what_happened(
    fake: ImageRouterFake, model: ImageModel, alice: Any
) -> None:
    fake.then(
        lambda request: fake.serve(request),
        error_after_spaces("Upstream timed out"),
    )
    job = run(make_job(user=alice, model=model, images=[image_bytes()], params={"n": 3}))
    assert job.status == JobStatus.SUCCEEDED
    assert job.images.filter(role=ImageRole.RESULT).count() == 1
    assert len(fake.paid_calls("/openai/images/edits")) == 2  # stopped after the failure
    assert "Only 1 of 3 images were made" in job.notices[0]
    assert "Upstream timed out" in job.notices[0]
    assert job.cost == Decimal("0.167")  # the one call that made an image


def test_a_non_openai_model_gets_its_mask_white_on_black(db: None) -> None:
    from editor.providers.base import ImageRequest, SourceImage

    request = ImageRequest(
        model_id="some/inpainter",
        prompt="x",
        params={},
        images=(SourceImage(data=image_bytes(20, 10), width=20, height=10, format="PNG"),),
        mask=mask_bytes(20, 10, box=(0, 0, 5, 5)),
    )
    adapter = imagerouter.ImageRouterAdapter.__new__(imagerouter.ImageRouterAdapter)
    mask = open_bytes(adapter._mask(request) or b"")
    assert mask.mode == "RGB"
    assert mask.getpixel((1, 1)) == (255, 255, 255)
    assert mask.getpixel((15, 8)) == (0, 0, 0)


def test_an_unreachable_models_listing_fails_the_sync_readably(db: None) -> None:
    from editor import catalog

    with pytest.raises(Exception) as caught:
        catalog.provider_create(
            name="ir", kind="imagerouter", base_url="http://127.0.0.1:9/v1", api_key=API_KEY
        )
    assert "Could not connect" in str(caught.value)
    assert API_KEY not in str(caught.value)


def test_a_refusal_before_running_keeps_its_status_and_message(
    fake: ImageRouterFake, model: ImageModel, alice: Any
) -> None:
    fake.then(json_reply({"error": {"message": "Insufficient credits", "code": 402}}, status=402))
    job = run(make_job(user=alice, model=model, images=[image_bytes()]))
    assert job.status == JobStatus.FAILED
    assert "HTTP 402" in job.error_message and "Insufficient credits" in job.error_message
