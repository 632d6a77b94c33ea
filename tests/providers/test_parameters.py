"""Each model's capabilities decide which parameters the server accepts."""

from __future__ import annotations

from typing import Any

from editor import catalog
from editor.models import ImageModel, Job
from editor.parameters import conflicts
from tests.fakes.common import API_KEY
from tests.images import image_bytes, upload
from tests.test_job_create import assert_nothing_stored


def table_model(kind: str, model_id: str, base_url: str = "https://router.example/v1") -> Any:
    provider = catalog.provider_create(
        name=f"{kind}-p", kind=kind, base_url=base_url, api_key=API_KEY, sync=False
    )
    catalog.provider_sync_models(provider=provider, offline=True)
    return ImageModel.objects.get(provider=provider, model_id=model_id)


def post(client: Any, model: ImageModel, **fields: Any) -> Any:
    data = {"prompt": "a hat", "image_model": model.pk, "images": [upload(image_bytes(32, 32))]}
    data.update(fields)
    return client.post("/", data)


def test_input_fidelity_is_refused_for_the_mini_model(alice_client: Any) -> None:
    mini = table_model("openai", "gpt-image-1-mini")
    response = post(alice_client, mini, input_fidelity="high")
    assert response.status_code == 400
    assert "does not support: input_fidelity" in response.content.decode()
    assert not Job.objects.exists()


def test_a_transparent_background_with_jpeg_output_is_refused(alice_client: Any) -> None:
    model = table_model("openai", "gpt-image-1")
    response = post(alice_client, model, background="transparent", output_format="jpeg")
    assert "A transparent background needs PNG or WebP" in response.content.decode()
    assert not Job.objects.exists()


def test_out_of_range_extra_parameters_are_refused(alice_client: Any) -> None:
    model = table_model("nanogpt", "flux-dev")
    response = post(alice_client, model, strength="1.5", num_inference_steps="0")
    assert response.status_code == 400
    page = response.content.decode()
    assert "less than or equal to 1" in page and "greater than or equal to 1" in page
    assert not Job.objects.exists()


def test_accepted_parameters_are_stored_on_the_job(alice_client: Any) -> None:
    model = table_model("dalle2", "dall-e-2")
    response = post(alice_client, model, square_mode="crop", size="512x512", n="2")
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Job.objects.get().params == {"n": 2, "size": "512x512", "square_mode": "crop"}


def test_a_size_dalle_2_does_not_offer_is_refused_by_name_and_nothing_is_stored(
    alice_client: Any, media_dir: Any
) -> None:
    model = table_model("dalle2", "dall-e-2")
    response = post(alice_client, model, size="300x300", n="1")
    assert response.status_code == 400
    page = response.content.decode()
    # Beside the field: the size asked for and what the model takes instead.
    assert (
        "DALL-E 2 does not take size “300x300”; it takes 256x256, 512x512 or 1024x1024."
    ) in page
    assert_nothing_stored(media_dir)


def test_a_model_without_quality_refuses_it(alice_client: Any) -> None:
    model = table_model("dalle2", "dall-e-2")
    response = post(alice_client, model, quality="high")
    assert "does not support: quality" in response.content.decode()
    assert not Job.objects.exists()


def test_conflicts_between_output_settings() -> None:
    assert conflicts({"output_format": "webp", "output_compression": 80}) == []
    assert conflicts({"output_compression": 80}) == [
        "Compression applies to JPEG and WebP output only, not PNG."
    ]
