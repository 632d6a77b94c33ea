"""gpt-image-2: any size within its rules, no transparent background, no input fidelity."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from editor.models import ImageModel, Job, JobStatus
from tests.factories import make_job
from tests.fakes.openai import OpenAIFake
from tests.images import image_bytes, upload
from tests.providers.conftest import model_of, provider_on, run


@pytest.fixture
def fake() -> Iterator[OpenAIFake]:
    server = OpenAIFake()
    with server.running():
        yield server


@pytest.fixture
def model(fake: OpenAIFake, db: None) -> ImageModel:
    return model_of(provider_on(kind="openai", base_url=fake.base_url + "/v1"), "gpt-image-2")


def edit(client: Client, model: ImageModel, **fields: Any) -> Any:
    data = {
        "prompt": "a wide banner of the same street at night",
        "image_model": model.pk,
        "images": [upload(image_bytes(64, 36))],
        **fields,
    }
    return client.post("/", data)


def nothing_stored(media: Path) -> bool:
    return Job.objects.count() == 0 and not [p for p in media.rglob("*") if p.is_file()]


def test_a_custom_size_edit_reaches_the_provider_with_that_size(
    fake: OpenAIFake, model: ImageModel, alice_client: Client
) -> None:
    response = edit(alice_client, model, size="2048x1152", quality="low")
    assert response.status_code == 302, response.content.decode()[:2000]
    job = run(Job.objects.get())
    assert job.status == JobStatus.SUCCEEDED, job.error_message
    (call,) = fake.paid_calls("/images/edits")
    fields = call.multipart()
    assert fields["size"][0][1] == b"2048x1152"
    assert "input_fidelity" not in fields
    assert fake.rejections == []


@pytest.mark.parametrize(
    ("size", "why"),
    [
        ("100x100", "it has 10,000 pixels, fewer than the 655,360 required"),
        ("2050x1152", "width and height must be multiples of 16"),
        ("3840x1024", "it may be at most 3:1 either way"),
        ("4096x1536", "the longer side may be at most 3840 px"),
        ("4096x2048", "it has 8,388,608 pixels, more than the 8,294,400 allowed"),
        ("big", "write it as width x height, e.g. 2048x1152"),
    ],
)
def test_a_size_outside_the_rules_is_refused_with_the_rule_and_stores_nothing(
    fake: OpenAIFake, model: ImageModel, alice_client: Client, media_dir: Path, size: str, why: str
) -> None:
    response = edit(alice_client, model, size=size)
    assert response.status_code == 400
    page = response.content.decode()
    assert f"GPT Image 2 cannot make {size}: {why}." in page
    # The message states the whole rule.
    assert "width and height multiples of 16, the longer side at most 3840 px" in page
    assert "655,360 to 8,294,400 pixels in all" in page
    assert nothing_stored(media_dir)
    assert fake.paid_calls("/images/edits") == []


def test_a_transparent_background_is_refused_before_anything_is_paid(
    fake: OpenAIFake, model: ImageModel, alice: Any, alice_client: Client, media_dir: Path
) -> None:
    response = edit(alice_client, model, background="transparent", output_format="png")
    assert response.status_code == 400
    assert (
        "GPT Image 2 does not take background “transparent”; it takes auto or opaque."
        in response.content.decode()
    )
    assert nothing_stored(media_dir)
    # A job that asks for it anyway (made before the model's rules were known)
    # fails before the call, with nothing sent.
    job = run(make_job(user=alice, model=model, params={"background": "transparent"}))
    assert job.status == JobStatus.FAILED
    assert job.error_code == "not_supported"
    assert "nothing was sent" in job.error_message and "background" in job.error_message.lower()
    assert fake.paid_calls("/images/edits") == []


def test_input_fidelity_is_not_offered(model: ImageModel, alice_client: Client) -> None:
    page = alice_client.get(f"/editor/fields/?image_model={model.pk}").content.decode()
    assert 'name="size"' in page and 'list="size-choices"' in page
    assert 'name="input_fidelity"' not in page
    response = edit(alice_client, model, input_fidelity="high")
    assert response.status_code == 400
    assert "GPT Image 2 does not support: input_fidelity." in response.content.decode()
