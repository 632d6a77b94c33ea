"""A saved provider answer rebuilds the same results without a second paid call.

The pipeline saves what ``observer.response_received`` gets; after a worker
crash it calls ``results_from_response`` instead of the provider.
"""

from __future__ import annotations

from typing import Any

import pytest

from editor import pipeline, saved_answers
from editor.models import ImageRole, JobStatus
from editor.providers.registry import adapter_for
from tests.factories import make_job
from tests.fakes.dalle2 import Dalle2Fake
from tests.fakes.imagerouter import ImageRouterFake
from tests.fakes.nanogpt import NanoGPTFake
from tests.fakes.openai import OpenAIFake
from tests.images import image_bytes, mask_bytes
from tests.providers.conftest import model_of, provider_on, run

CASES = [
    (OpenAIFake, "openai", "gpt-image-1", 2),
    (Dalle2Fake, "dalle2", "dall-e-2", 2),
    (ImageRouterFake, "imagerouter", "openai/gpt-image-1", 2),
    (NanoGPTFake, "nanogpt", "gpt-image-1", 2),
]


@pytest.mark.parametrize(("fake_class", "kind", "model_id", "n"), CASES, ids=[c[1] for c in CASES])
def test_the_saved_answer_rebuilds_the_results_and_the_sent_mask(
    alice: Any, fake_class: Any, kind: str, model_id: str, n: int, monkeypatch: Any
) -> None:
    # The answer as it was saved on arrival (editor.saved_answers).
    saved: list[Any] = []
    save = pipeline.answer_save

    def answer_save(**kwargs: Any) -> None:
        saved.append(kwargs["answer"])
        save(**kwargs)

    monkeypatch.setattr(pipeline, "answer_save", answer_save)
    fake = fake_class()
    with fake.running():
        provider = provider_on(kind=kind, base_url=fake.base_url + "/v1")
        job = run(
            make_job(
                user=alice,
                model=model_of(provider, model_id),
                images=[image_bytes(32, 32)],
                mask=mask_bytes(32, 32, box=(0, 0, 8, 8)),
                params={"n": n},
            )
        )
        assert job.status == JobStatus.SUCCEEDED, job.error_message
        paid = len(fake.requests)
        request = pipeline._build_request(job)
        # Saved without the images' base64: the images are in storage.
        assert all("darkroom_stored" in item for item in saved[-1]["data"])
        whole = saved_answers.answer_whole(job=job, answer=saved[-1])
        rebuilt = adapter_for(provider.config()).results_from_response(whole, request)
        assert len(fake.requests) == paid  # nothing was called again
    stored = []
    for image in job.images.filter(role=ImageRole.RESULT).order_by("position"):
        with image.file.open("rb") as handle:
            stored.append(handle.read())
    assert [image.data for image in rebuilt.images] == stored
    with job.images.get(role=ImageRole.SENT_MASK).file.open("rb") as handle:
        assert rebuilt.sent_mask == handle.read()
