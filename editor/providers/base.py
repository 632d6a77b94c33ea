"""The interface every provider kind implements, and the errors they raise.

Nothing in here knows about Django models: the pipeline hands an adapter a
``ProviderConfig`` and an ``ImageRequest`` and gets back a ``ProviderResult``
or a ``ProviderError``.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar, Protocol

from editor.compositing import Placement
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


@dataclass(frozen=True)
class DecodedImage:
    """An answer's base64 image as the pipeline decoded it on arrival."""

    data: bytes
    sha256: str


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
    # Where the first image sat in what was sent, when the adapter had to
    # place it on a larger canvas (padding to a square): results are cut back.
    placement: Placement | None = None


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
    # One of the shapes ``editor.pricing`` reads (per image, per size, a range,
    # or token prices); empty when nobody knows the price.
    pricing: dict[str, Any] = field(default_factory=dict)

    def with_facts(self, facts: Mapping[str, Any]) -> ModelSpec:
        """This spec with what a provider's listing states laid over it.

        A listing wins wherever it speaks; our knowledge fills what it leaves
        out. Parameters merge by name, so a listing that gives the sizes does
        not drop a parameter only our tables know (e.g. Kontext's max mode).
        """
        changes = {name: value for name, value in facts.items() if name in SPEC_FIELDS}
        if "parameters" in changes:
            changes["parameters"] = {**self.parameters, **changes["parameters"]}
        return replace(self, **changes)


SPEC_FIELDS = frozenset(
    {
        "label",
        "can_edit",
        "can_generate",
        "supports_mask",
        "max_images",
        "max_prompt_length",
        "parameters",
        "pricing",
    }
)


# What a provider's model listing says of its models: model id -> the
# ModelSpec fields it states. None from ``ProviderAdapter.listing`` means the
# kind has no listing to ask.
Listing = dict[str, dict[str, Any]]


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

    def decoded_image(self, encoded: str) -> DecodedImage | None:
        """The bytes of ``encoded`` (an answer's base64), when they were
        decoded and hashed already: the results are not decoded twice."""
        ...


class NullObserver:
    """For calls no job watches (model lists, results rebuilt from a saved
    answer or a drawing): nothing to report, nothing decoded before."""

    def stage(self, stage: str) -> None:
        return

    def response_received(self, payload: Mapping[str, Any]) -> None:
        return

    def decoded_image(self, encoded: str) -> DecodedImage | None:
        return None


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

    # What Darkroom knows of this kind's usual models: facts that fill the
    # gaps a provider's listing leaves, never a whitelist.
    model_table: ClassVar[Sequence[ModelSpec]] = ()

    def listing(self) -> Listing | None:
        """What the provider says of its models, asked over the network.

        None for kinds whose provider has no model listing; their models are
        then the ones ``model_table`` describes.
        """
        return None

    @classmethod
    def known_spec(cls, model_id: str) -> ModelSpec | None:
        """Our knowledge of ``model_id`` on this kind, if we have any."""
        return next((spec for spec in cls.model_table if spec.model_id == model_id), None)

    @classmethod
    def default_spec(cls, model_id: str) -> ModelSpec:
        """What an id we know nothing about may safely be assumed to do.

        Conservative on purpose: one image, no mask, one result, no extra
        parameters. An operator widens it in the admin.
        """
        return ModelSpec(
            model_id=model_id,
            label=model_id,
            can_edit=True,
            can_generate=True,
            supports_mask=False,
            max_images=1,
            max_prompt_length=4000,
            parameters={"n": {"min": 1, "max": 1, "default": 1}},
        )

    @classmethod
    def spec_for(cls, model_id: str, facts: Mapping[str, Any] | None = None) -> ModelSpec:
        """The capabilities of ``model_id``: the listing's facts over our knowledge."""
        base = cls.known_spec(model_id) or cls.default_spec(model_id)
        return base.with_facts(facts or {})

    def list_models(self) -> list[ModelSpec]:
        """The models this provider offers, with their capabilities."""
        listed = self.listing()
        if listed is None:
            return list(self.model_table)
        return [self.spec_for(model_id, facts) for model_id, facts in sorted(listed.items())]

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
