from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

# Playwright drives the browser from a thread with a running event loop.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(autouse=True, scope="session")
def celery_broker_from_settings() -> None:
    """Let fixtures point the Celery app at a test broker.

    Celery prefers a CELERY_BROKER_URL environment variable over its
    configuration, so with one set (the services pass of .ci/run) an
    ``app.conf.broker_url = ...`` in a fixture would be ignored. The settings
    have read it already.
    """
    from django.conf import settings

    assert settings.CELERY_BROKER_URL
    os.environ.pop("CELERY_BROKER_URL", None)


@pytest.fixture(autouse=True)
def media_dir(settings: Any, tmp_path: Path) -> Path:
    """Every test stores files in its own temporary folder."""
    media = tmp_path / "media"
    media.mkdir()
    settings.MEDIA_ROOT = media
    storages = {**settings.STORAGES}
    if storages["default"]["BACKEND"].endswith("FileSystemStorage"):
        storages["default"] = {**storages["default"], "OPTIONS": {"location": media}}
    settings.STORAGES = storages
    return media


@pytest.fixture(autouse=True)
def sessions_cache_dir(settings: Any, tmp_path: Path) -> None:
    """Every test keeps its cached sessions in its own folder (the embedded
    file cache), not in var/: the file cache lists its whole folder on each
    write, which slowed the suite as sessions piled up."""
    sessions = settings.CACHES.get("sessions", {})
    if sessions.get("BACKEND", "").endswith("FileBasedCache"):
        location = tmp_path / "sessions-cache"
        settings.CACHES = {**settings.CACHES, "sessions": {**sessions, "LOCATION": str(location)}}


@pytest.fixture(autouse=True)
def signup_open(settings: Any) -> None:
    """Tests sign up freely unless they set another mode: the default depends
    on DEBUG and DATABASE_URL, which differ between test runs."""
    settings.DARKROOM_SIGNUP = "open"
    settings.DARKROOM_SIGNUP_VERIFY_EMAIL = False


@pytest.fixture
def alice(db: None) -> User:
    return User.objects.create_user("alice", "alice@example.com", "correct horse battery")


@pytest.fixture
def bob(db: None) -> User:
    return User.objects.create_user("bob", "bob@example.com", "correct horse battery")


@pytest.fixture
def alice_client(alice: User) -> Client:
    client = Client()
    client.force_login(alice)
    return client


@pytest.fixture
def bob_client(bob: User) -> Client:
    client = Client()
    client.force_login(bob)
    return client


@pytest.fixture
def offline_model(db: None) -> Any:
    from editor.models import ImageModel

    return ImageModel.objects.get(provider__kind="offline")


@pytest.fixture
def celery_worker(transactional_db: None, tmp_path: Path) -> Iterator[Any]:
    """A real Celery worker (threads) on the embedded filesystem broker."""
    from celery.contrib.testing.worker import start_worker

    from tests.services import filesystem_broker
    from webapp.celery import app

    with (
        filesystem_broker(tmp_path / "queue"),
        start_worker(
            app, pool="threads", concurrency=2, perform_ping_check=False, shutdown_timeout=10
        ),
    ):
        yield app


@pytest.fixture
def openai_model(db: None) -> Iterator[tuple[Any, Any]]:
    """A strict fake OpenAI server over HTTP, and its gpt-image-1 as a Darkroom model."""
    from tests.fakes.openai import OpenAIFake
    from tests.providers.conftest import model_of, provider_on

    fake = OpenAIFake()
    with fake.running():
        provider = provider_on(kind="openai", base_url=fake.base_url + "/v1")
        yield fake, model_of(provider, "gpt-image-1")
