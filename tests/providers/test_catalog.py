"""Models as each provider describes them: listings, any id, operator edits, retirement.

Every fake lists its models in its kind's real listing shape, with
capabilities that differ from Darkroom's own tables on purpose.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client

from editor import catalog
from editor.models import ImageModel, Job, JobStatus, Provider
from tests.factories import make_job
from tests.fakes.common import API_KEY
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


@pytest.fixture
def nanogpt() -> Iterator[NanoGPTFake]:
    fake = NanoGPTFake()
    with fake.running():
        yield fake


def usable_ids(provider: Provider) -> list[str]:
    return sorted(
        ImageModel.objects.usable().filter(provider=provider).values_list("model_id", flat=True)
    )


def command(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("providers", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


# --- What each provider lists is what is offered --------------------------------


def test_a_nanogpt_router_offers_exactly_what_its_listing_says(
    nanogpt: NanoGPTFake, db: None
) -> None:
    provider = provider_on(kind="nanogpt", base_url=nanogpt.base_url + "/v1")
    # HiDream is in no table of ours; the video model is not an image model.
    assert usable_ids(provider) == ["flux-dev", "flux-kontext", "gpt-image-1", "hidream"]
    kontext = model_of(provider, "flux-kontext")
    # Our table said one image and no mask; the router says four images.
    assert (kontext.can_edit, kontext.max_images, kontext.supports_mask) == (True, 4, False)
    assert kontext.label == "FLUX.1 Kontext [pro]"
    assert kontext.parameters["size"]["choices"] == ["1024x1024", "1344x768", "768x1344"]
    # What only our knowledge says (Kontext's max mode) fills the listing's gaps.
    assert "kontext_max_mode" in kontext.parameters
    assert kontext.pricing == {"per_image": "0.04", "currency": "USD"}
    hidream = model_of(provider, "hidream")
    assert (hidream.can_edit, hidream.can_generate) == (False, True)
    gpt = model_of(provider, "gpt-image-1")
    assert gpt.pricing["per_image_by_size"]["1024x1024"] == "0.042"


def test_a_multi_image_edit_reaches_a_model_the_listing_says_takes_several(
    nanogpt: NanoGPTFake, alice: User, alice_client: Client
) -> None:
    provider = provider_on(kind="nanogpt", base_url=nanogpt.base_url + "/v1")
    kontext = model_of(provider, "flux-kontext")
    response = alice_client.post(
        "/",
        {
            "prompt": "put the cat from the second picture on the sofa",
            "image_model": kontext.pk,
            "images": [upload(image_bytes(40, 30)), upload(image_bytes(20, 20))],
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    job = run(Job.objects.get())
    assert job.status == JobStatus.SUCCEEDED, job.error_message
    (call,) = nanogpt.paid_calls("/images/generations")
    body = json.loads(call.body)
    assert body["model"] == "flux-kontext" and len(body["imageDataUrls"]) == 2
    assert nanogpt.rejections == []


def test_only_what_a_model_truly_cannot_do_is_refused_with_a_clear_message(
    nanogpt: NanoGPTFake, alice_client: Client, media_dir: Path
) -> None:
    provider = provider_on(kind="nanogpt", base_url=nanogpt.base_url + "/v1")
    kontext = model_of(provider, "flux-kontext")
    five = [upload(image_bytes(8, 8)) for _ in range(5)]
    response = alice_client.post(
        "/", {"prompt": "collage", "image_model": kontext.pk, "images": five}
    )
    assert response.status_code == 400
    assert "FLUX.1 Kontext [pro] takes at most 4 images; 5 chosen." in response.content.decode()
    hidream = model_of(provider, "hidream")
    response = alice_client.post(
        "/", {"prompt": "x", "image_model": hidream.pk, "images": [upload(image_bytes())]}
    )
    assert "HiDream I1 only generates from text: remove the images." in response.content.decode()
    assert Job.objects.count() == 0
    assert [path for path in media_dir.rglob("*") if path.is_file()] == []


def test_a_model_the_router_stops_listing_is_retired_with_the_reason_and_keeps_its_jobs(
    nanogpt: NanoGPTFake, alice: User, alice_client: Client
) -> None:
    provider = provider_on(kind="nanogpt", base_url=nanogpt.base_url + "/v1")
    flux_dev = model_of(provider, "flux-dev")
    old_job = run(make_job(user=alice, model=flux_dev, params={"n": 1}))
    assert old_job.status == JobStatus.SUCCEEDED, old_job.error_message
    nanogpt.listing = [entry for entry in nanogpt.listing if entry["id"] != "flux-dev"]
    nanogpt.listing[1]["input_reference_constraints"]["max_items"] = 6  # Kontext takes more
    report = catalog.provider_sync_models(provider=provider)
    assert report.retired == ["flux-dev"]
    assert report.changed == {"flux-kontext": ["max_images"]}
    assert "Retired (no longer listed): flux-dev." in report.summary()
    flux_dev.refresh_from_db()
    assert flux_dev.retired_reason.startswith(f"{provider.name} no longer lists this model")
    assert "flux-dev" not in usable_ids(provider)
    # Its past job keeps its link and page.
    old_job.refresh_from_db()
    assert old_job.image_model_id == flux_dev.pk
    assert alice_client.get(f"/jobs/{old_job.pk}/").status_code == 200
    # It is not offered in the editor any more.
    assert f'value="{flux_dev.pk}"' not in alice_client.get("/").content.decode()
    # Listed again: offered again.
    nanogpt.listing = NanoGPTFake().listing
    report = catalog.provider_sync_models(provider=provider)
    assert report.restored == ["flux-dev"]
    assert "flux-dev" in usable_ids(provider)


def test_an_openai_router_offers_the_image_models_it_lists_with_our_knowledge(
    db: None,
) -> None:
    fake = OpenAIFake(listed_models=["gpt-image-2-2026-04-21", "gpt-image-1", "gpt-4o", "tts-1"])
    with fake.running():
        provider = provider_on(kind="openai", base_url=fake.base_url + "/v1")
    assert usable_ids(provider) == ["gpt-image-1", "gpt-image-2-2026-04-21"]
    dated = model_of(provider, "gpt-image-2-2026-04-21")
    assert dated.label == "GPT Image 2 (2026-04-21)"
    assert dated.parameters["size"]["custom"]["max_pixels"] == 8_294_400
    assert "input_fidelity" not in dated.parameters
    assert dated.parameters["background"]["choices"] == ["auto", "opaque"]
    assert dated.pricing == {"tokens": "gpt-image-2"}  # priced as its family


# --- Any id, listed or not ----------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(FAKES))
def test_any_model_id_can_be_added_on_every_kind_with_a_warning_when_unlisted(
    kind: str, db: None
) -> None:
    fake = FAKES[kind]()
    with fake.running():
        out, err = command(
            "add",
            "--name",
            "mine",
            "--kind",
            kind,
            "--base-url",
            fake.base_url + "/v1",
            "--api-key",
            API_KEY,
            "--models",
            "some/new-model",
        )
    assert "Added mine with 1 model(s)." in out
    model = ImageModel.objects.get(provider__name="mine", model_id="some/new-model")
    assert model.is_usable and model.added_by_operator
    assert API_KEY not in out + err
    if kind == "dalle2":
        # The classic contract has no model list to check the id against.
        assert model.listed is None and err == ""
        assert model.parameters["square_mode"]  # the contract's own rules
    else:
        assert model.listed is False
        assert "mine does not list “some/new-model”; it is offered with safe defaults" in err
        # Safe defaults: one image, no mask, one result.
        assert (model.max_images, model.supports_mask) == (1, False)
        assert model.parameters["n"]["max"] == 1


def test_an_unlisted_model_survives_syncs_and_add_models_works_on_an_existing_provider(
    nanogpt: NanoGPTFake, db: None
) -> None:
    provider = provider_on(kind="nanogpt", base_url=nanogpt.base_url + "/v1")
    out, err = command("add-models", provider.name, "seedream-4, hidream")
    assert "Added: seedream-4." in out and "Changed" not in out
    assert "does not list “seedream-4”" in err
    out, err = command("sync", provider.name)
    assert "Retired" not in out
    assert "does not list “seedream-4”" in err
    assert "seedream-4" in usable_ids(provider)


def test_the_admin_edits_capabilities_a_sync_keeps_them_and_the_editor_follows(
    alice_client: Client, db: None
) -> None:
    fake = OpenAIFake(served_models=["fault/500"])
    with fake.running():
        provider = provider_on(kind="openai", base_url=fake.base_url + "/v1")
        admin = User.objects.create_superuser("root", "root@example.com", "pw-for-tests-only")
        staff = Client()
        staff.force_login(admin)
        added = staff.post(
            "/admin/editor/imagemodel/add/",
            {"provider": provider.pk, "model_id": "fault/500"},
            follow=True,
        ).content.decode()
        assert "does not list “fault/500”" in added
        model = model_of(provider, "fault/500")
        assert (model.max_images, model.supports_mask) == (1, False)
        page = staff.get(f"/admin/editor/imagemodel/{model.pk}/change/")
        assert page.status_code == 200
        form = {
            "label": "Fault 500 (router beta)",
            "enabled": "on",
            "can_edit": "on",
            "can_generate": "on",
            "supports_mask": "on",
            "max_images": "2",
            "max_prompt_length": "32000",
            "sizes": "auto, 1024x1024",
            "shown_parameters": ["n", "size", "quality"],
            "parameters": json.dumps({"n": {"min": 1, "max": 2, "default": 1}}),
            "pricing": json.dumps({"per_image": "0.05"}),
        }
        saved = staff.post(f"/admin/editor/imagemodel/{model.pk}/change/", form)
        assert saved.status_code == 302, saved.content.decode()[:3000]
        model.refresh_from_db()
        assert (model.max_images, model.supports_mask, model.label) == (
            2,
            True,
            "Fault 500 (router beta)",
        )
        assert model.parameters["size"]["choices"] == ["auto", "1024x1024"]
        assert model.parameters["quality"]["choices"] == ["auto", "low", "medium", "high"]
        assert {"max_images", "supports_mask", "parameters", "label"} <= set(
            model.operator_overrides
        )
        # A sync does not undo the operator's edits.
        catalog.provider_sync_models(provider=provider)
        model.refresh_from_db()
        assert (model.max_images, model.supports_mask) == (2, True)
        # The editor follows: the option says so, and a masked two-image edit runs.
        editor = alice_client.get("/").content.decode()
        assert f'value="{model.pk}"' in editor
        assert 'data-max-images="2"' in editor and "$0.05 / image" in editor
        response = alice_client.post(
            "/",
            {
                "prompt": "make it black and white",
                "image_model": model.pk,
                "images": [upload(image_bytes(32, 32)), upload(image_bytes(16, 16))],
                "mask": upload(image_bytes(32, 32, colour=(255, 255, 255))),
                "quality": "low",
                "size": "1024x1024",
            },
        )
        assert response.status_code == 302, response.content.decode()[:3000]
        job = run(Job.objects.get())
    assert job.status == JobStatus.SUCCEEDED, job.error_message
    (call,) = fake.paid_calls("/images/edits")
    fields = call.multipart()
    assert fields["model"][0][1] == b"fault/500"
    assert len(fields["image[]"]) == 2 and "mask" in fields
    assert fields["quality"][0][1] == b"low"
    # The operator set a price per image; the router reports tokens Darkroom cannot price.
    assert (job.cost, job.cost_source) == (Decimal("0.05"), "list_price")
