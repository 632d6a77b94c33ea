"""The interface every provider kind implements, and the errors they raise.

Nothing in here knows about Django models: the pipeline hands an adapter a
``ProviderConfig`` and an ``ImageRequest`` and gets back a ``ProviderResult``
or a ``ProviderError``.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar, Protocol

from editor.imaging import ImageInfo


@dataclass(frozen=True)
class ProviderConfig:
    name: str
    kind: str
    base_url: str
    api_key: str
    connect_timeout: float
    deadline: float
    result_hosts: tuple[str, ...] = ()

    def __repr__(self) -> str:
        # Keep the key out of tracebacks and logs.
        return f"ProviderConfig(name={self.name!r}, kind={self.kind!r}, base_url={self.base_url!r})"


@dataclass(frozen=True)
class SourceImage:
    data: bytes
    width: int
    height: int
    format: str  # "PNG", "JPEG" or "WEBP"

    @property
    def size(self) -> tuple[int, int]:
        return (self.width, self.height)


@dataclass(frozen=True)
class ImageRequest:
    model_id: str
    prompt: str
    params: Mapping[str, Any]
    # Empty for a text-to-image generation.
    images: tuple[SourceImage, ...] = ()
    # The canonical mask: greyscale PNG the size of images[0], 255 = change.
    mask: bytes | None = None


@dataclass(frozen=True)
class ResultImage:
    data: bytes
    source_url: str = ""
    # Set when the adapter already decoded the bytes, so they are not
    # decoded a second time before they are stored.
    info: ImageInfo | None = None


@dataclass
class ProviderResult:
    images: list[ResultImage]
    usage: dict[str, Any] = field(default_factory=dict)
    cost: Decimal | None = None
    # What the adapter changed to fit the provider, in words for the user.
    notices: list[str] = field(default_factory=list)
    # The mask exactly as the provider received it, when one was sent.
    sent_mask: bytes | None = None
    # When the provider's result URLs stop working, if it gave URLs.
    result_deadline: datetime | None = None


@dataclass(frozen=True)
class ModelSpec:
    """What a provider says (or our tables say) one of its models can do."""

    model_id: str
    label: str
    can_edit: bool
    can_generate: bool
    supports_mask: bool
    max_images: int
    max_prompt_length: int
    parameters: dict[str, dict[str, Any]] = field(default_factory=dict)
    pricing: dict[str, Any] = field(default_factory=dict)


class ProviderError(Exception):
    """A call that ended without results. ``message`` is shown to the user.

    ``retryable`` is true only when the provider surely did not run the call
    (nothing was charged), so repeating it is safe. ``may_have_charged`` is
    true when the request was sent and its outcome is unknown.
    """

    def __init__(
        self,
        message: str,
        *,
        code: str,
        detail: Mapping[str, Any] | None = None,
        retryable: bool = False,
        may_have_charged: bool = False,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.detail = dict(detail or {})
        self.retryable = retryable
        self.may_have_charged = may_have_charged
        self.retry_after = retry_after


class CallObserver(Protocol):
    """How an adapter tells the pipeline where it is and what it received."""

    def stage(self, stage: str) -> None: ...

    def response_received(self, payload: Mapping[str, Any]) -> None: ...


class ProviderAdapter(abc.ABC):
    kind: ClassVar[str]
    needs_api_key: ClassVar[bool] = True
    default_base_url: ClassVar[str] = ""

    def __init__(self, config: ProviderConfig) -> None:
        self.config = config

    @abc.abstractmethod
    def edit(self, request: ImageRequest, *, observer: CallObserver) -> ProviderResult: ...

    @abc.abstractmethod
    def generate(self, request: ImageRequest, *, observer: CallObserver) -> ProviderResult: ...

    # The models a table in our code describes, for kinds whose provider
    # cannot describe its own; empty for kinds that list theirs.
    model_table: ClassVar[Sequence[ModelSpec]] = ()

    def list_models(self) -> list[ModelSpec]:
        """The models this provider offers, with their capabilities."""
        return list(self.model_table)

    @classmethod
    def known_models(cls) -> list[ModelSpec] | None:
        """The models our own tables describe, without asking the provider.

        None for kinds whose models only the provider can list; setting up a
        provider of the other kinds then needs no network.
        """
        return list(cls.model_table) or None

    def results_from_response(
        self, payload: Mapping[str, Any], request: ImageRequest
    ) -> ProviderResult:
        """The results of an answer saved earlier through ``observer.response_received``.

        A worker that stopped after the provider answered leaves the answer on
        the job; the next delivery calls this instead of the provider, so a
        paid result is never lost and never paid twice. A kind implements it
        by running the same decoding (and result downloads) its ``edit`` and
        ``generate`` run after ``response_received``. The default says the
        answer cannot be rebuilt, and the job fails with that message.
        """
        raise ProviderError(
            f"{self.config.name} answered, but the worker stopped before the results were "
            "stored and Darkroom cannot rebuild them from the saved answer. The provider "
            "may have charged for this; retry if you still want the result.",
            code="unrecoverable_response",
            may_have_charged=True,
        )
