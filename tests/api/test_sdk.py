"""The official openai SDK, unchanged, edits, generates and lists models through
Darkroom, whatever kind of provider is behind the model."""

from __future__ import annotations

import base64
import io
from typing import Any

import pytest
from PIL import Image

from editor.models import Job, JobSource, JobStatus
from tests.api.conftest import Backend, sdk
from tests.images import image_bytes

pytestmark = pytest.mark.worker

BOX = (8, 8, 40, 32)  # the area to change, in the first image (64×48)


def openai_mask(width: int, height: int) -> bytes:
    """OpenAI's convention: opaque everywhere but the transparent area to change."""
    mask = Image.new("RGBA", (width, height), (0, 0, 0, 255))
    mask.paste((0, 0, 0, 0), BOX)
    buffer = io.BytesIO()
    mask.save(buffer, format="PNG")
    return buffer.getvalue()


def area_to_change(received: Image.Image, convention: str) -> Image.Image:
    """The area a fake's mask marks, as white on black."""
    if convention == "transparent":
        return received.getchannel("A").point(lambda alpha: 255 if alpha == 0 else 0)
    return received.convert("L").point(lambda value: 255 if value >= 128 else 0)


def test_an_edit_with_images_and_a_mask_reaches_the_provider_in_its_convention(
    backend: Backend, celery_worker: Any, live_server: Any, carol_token: Any
) -> None:
    kind = backend.kind
    first = image_bytes(64, 48 if kind.name != "dalle2" else 64, colour=(200, 40, 40))
    height = 48 if kind.name != "dalle2" else 64
    images = [("first.png", first, "image/png")]
    if kind.edit_images > 1:
        images.append(("second.png", image_bytes(32, 32, colour=(10, 90, 200)), "image/png"))
    client = sdk(live_server, carol_token.secret)

    result = client.images.edit(
        model=kind.api_model,
        image=images,
        mask=("mask.png", openai_mask(64, height), "image/png"),
        prompt="a red boat on the water",
    )

    job = Job.objects.get(owner=carol_token.token.owner)
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert (job.source, job.api_token_id) == (JobSource.API, carol_token.token.pk)
    assert result.data and result.data[0].b64_json
    returned = Image.open(io.BytesIO(base64.b64decode(result.data[0].b64_json)))
    assert returned.size[0] > 0
    received = backend.fake.last_mask
    assert received is not None, f"no mask reached the fake ({backend.fake.rejections})"
    area = area_to_change(received, kind.mask_convention)
    assert area.size == (64, height)
    # Inside the box: change; outside: keep, in the fake's own convention.
    assert area.getpixel((BOX[0] + 2, BOX[1] + 2)) == 255
    assert area.getpixel((BOX[2] + 4, BOX[3] + 4)) == 0
    assert area.getpixel((1, 1)) == 0
    assert len(backend.fake.paid_calls(kind.edit_path)) == 1


def test_a_generation_returns_the_image_and_is_an_api_job(
    backend: Backend, celery_worker: Any, live_server: Any, carol_token: Any
) -> None:
    client = sdk(live_server, carol_token.secret)

    result = client.images.generate(model=backend.kind.api_model, prompt="a lighthouse at dusk")

    assert result.data and result.data[0].b64_json
    Image.open(io.BytesIO(base64.b64decode(result.data[0].b64_json))).verify()
    job = Job.objects.get(owner=carol_token.token.owner)
    assert (job.kind, job.status, job.source) == ("generate", JobStatus.SUCCEEDED, "api")


def test_the_model_list_names_the_users_models_with_what_they_can_do(
    backend: Backend, live_server: Any, carol_token: Any
) -> None:
    client = sdk(live_server, carol_token.secret)

    models = {model.id: model for model in client.models.list()}

    assert backend.kind.api_model in models
    assert "offline/offline-demo" in models
    entry = models[backend.kind.api_model].model_extra["darkroom"]
    assert entry["can_edit"] is True
    assert entry["max_images"] >= backend.kind.edit_images
    assert client.models.retrieve(backend.kind.api_model).id == backend.kind.api_model
