"""The image API against a live server, a real worker and strict fake providers."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.auth.models import User

from editor import catalog
from editor.api import tokens
from tests.fakes.common import API_KEY, StrictFake
from tests.fakes.dalle2 import Dalle2Fake
from tests.fakes.imagerouter import ImageRouterFake
from tests.fakes.nanogpt import NanoGPTFake
from tests.fakes.openai import OpenAIFake


@pytest.fixture(scope="session")
def live_server_media_url() -> Iterator[None]:
    """Django's live server needs a MEDIA_URL; Darkroom links to none."""
    from django.test.utils import override_settings

    override = override_settings(MEDIA_URL="/unlinked-test-media/")
    override.enable()
    yield
    override.disable()


@pytest.fixture(scope="session")
def live_server(live_server_media_url: None, live_server: Any) -> Any:
    return live_server


@dataclass(frozen=True)
class Kind:
    """One provider kind behind the API: its fake, the model, what it takes."""

    name: str
    fake_class: type[StrictFake]
    model_id: str
    # Input images one edit may carry at this kind (DALL-E 2 takes one).
    edit_images: int
    # How the fake wants the mask: "transparent" (OpenAI's) or "white".
    mask_convention: str
    # The path of the paid call at the fake.
    edit_path: str
    generate_model_id: str = ""

    @property
    def api_model(self) -> str:
        return f"{self.name}-api/{self.model_id}"

    @property
    def api_generate_model(self) -> str:
        return f"{self.name}-api/{self.generate_model_id or self.model_id}"


KINDS = [
    Kind("openai", OpenAIFake, "gpt-image-1", 2, "transparent", "/images/edits"),
    Kind(
        "imagerouter",
        ImageRouterFake,
        "openai/gpt-image-1",
        2,
        "transparent",
        "/images/edits",
    ),
    Kind("dalle2", Dalle2Fake, "dall-e-2", 1, "transparent", "/images/edits"),
    Kind("nanogpt", NanoGPTFake, "gpt-image-1", 2, "white", "/images/generations"),
]


@dataclass
class Backend:
    kind: Kind
    fake: Any
    provider: Any


def start_backend(kind: Kind) -> Iterator[Backend]:
    fake = kind.fake_class()
    with fake.running():
        provider = catalog.provider_create(
            name=f"{kind.name}-api", kind=kind.name, base_url=fake.base_url + "/v1", api_key=API_KEY
        )
        yield Backend(kind=kind, fake=fake, provider=provider)


@pytest.fixture(params=KINDS, ids=[kind.name for kind in KINDS])
def backend(request: Any, transactional_db: None) -> Iterator[Backend]:
    yield from start_backend(request.param)


@pytest.fixture
def openai_backend(transactional_db: None) -> Iterator[Backend]:
    yield from start_backend(KINDS[0])


@pytest.fixture
def carol(transactional_db: None) -> User:
    return User.objects.create_user("carol", "carol@example.com", "correct horse battery")


@pytest.fixture
def dave(transactional_db: None) -> User:
    return User.objects.create_user("dave", "dave@example.com", "correct horse battery")


@pytest.fixture
def carol_token(carol: User) -> tokens.NewToken:
    return tokens.token_create(user=carol, name="scripts")


@pytest.fixture
def dave_token(dave: User) -> tokens.NewToken:
    return tokens.token_create(user=dave, name="dave's scripts")


def sdk(live_server: Any, secret: str, **options: Any) -> Any:
    """The official openai SDK, unchanged, pointed at Darkroom."""
    import openai

    options.setdefault("max_retries", 0)
    options.setdefault("timeout", 60)
    return openai.OpenAI(base_url=live_server.url + "/v1", api_key=secret, **options)
