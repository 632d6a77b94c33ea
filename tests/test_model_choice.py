"""Which model the editor offers and opens on, and what happens when a model goes away."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from editor import catalog
from editor.models import ImageModel, Job, JobImage, Provider
from tests.factories import make_job
from tests.fakes.common import API_KEY
from tests.images import image_bytes, upload

NOT_AVAILABLE = (
    "That model is not available: it may have been switched off or removed since the page "
    "was loaded. Choose another model."
)


@pytest.fixture
def routers(db: None) -> dict[str, ImageModel]:
    """Two providers seeded from Darkroom's tables (no network)."""
    openai = catalog.provider_create(name="openai", kind="openai", api_key=API_KEY, sync=False)
    catalog.provider_sync_models(provider=openai, offline=True)
    dalle = catalog.provider_create(
        name="classic", kind="dalle2", base_url="https://dalle.example/v1", api_key=API_KEY
    )
    return {
        "gpt-image-2": ImageModel.objects.get(provider=openai, model_id="gpt-image-2"),
        "gpt-image-1-mini": ImageModel.objects.get(provider=openai, model_id="gpt-image-1-mini"),
        "dall-e-2": ImageModel.objects.get(provider=dalle, model_id="dall-e-2"),
    }


def selected_option(page: str) -> str:
    match = re.search(r'<option value="(\d+)" selected', page)
    assert match, "no model is selected"
    return match[1]


def nothing_stored(media: Path) -> bool:
    return (
        Job.objects.count() == 0
        and JobImage.objects.count() == 0
        and not [path for path in media.rglob("*") if path.is_file()]
    )


def test_the_picker_groups_models_by_provider_with_what_they_do_and_cost(
    routers: dict[str, ImageModel], alice_client: Client
) -> None:
    page = alice_client.get("/").content.decode()
    groups = re.findall(r'<optgroup label="([^"]+)">', page)
    # Providers by name, the demo last.
    assert groups == ["classic", "openai", "Demo (no AI)"]
    assert "GPT Image 2 · edits, mask, up to 16 images, generates · ≈ $0.053 / image" in page
    assert "DALL-E 2 · edits, mask, generates · $0.016–$0.02 / image" in page
    # Friendly labels, not raw ids next to them.
    assert "gpt-image-1-mini" not in re.sub(
        r'value="[^"]*"', "", page.split("<select")[1].split("</select>")[0]
    )


def test_it_opens_on_the_most_capable_model_then_on_the_users_last_one(
    routers: dict[str, ImageModel], alice: Any, alice_client: Client
) -> None:
    # No job yet: the most capable model (edits with a mask, most images), never the
    # limited DALL-E 2 nor the demo.
    assert selected_option(alice_client.get("/").content.decode()) in {
        str(model.pk) for model in ImageModel.objects.filter(provider__name="openai", max_images=16)
    }
    make_job(user=alice, model=routers["gpt-image-1-mini"])
    assert selected_option(alice_client.get("/").content.decode()) == str(
        routers["gpt-image-1-mini"].pk
    )
    # The last model switched off: back to the most capable.
    ImageModel.objects.filter(pk=routers["gpt-image-1-mini"].pk).update(enabled=False)
    page = alice_client.get("/").content.decode()
    assert selected_option(page) != str(routers["gpt-image-1-mini"].pk)
    assert f'value="{routers["gpt-image-1-mini"].pk}"' not in page


def test_another_users_last_model_is_not_remembered_for_me(
    routers: dict[str, ImageModel], alice: Any, bob_client: Client
) -> None:
    make_job(user=alice, model=routers["dall-e-2"])
    assert selected_option(bob_client.get("/").content.decode()) != str(routers["dall-e-2"].pk)


@pytest.mark.parametrize("value", ["999999", "abc", "", "1; DROP TABLE"])
def test_an_unknown_model_id_at_submit_is_refused_clearly(
    value: str, routers: dict[str, ImageModel], alice_client: Client, media_dir: Path
) -> None:
    response = alice_client.post(
        "/", {"prompt": "x", "image_model": value, "images": [upload(image_bytes())]}
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert NOT_AVAILABLE in page or "This field is required." in page
    assert nothing_stored(media_dir)


@pytest.mark.parametrize(
    "change",
    [
        {"enabled": False},
        {"retired_reason": "openai no longer lists this model (sync of 2026-12-04)."},
    ],
)
def test_a_model_switched_off_between_page_load_and_submit_is_refused(
    change: dict[str, Any], routers: dict[str, ImageModel], alice_client: Client, media_dir: Path
) -> None:
    model = routers["gpt-image-2"]
    assert f'value="{model.pk}"' in alice_client.get("/").content.decode()
    ImageModel.objects.filter(pk=model.pk).update(**change)
    response = alice_client.post(
        "/", {"prompt": "x", "image_model": model.pk, "images": [upload(image_bytes())]}
    )
    assert response.status_code == 400
    assert NOT_AVAILABLE in response.content.decode()
    assert nothing_stored(media_dir)


def test_a_disabled_provider_takes_its_models_with_it(
    routers: dict[str, ImageModel], alice_client: Client
) -> None:
    Provider.objects.filter(name="openai").update(enabled=False)
    page = alice_client.get("/").content.decode()
    assert f'value="{routers["gpt-image-2"].pk}"' not in page
    assert '<optgroup label="openai">' not in page


def test_the_estimate_follows_the_choices(
    routers: dict[str, ImageModel], alice_client: Client
) -> None:
    model = routers["dall-e-2"]

    def shown(**fields: Any) -> str:
        query = {"image_model": model.pk, "input_images": 1, **fields}
        return alice_client.get("/editor/estimate/", query).content.decode()

    assert "$0.054" in shown(size="512x512", n=3)  # 3 x $0.018, exactly
    assert "$0.02" in shown(size="1024x1024", n=1)
    # A half-typed value counts as the default rather than failing.
    assert "$0.02" in shown(size="1024x1024", n="")
    gpt = routers["gpt-image-2"]
    page = alice_client.get(
        "/editor/estimate/",
        {"image_model": gpt.pk, "quality": "high", "size": "1024x1024", "input_images": 0},
    ).content.decode()
    assert "≈ $0.21" in page
    unknown = alice_client.get("/editor/estimate/", {"image_model": "nope"}).content.decode()
    assert "$" not in unknown
