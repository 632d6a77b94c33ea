"""The openai kind against a strict fake gpt-image server over real HTTP."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from editor.models import ImageModel, ImageRole, JobStatus
from editor.providers import http, results
from editor.providers.base import ImageRequest, ProviderConfig, ProviderError, SourceImage
from editor.providers.openai import OpenAIAdapter, wire_parameters
from tests.factories import make_job
from tests.fakes.common import (
    API_KEY,
    dribble,
    empty_data,
    html_page,
    json_reply,
    malformed_json,
    moderation_refusal,
    not_an_image,
    silent_after_request,
    status_reply,
)
from tests.fakes.openai import OpenAIFake
from tests.images import image_bytes, mask_bytes, open_bytes
from tests.providers.conftest import assert_key_hidden, model_of, provider_on, run


@pytest.fixture
def fake() -> Iterator[OpenAIFake]:
    server = OpenAIFake()
    with server.running():
        yield server


@pytest.fixture
def provider(fake: OpenAIFake, db: None) -> Any:
    return provider_on(kind="openai", base_url=fake.base_url + "/v1")


@pytest.fixture
def model(provider: Any) -> ImageModel:
    return model_of(provider, "gpt-image-1")


class RecordingObserver:
    def __init__(self) -> None:
        self.events: list[str] = []
        self.payloads: list[Any] = []

    def stage(self, stage: str) -> None:
        self.events.append(stage)

    def response_received(self, payload: Any) -> None:
        self.events.append("response")
        self.payloads.append(payload)

    def decoded_image(self, encoded: str) -> None:
        return None


def config_for(fake: OpenAIFake, *, deadline: float = 5.0) -> ProviderConfig:
    return ProviderConfig(
        name="openai-test",
        kind="openai",
        base_url=fake.base_url + "/v1",
        api_key=API_KEY,
        connect_timeout=2,
        deadline=deadline,
    )


def edit_request(**params: Any) -> ImageRequest:
    data = image_bytes(40, 30)
    return ImageRequest(
        model_id="gpt-image-1",
        prompt="make it blue",
        params=params or {"n": 1},
        images=(SourceImage(data=data, width=40, height=30, format="PNG"),),
    )


# --- Edits and generations ------------------------------------------------------


def test_an_edit_sends_every_image_and_the_mask_in_openai_convention(
    fake: OpenAIFake, model: ImageModel, alice: Any, alice_client: Any
) -> None:
    inputs = [
        image_bytes(64, 48, colour=(255, 0, 0)),
        image_bytes(20, 20, colour=(0, 255, 0), image_format="JPEG"),
        image_bytes(30, 10, colour=(0, 0, 255), image_format="WEBP"),
    ]
    job = make_job(
        user=alice,
        images=inputs,
        mask=mask_bytes(64, 48, box=(10, 10, 30, 20)),
        model=model,
        params={"n": 2, "quality": "high", "input_fidelity": "high", "size": "auto"},
    )
    job = run(job)
    assert job.status == JobStatus.SUCCEEDED, job.error_message
    assert fake.rejections == []
    (call,) = fake.paid_calls("/images/edits")
    fields = call.multipart()
    assert [data for _, data in fields["image[]"]] == inputs
    assert [name for name, _ in fields["image[]"]] == ["image_1.png", "image_2.jpg", "image_3.webp"]
    assert {
        name: parts[0][1].decode()
        for name, parts in fields.items()
        if name not in ("image[]", "mask")
    } == {
        "model": "gpt-image-1",
        "prompt": "make it black and white",
        "n": "2",
        "quality": "high",
        "input_fidelity": "high",
        "size": "auto",
    }
    # alpha == 0 exactly inside the painted box, at the first image's size.
    sent = open_bytes(fields["mask"][0][1])
    assert sent.size == (64, 48)
    assert sent.getchannel("A").getpixel((15, 15)) == 0
    assert sent.getchannel("A").getpixel((40, 40)) == 255
    assert job.images.filter(role=ImageRole.RESULT).count() == 2
    shown = job.images.get(role=ImageRole.SENT_MASK)
    with shown.file.open("rb") as handle:
        assert handle.read() == fields["mask"][0][1]
    # 3 images at high fidelity, 6 text tokens, two high-quality 1024x1024 results.
    assert job.usage["input_tokens_details"] == {"image_tokens": 3 * 4548, "text_tokens": 6}
    assert job.usage["output_tokens"] == 2 * 4160
    # No cost in the answer: computed from the usage at gpt-image-1's token prices
    # ($5 text in, $10 image in, $40 image out per million).
    assert job.cost == Decimal("0.46927")
    assert job.cost_source == "usage"
    assert "$0.47" in alice_client.get(f"/jobs/{job.pk}/").content.decode()
    assert call.headers["authorization"] == f"Bearer {API_KEY}"
    assert_key_hidden(job, alice_client)


def test_a_generation_posts_json_and_stores_the_b64_result(
    fake: OpenAIFake, provider: Any, alice: Any
) -> None:
    job = make_job(
        user=alice,
        images=[],
        model=model_of(provider, "gpt-image-1-mini"),
        prompt="a lighthouse at dusk",
        params={"n": 1, "size": "1536x1024", "background": "transparent", "output_format": "png"},
    )
    job = run(job)
    assert job.status == JobStatus.SUCCEEDED, job.error_message
    (call,) = fake.paid_calls("/images/generations")
    assert call.content_type.startswith("application/json")
    assert json.loads(call.body) == {
        "model": "gpt-image-1-mini",
        "prompt": "a lighthouse at dusk",
        "n": 1,
        "size": "1536x1024",
        "background": "transparent",
        "output_format": "png",
    }
    result = job.images.get(role=ImageRole.RESULT)
    # The provider's PNG is stored as received, transparency and all.
    assert result.format == "PNG"
    # Medium (auto) quality at 1536x1024: OpenAI's 1056 square tokens scaled by area.
    assert job.usage["output_tokens"] == 1584


def test_the_mini_model_never_gets_input_fidelity_and_png_never_gets_compression() -> None:
    request = ImageRequest(
        model_id="gpt-image-1-mini",
        prompt="x",
        params={"input_fidelity": "high", "output_format": "png", "output_compression": 50},
    )
    assert wire_parameters(request, edit=True) == {"output_format": "png"}
    lossy = ImageRequest(
        model_id="gpt-image-1",
        prompt="x",
        params={"output_format": "webp", "output_compression": 50, "input_fidelity": "low"},
    )
    assert wire_parameters(lossy, edit=False) == {"output_format": "webp", "output_compression": 50}


def test_it_reports_stages_and_hands_over_the_answer_before_decoding(fake: OpenAIFake) -> None:
    observer = RecordingObserver()
    fake.then(not_an_image())
    with pytest.raises(ProviderError):
        OpenAIAdapter(config_for(fake)).edit(edit_request(), observer=observer)
    # The payload was handed over even though decoding it then failed.
    assert observer.events == ["sending", "waiting", "response"]
    assert observer.payloads[0]["data"][0]["b64_json"]


def test_models_are_our_table_narrowed_to_what_the_provider_lists(db: None) -> None:
    server = OpenAIFake(listed_models=["gpt-image-1", "whisper-1"])
    with server.running():
        provider = provider_on(kind="openai", base_url=server.base_url + "/v1")
    models = ImageModel.objects.filter(provider=provider, enabled=True)
    assert [m.model_id for m in models] == ["gpt-image-1"]
    assert "input_fidelity" in models[0].parameters


def test_the_mini_model_has_no_input_fidelity_parameter(provider: Any) -> None:
    assert "input_fidelity" not in model_of(provider, "gpt-image-1-mini").parameters
    assert model_of(provider, "gpt-image-1.5").max_images == 16


# --- Faults ---------------------------------------------------------------------


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_refused_connection_is_retried_then_fails_clearly(
    db: None, alice: Any, sleeps: list[float]
) -> None:
    server = OpenAIFake()
    with server.running():
        provider = provider_on(kind="openai", base_url=server.base_url + "/v1")
    provider.base_url = f"http://127.0.0.1:{closed_port()}/v1"
    provider.save()
    job = run(make_job(user=alice, model=model_of(provider, "gpt-image-1")))
    assert job.status == JobStatus.FAILED
    assert job.error_code == "provider_unreachable"
    assert "Could not connect" in job.error_message
    assert "nothing was charged" in job.error_message
    assert len(sleeps) == http.MAX_ATTEMPTS - 1


def test_a_429_is_retried_after_the_time_it_asks_for(
    fake: OpenAIFake, model: ImageModel, alice: Any, sleeps: list[float]
) -> None:
    fake.then(status_reply(429, retry_after="3"))
    job = run(make_job(user=alice, model=model))
    assert job.status == JobStatus.SUCCEEDED, job.error_message
    assert len(fake.paid_calls("/images/edits")) == 2
    assert sleeps == [3.0]


def test_a_429_asking_for_a_long_wait_fails_at_once_as_retryable(
    fake: OpenAIFake, model: ImageModel, alice: Any, sleeps: list[float]
) -> None:
    fake.then(status_reply(429, retry_after="3600"))
    job = run(make_job(user=alice, model=model))
    assert job.status == JobStatus.FAILED
    assert job.error_code == "rate_limited"
    assert "wait 3600 seconds" in job.error_message
    assert len(fake.paid_calls("/images/edits")) == 1
    assert sleeps == []


@pytest.mark.parametrize("status", [502, 503, 504])
def test_a_gateway_error_is_retried_then_succeeds(
    fake: OpenAIFake, model: ImageModel, alice: Any, status: int
) -> None:
    fake.then(status_reply(status))
    job = run(make_job(user=alice, model=model))
    assert job.status == JobStatus.SUCCEEDED, job.error_message
    assert len(fake.paid_calls("/images/edits")) == 2


def test_gateway_errors_are_retried_a_bounded_number_of_times(
    fake: OpenAIFake, model: ImageModel, alice: Any
) -> None:
    fake.then(*[status_reply(503)] * 10)
    job = run(make_job(user=alice, model=model))
    assert job.status == JobStatus.FAILED
    assert len(fake.paid_calls("/images/edits")) == http.MAX_ATTEMPTS
    assert job.error_code == "provider_unavailable"
    assert "HTTP 503" in job.error_message and "Nothing was charged" in job.error_message


def test_a_timeout_after_sending_fails_once_saying_it_may_have_charged(
    fake: OpenAIFake, provider: Any, alice: Any, alice_client: Any
) -> None:
    provider.deadline = 0.5
    provider.save()
    fake.then(silent_after_request(3))
    job = run(make_job(user=alice, model=model_of(provider, "gpt-image-1")))
    assert job.status == JobStatus.FAILED
    assert job.error_code == "provider_timeout"
    assert "may have charged" in job.error_message
    assert "retry" in job.error_message
    assert len(fake.paid_calls("/images/edits")) == 1
    assert "may have charged" in alice_client.get(f"/jobs/{job.pk}/").content.decode()


def test_a_provider_dribbling_bytes_still_hits_the_total_deadline(
    fake: OpenAIFake, provider: Any, alice: Any
) -> None:
    provider.deadline = 0.6
    provider.save()
    fake.then(dribble(0.1, 40))
    job = run(make_job(user=alice, model=model_of(provider, "gpt-image-1")))
    assert job.status == JobStatus.FAILED
    assert job.error_code == "provider_timeout"
    assert len(fake.paid_calls("/images/edits")) == 1


@pytest.mark.parametrize(
    ("reply", "code", "words"),
    [
        (html_page(500), "bad_response", "web page instead of an API answer"),
        (malformed_json(), "bad_response", "not valid JSON"),
        (empty_data(), "empty_result", "without any image"),
        (not_an_image(), "bad_result", "not an image Darkroom can read"),
    ],
    ids=["html", "malformed", "empty", "not-an-image"],
)
def test_a_broken_answer_fails_the_job_readably(
    fake: OpenAIFake,
    model: ImageModel,
    alice: Any,
    alice_client: Any,
    reply: Any,
    code: str,
    words: str,
) -> None:
    fake.then(reply)
    job = run(make_job(user=alice, model=model))
    assert job.status == JobStatus.FAILED
    assert (job.error_code, words in job.error_message) == (code, True)
    assert len(fake.paid_calls("/images/edits")) == 1
    assert words in alice_client.get(f"/jobs/{job.pk}/").content.decode()
    assert_key_hidden(job, alice_client)


def test_an_oversized_result_is_refused(
    fake: OpenAIFake, model: ImageModel, alice: Any, monkeypatch: Any
) -> None:
    monkeypatch.setattr(results, "MAX_RESULT_BYTES", 64)
    job = run(make_job(user=alice, model=model))
    assert job.status == JobStatus.FAILED
    assert job.error_code == "result_too_large"
    assert job.images.filter(role=ImageRole.RESULT).count() == 0


def test_an_oversized_answer_stops_the_download(
    fake: OpenAIFake, model: ImageModel, alice: Any, monkeypatch: Any
) -> None:
    monkeypatch.setattr(http, "MAX_RESPONSE_BYTES", 100)
    job = run(make_job(user=alice, model=model))
    assert job.status == JobStatus.FAILED
    assert job.error_code == "response_too_large"


def test_a_moderation_refusal_shows_the_stage_and_categories(
    fake: OpenAIFake, model: ImageModel, alice: Any, alice_client: Any
) -> None:
    fake.then(moderation_refusal())
    job = run(make_job(user=alice, model=model))
    assert job.status == JobStatus.FAILED
    assert job.error_code == "moderation_blocked"
    assert "input stage" in job.error_message
    assert "violence, self-harm" in job.error_message
    assert job.error_detail["categories"] == ["violence", "self-harm"]
    page = alice_client.get(f"/jobs/{job.pk}/").content.decode()
    assert "violence, self-harm" in page


def test_a_rejected_request_shows_the_providers_message_type_and_code(
    fake: OpenAIFake, model: ImageModel, alice: Any
) -> None:
    fake.then(
        json_reply(
            {
                "error": {
                    "message": "Invalid value for size.",
                    "type": "invalid_request_error",
                    "param": "size",
                    "code": "invalid_value",
                }
            },
            status=400,
        )
    )
    job = run(make_job(user=alice, model=model))
    assert job.error_code == "request_rejected"
    assert "Invalid value for size." in job.error_message
    assert "invalid_request_error" in job.error_message and "invalid_value" in job.error_message
    assert job.error_detail["param"] == "size"


def test_an_error_echoing_the_api_key_never_shows_it(
    fake: OpenAIFake, provider: Any, alice: Any, alice_client: Any
) -> None:
    fake.api_key = "something-else"  # the fake now refuses our key and echoes it back
    job = run(make_job(user=alice, model=model_of(provider, "gpt-image-1")))
    assert job.status == JobStatus.FAILED
    assert job.error_code == "auth_failed"
    assert "Incorrect API key provided" in job.error_message
    assert "[redacted]" in job.error_message
    assert_key_hidden(job, alice_client)


def test_the_provider_config_repr_hides_the_key(fake: OpenAIFake) -> None:
    assert API_KEY not in repr(config_for(fake))


def test_an_answer_echoing_the_key_is_saved_without_it(
    fake: OpenAIFake, model: ImageModel, alice: Any
) -> None:
    from tests.fakes.common import b64, result_image

    fake.then(
        json_reply(
            {
                "data": [{"b64_json": b64(result_image((8, 8))), "revised_prompt": API_KEY}],
                "usage": {"note": f"billed to {API_KEY}"},
            }
        )
    )
    job = run(make_job(user=alice, model=model))
    assert job.status == JobStatus.SUCCEEDED, job.error_message
    assert job.provider_response["data"][0]["revised_prompt"] == "[redacted]"
    assert_key_hidden(job)


def test_no_log_line_carries_the_key(
    fake: OpenAIFake, model: ImageModel, alice: Any, caplog: Any
) -> None:
    import logging

    fake.then(status_reply(503), moderation_refusal())
    with caplog.at_level(logging.DEBUG):
        run(make_job(user=alice, model=model))
        run(make_job(user=alice, model=model))
    assert caplog.records
    assert API_KEY not in caplog.text


def test_running_out_of_time_between_refused_connections_never_claims_a_charge(
    monkeypatch: Any,
) -> None:
    import time as real_time

    monkeypatch.setattr(http, "sleep", real_time.sleep)  # the pause uses up the deadline
    config = ProviderConfig(
        name="router",
        kind="openai",
        base_url=f"http://127.0.0.1:{closed_port()}/v1",
        api_key=API_KEY,
        connect_timeout=1,
        deadline=0.3,
    )
    with pytest.raises(ProviderError) as caught:
        OpenAIAdapter(config).generate(
            ImageRequest(model_id="gpt-image-1", prompt="x", params={}),
            observer=RecordingObserver(),
        )
    assert caught.value.code == "provider_unreachable"
    assert not caught.value.may_have_charged
    assert "nothing was charged" in caught.value.message


def test_retry_after_is_read_in_seconds_or_as_a_date() -> None:
    assert http.retry_after_seconds("5") == 5.0
    assert http.retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    assert http.retry_after_seconds("soon") is None
    assert http.retry_after_seconds(None) is None


def test_one_unreadable_result_does_not_cost_the_others(
    fake: OpenAIFake, model: ImageModel, alice: Any
) -> None:
    from tests.fakes.common import b64, result_image

    good = result_image((8, 8))
    fake.then(json_reply({"data": [{"b64_json": b64(b"garbage")}, {"b64_json": b64(good)}]}))
    job = run(make_job(user=alice, model=model, params={"n": 2}))
    assert job.status == JobStatus.SUCCEEDED, job.error_message
    (result,) = job.images.filter(role=ImageRole.RESULT)
    with result.file.open("rb") as handle:
        assert handle.read() == good
    assert any("Result 1" in notice and "not an image" in notice for notice in job.notices)


def test_a_base_url_that_is_not_http_fails_clearly_without_a_charge(fake: OpenAIFake) -> None:
    config = ProviderConfig(
        name="router",
        kind="openai",
        base_url="ftp://example.invalid/v1",
        api_key=API_KEY,
        connect_timeout=1,
        deadline=2,
    )
    with pytest.raises(ProviderError) as caught:
        OpenAIAdapter(config).generate(
            ImageRequest(model_id="gpt-image-1", prompt="x", params={}),
            observer=RecordingObserver(),
        )
    assert caught.value.code == "bad_configuration"
    assert not caught.value.may_have_charged
