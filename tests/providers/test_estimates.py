"""The estimate shown before Run is within 10 % of the cost recorded after,
for every model of every fake provider that has a price."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from editor.models import Job, JobStatus
from tests.fakes.dalle2 import Dalle2Fake
from tests.fakes.imagerouter import ImageRouterFake
from tests.fakes.nanogpt import NanoGPTFake
from tests.fakes.openai import OpenAIFake
from tests.images import image_bytes, upload
from tests.providers.conftest import model_of, provider_on, run

FAKES = {
    "openai": OpenAIFake,
    "dalle2": Dalle2Fake,
    "imagerouter": ImageRouterFake,
    "nanogpt": NanoGPTFake,
}
PROMPT = "replace the sky with a stormy sunset, keep the people as they are"

# (kind, model id, number of input images, form fields)
RUNS = [
    ("openai", "gpt-image-2", 2, {"quality": "high", "size": "2048x1152", "n": "2"}),
    ("openai", "gpt-image-2-2026-04-21", 0, {"quality": "low", "size": "1024x1536"}),
    (
        "openai",
        "gpt-image-1",
        1,
        {"quality": "medium", "size": "1536x1024", "input_fidelity": "high"},
    ),
    ("openai", "gpt-image-1.5", 3, {"quality": "auto", "size": "auto", "n": "3"}),
    ("openai", "gpt-image-1-mini", 0, {"quality": "high", "size": "1024x1024"}),
    ("dalle2", "dall-e-2", 1, {"size": "512x512", "n": "3"}),
    ("dalle2", "dall-e-2", 0, {"size": "1024x1024"}),
    ("imagerouter", "openai/gpt-image-1", 1, {"n": "2", "quality": "high"}),
    ("imagerouter", "google/gemini-2.5-flash-image", 2, {"n": "1"}),
    ("imagerouter", "black-forest-labs/FLUX-1-schnell", 0, {"n": "3", "size": "512x512"}),
    ("imagerouter", "test/test", 0, {}),
    ("nanogpt", "gpt-image-1", 1, {"n": "2", "size": "512x512"}),
    ("nanogpt", "flux-kontext", 2, {"size": "1344x768"}),
    ("nanogpt", "flux-dev", 0, {"n": "4", "size": "1024x1024"}),
    ("nanogpt", "hidream", 0, {"size": "1024x1024"}),
]


@pytest.mark.parametrize(("kind", "model_id", "inputs", "fields"), RUNS)
def test_the_estimate_is_within_ten_percent_of_the_cost(
    kind: str, model_id: str, inputs: int, fields: dict[str, Any], alice_client: Client
) -> None:
    fake = FAKES[kind]()
    with fake.running():
        model = model_of(provider_on(kind=kind, base_url=fake.base_url + "/v1"), model_id)
        assert model.pricing, f"{model_id} has no price to estimate from"
        # Transparent pixels: DALL-E 2 edits those when no mask is given.
        images = [
            upload(image_bytes(32 + index, 32, mode="RGBA", colour=(200, 40, 40, 0)))
            for index in range(inputs)
        ]
        data = {"prompt": PROMPT, "image_model": model.pk, **fields}
        if images:
            data["images"] = images
        # What the editor shows before Run, for the same choices...
        shown = alice_client.get(
            "/editor/estimate/",
            {**data, "images": "", "input_images": inputs, "prompt_length": len(PROMPT)},
        ).content.decode()
        response = alice_client.post("/", data)
        assert response.status_code == 302, response.content.decode()[:3000]
        job = run(Job.objects.get())
    assert job.status == JobStatus.SUCCEEDED, job.error_message
    assert fake.rejections == []
    assert job.estimated_cost is not None and job.cost is not None
    # ...is the estimate stored with the job.
    from editor.pricing import format_cost

    assert format_cost(job.estimated_cost).lstrip("≈ ") in shown
    if job.cost == 0:
        assert job.estimated_cost == 0
    else:
        assert abs(job.estimated_cost - job.cost) <= job.cost * Decimal("0.10"), (
            job.estimated_cost,
            job.cost,
            job.cost_source,
        )
