from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from editor.models import ImageModel, Provider


def run(*args: str) -> str:
    from io import StringIO

    out = StringIO()
    call_command("providers", *args, stdout=out)
    return out.getvalue()


def test_a_fresh_install_has_the_offline_provider_ready(db: None) -> None:
    assert "offline-demo  Offline demo (no AI)  [edit/generate]" in run("list")


def test_add_and_remove_an_offline_provider(db: None) -> None:
    assert "Added demo2 with 1 model(s)." in run("add", "--name", "demo2", "--kind", "offline")
    assert ImageModel.objects.filter(provider__name="demo2", model_id="offline-demo").exists()
    assert "Removed demo2." in run("remove", "demo2")
    assert not Provider.objects.filter(name="demo2").exists()


def test_sync_refreshes_models(db: None) -> None:
    ImageModel.objects.filter(provider__name="offline").update(label="stale", max_images=1)
    assert "Synced offline: Changed offline-demo: label, max_images." in run("sync", "offline")
    model = ImageModel.objects.get(provider__name="offline")
    assert (model.label, model.max_images) == ("Offline demo (no AI)", 16)


def test_it_refuses_a_duplicate_name_and_unknown_names(db: None) -> None:
    with pytest.raises(CommandError, match="already exists"):
        run("add", "--name", "offline", "--kind", "offline")
    with pytest.raises(CommandError, match="No provider named nope"):
        run("remove", "nope")
    with pytest.raises(CommandError, match="No provider named nope"):
        run("sync", "nope")


def test_it_reads_the_key_from_an_environment_variable_and_never_prints_it(
    db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEMO_KEY", "sk-secret-123")
    run("add", "--name", "keyed", "--kind", "offline", "--api-key-env", "DEMO_KEY")
    provider = Provider.objects.get(name="keyed")
    assert provider.api_key == "sk-secret-123"
    assert "sk-secret-123" not in provider.api_key_encrypted
    assert "sk-secret-123" not in run("list")
    with pytest.raises(CommandError, match="MISSING_KEY is empty or unset"):
        run("add", "--name", "other", "--kind", "offline", "--api-key-env", "MISSING_KEY")
