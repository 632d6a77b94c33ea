"""Providers from one environment variable, `manage.py providers`, and keys at rest."""

from __future__ import annotations

import io
import logging
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client

from editor import catalog, crypto
from editor.models import ImageModel, Provider
from tests.fakes.common import API_KEY
from tests.fakes.imagerouter import ImageRouterFake
from tests.fakes.openai import OpenAIFake


def env_providers(**kinds: dict[str, str]) -> dict[str, dict[str, str]]:
    empty = {"api_key": "", "base_url": ""}
    return {kind: kinds.get(kind, empty) for kind in ("imagerouter", "openai", "nanogpt", "dalle2")}


@pytest.fixture
def no_network(monkeypatch: Any) -> None:
    monkeypatch.setattr(httpx.Client, "send", lambda *a, **k: pytest.fail("network used"))


def test_openai_api_key_alone_adds_a_ready_provider_without_the_network(
    settings: Any, db: None, no_network: None
) -> None:
    settings.DARKROOM_ENV_PROVIDERS = env_providers(openai={"api_key": API_KEY, "base_url": ""})
    catalog.providers_ensure_defaults()
    provider = Provider.objects.get(name="openai")
    assert (provider.kind, provider.base_url) == ("openai", "https://api.openai.com/v1")
    assert provider.api_key == API_KEY
    assert API_KEY not in provider.api_key_encrypted
    assert sorted(provider.models.values_list("model_id", flat=True)) == [
        "gpt-image-1",
        "gpt-image-1-mini",
        "gpt-image-1.5",
        "gpt-image-2",
    ]


def test_nanogpt_key_and_base_url_override(settings: Any, db: None, no_network: None) -> None:
    settings.DARKROOM_ENV_PROVIDERS = env_providers(
        nanogpt={"api_key": API_KEY, "base_url": "https://router.example/api/v1"}
    )
    catalog.providers_ensure_defaults()
    provider = Provider.objects.get(name="nanogpt")
    assert provider.base_url == "https://router.example/api/v1"
    assert provider.models.filter(model_id="flux-kontext").exists()


def test_dalle2_needs_both_its_base_url_and_key(settings: Any, db: None, no_network: None) -> None:
    settings.DARKROOM_ENV_PROVIDERS = env_providers(dalle2={"api_key": API_KEY, "base_url": ""})
    catalog.providers_ensure_defaults()
    assert not Provider.objects.filter(kind="dalle2").exists()
    settings.DARKROOM_ENV_PROVIDERS = env_providers(
        dalle2={"api_key": API_KEY, "base_url": "https://dalle.example/v1"}
    )
    catalog.providers_ensure_defaults()
    assert Provider.objects.get(kind="dalle2").models.get().model_id == "dall-e-2"


def test_a_changed_key_in_the_environment_replaces_the_stored_one(
    settings: Any, db: None, no_network: None
) -> None:
    settings.DARKROOM_ENV_PROVIDERS = env_providers(openai={"api_key": "sk-old", "base_url": ""})
    catalog.providers_ensure_defaults()
    settings.DARKROOM_ENV_PROVIDERS = env_providers(openai={"api_key": "sk-new", "base_url": ""})
    catalog.providers_ensure_defaults()
    assert Provider.objects.get(name="openai").api_key == "sk-new"
    assert Provider.objects.filter(name="openai").count() == 1


def test_imagerouter_models_are_synced_when_it_answers(settings: Any, db: None) -> None:
    fake = ImageRouterFake()
    with fake.running():
        settings.DARKROOM_ENV_PROVIDERS = env_providers(
            imagerouter={"api_key": API_KEY, "base_url": fake.base_url + "/v1"}
        )
        catalog.providers_ensure_defaults()
    provider = Provider.objects.get(name="imagerouter")
    assert provider.models.filter(model_id="openai/gpt-image-1", supports_mask=True).exists()


def test_an_unreachable_imagerouter_at_startup_is_no_crash_and_no_leak(
    settings: Any, db: None, caplog: Any, monkeypatch: Any
) -> None:
    from editor.providers import http

    monkeypatch.setattr(http, "sleep", lambda seconds: None)
    settings.DARKROOM_ENV_PROVIDERS = env_providers(
        imagerouter={"api_key": API_KEY, "base_url": "http://127.0.0.1:9/v1"}
    )
    with caplog.at_level(logging.DEBUG):
        catalog.providers_ensure_defaults()
    provider = Provider.objects.get(name="imagerouter")
    assert provider.models.count() == 0
    assert "Could not sync the models of imagerouter" in caplog.text
    assert API_KEY not in caplog.text


# --- Keys at rest -------------------------------------------------------------


def test_old_keys_stay_readable_and_rotation_moves_to_the_newest(settings: Any, db: None) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.DARKROOM_ENCRYPTION_KEYS = [old]
    provider = catalog.provider_create(name="router", kind="nanogpt", api_key=API_KEY, sync=False)
    before = Provider.objects.get(pk=provider.pk).api_key_encrypted
    settings.DARKROOM_ENCRYPTION_KEYS = [new, old]
    assert Provider.objects.get(pk=provider.pk).api_key == API_KEY  # old value still readable
    out = io.StringIO()
    call_command("providers", "rotate-keys", stdout=out)
    assert "Re-encrypted 1 key(s)" in out.getvalue()
    after = Provider.objects.get(pk=provider.pk).api_key_encrypted
    assert after != before
    settings.DARKROOM_ENCRYPTION_KEYS = [new]  # the old key can now be dropped
    assert Provider.objects.get(pk=provider.pk).api_key == API_KEY
    settings.DARKROOM_ENCRYPTION_KEYS = [old]
    with pytest.raises(crypto.UnreadableSecretError):
        _ = Provider.objects.get(pk=provider.pk).api_key


def test_the_admin_never_shows_the_key(db: None) -> None:
    provider = catalog.provider_create(name="router", kind="nanogpt", api_key=API_KEY, sync=False)
    admin = User.objects.create_superuser("root", "root@example.com", "pw-for-tests-only")
    client = Client()
    client.force_login(admin)
    page = client.get(f"/admin/editor/provider/{provider.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert API_KEY not in html
    assert provider.api_key_encrypted not in html
    listing = client.get("/admin/editor/provider/").content.decode()
    assert API_KEY not in listing


def test_the_admin_can_replace_the_key_without_seeing_it(db: None) -> None:
    provider = catalog.provider_create(name="router", kind="nanogpt", api_key=API_KEY, sync=False)
    admin = User.objects.create_superuser("root", "root@example.com", "pw-for-tests-only")
    client = Client()
    client.force_login(admin)
    data = {
        "name": "router",
        "kind": "nanogpt",
        "base_url": provider.base_url,
        "enabled": "on",
        "connect_timeout": "",
        "deadline": "",
        "result_hosts": "[]",
        "new_api_key": "sk-replaced",
        "models-TOTAL_FORMS": "0",
        "models-INITIAL_FORMS": "0",
        "models-MIN_NUM_FORMS": "0",
        "models-MAX_NUM_FORMS": "1000",
    }
    response = client.post(f"/admin/editor/provider/{provider.pk}/change/", data)
    assert response.status_code == 302, response.content.decode()[:3000]
    assert Provider.objects.get(pk=provider.pk).api_key == "sk-replaced"


def test_providers_list_never_shows_the_key(db: None) -> None:
    catalog.provider_create(name="router", kind="nanogpt", api_key=API_KEY, sync=False)
    out = io.StringIO()
    call_command("providers", "list", stdout=out)
    assert "router" in out.getvalue() and "key set" in out.getvalue()
    assert API_KEY not in out.getvalue()


# --- manage.py providers add / sync --------------------------------------------


def test_providers_add_and_sync_work_for_a_table_kind_and_a_listing_kind(db: None) -> None:
    out = io.StringIO()
    call_command(
        "providers",
        "add",
        "--name",
        "d2",
        "--kind",
        "dalle2",
        "--base-url",
        "https://dalle.example/v1",
        "--api-key",
        API_KEY,
        stdout=out,
    )
    assert "Added d2 with 1 model(s)" in out.getvalue()
    call_command("providers", "sync", "d2", stdout=out)
    assert "Synced d2: 1 model(s)" in out.getvalue()
    fake = OpenAIFake()
    with fake.running():
        call_command(
            "providers",
            "add",
            "--name",
            "oa",
            "--kind",
            "openai",
            "--base-url",
            fake.base_url + "/v1",
            "--api-key",
            API_KEY,
            "--models",
            "gpt-image-1",
            stdout=out,
        )
        call_command("providers", "sync", "oa", stdout=out)
    # The sync says what it added; chat and audio models of the list are not image models.
    assert (
        "Synced oa: Added: gpt-image-1-mini, gpt-image-1.5, gpt-image-2, "
        "gpt-image-2-2026-04-21. 1 model(s) unchanged." in out.getvalue()
    )
    assert sorted(
        ImageModel.objects.usable().filter(provider__name="oa").values_list("model_id", flat=True)
    ) == [
        "gpt-image-1",
        "gpt-image-1-mini",
        "gpt-image-1.5",
        "gpt-image-2",
        "gpt-image-2-2026-04-21",
    ]


def test_providers_sync_reports_an_unreachable_router_without_the_key(
    db: None, monkeypatch: Any
) -> None:
    from django.core.management.base import CommandError

    from editor.providers import http

    monkeypatch.setattr(http, "sleep", lambda seconds: None)
    provider = catalog.provider_create(name="ir", kind="imagerouter", api_key=API_KEY, sync=False)
    provider.base_url = "http://127.0.0.1:9/v1"
    provider.save()
    with pytest.raises(CommandError) as caught:
        call_command("providers", "sync", "ir")
    assert "Could not connect" in str(caught.value)
    assert API_KEY not in str(caught.value)


def test_the_admin_syncs_models_and_reports_failures_without_the_key(db: None) -> None:
    provider = catalog.provider_create(
        name="ir", kind="imagerouter", base_url="http://127.0.0.1:9/v1", api_key=API_KEY, sync=False
    )
    fake = ImageRouterFake()
    admin = User.objects.create_superuser("root", "root@example.com", "pw-for-tests-only")
    client = Client()
    client.force_login(admin)
    form = {"action": "sync_models", "_selected_action": [provider.pk]}
    failed = client.post("/admin/editor/provider/", form, follow=True).content.decode()
    assert "Could not connect" in failed and API_KEY not in failed
    with fake.running():
        Provider.objects.filter(pk=provider.pk).update(base_url=fake.base_url + "/v1")
        synced = client.post("/admin/editor/provider/", form, follow=True).content.decode()
    # The admin capitalises messages; the video model of the list is not offered.
    assert (
        "Ir: Added: black-forest-labs/FLUX-1-schnell, google/gemini-2.5-flash-image, "
        "openai/gpt-image-1, test/test." in synced
    )
