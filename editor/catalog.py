"""The model catalog: providers and the image models they offer.

Models come from the provider's own listing where it has one, from our
knowledge (the adapters' tables) where it does not say, and from the
operator, who may add any id and edit any capability.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from editor import crypto
from editor.models import ImageModel, Provider, ProviderKind
from editor.providers.base import Listing, ModelSpec, ProviderError
from editor.providers.registry import adapter_class, adapter_for

logger = logging.getLogger(__name__)


def provider_create(
    *,
    name: str,
    kind: str,
    base_url: str = "",
    api_key: str = "",
    model_ids: Sequence[str] = (),
    sync: bool = True,
) -> Provider:
    """Add a provider; with ``model_ids``, those models (listed or not), else
    every model it lists when ``sync``."""
    adapter = adapter_class(kind)
    if adapter.needs_api_key and not api_key:
        raise ValueError(f"A {kind} provider needs an API key.")
    provider = Provider(name=name, kind=kind, base_url=base_url or adapter.default_base_url)
    provider.api_key = api_key
    provider.full_clean()
    with transaction.atomic():
        provider.save()
        if model_ids:
            provider_add_models(provider=provider, model_ids=model_ids)
        elif sync:
            provider_sync_models(provider=provider)
    return provider


@dataclass
class SyncReport:
    """What a sync or an addition changed, for the operator to read."""

    provider: str
    added: list[str] = field(default_factory=list)
    # Model id -> the capability fields that changed.
    changed: dict[str, list[str]] = field(default_factory=dict)
    retired: list[str] = field(default_factory=list)
    restored: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    unchanged: int = 0

    def lines(self) -> list[str]:
        lines = []
        if self.added:
            lines.append(f"Added: {', '.join(self.added)}.")
        for model_id, fields in self.changed.items():
            lines.append(f"Changed {model_id}: {', '.join(fields)}.")
        if self.restored:
            lines.append(f"Offered again: {', '.join(self.restored)}.")
        if self.retired:
            lines.append(f"Retired (no longer listed): {', '.join(self.retired)}.")
        if self.unchanged:
            lines.append(f"{self.unchanged} model(s) unchanged.")
        return lines

    def summary(self) -> str:
        return f"{self.provider}: " + " ".join(self.lines() or ["no models."])


def provider_sync_models(*, provider: Provider, offline: bool = False) -> SyncReport:
    """Refresh the provider's models from its listing (or our table for kinds
    without one) and say what was added, changed and retired.

    Models the provider stops listing are retired, with the reason, never
    deleted, so past jobs keep their link; models an operator added by id stay.
    Fields an operator edited are left as they set them. With ``offline``,
    nothing is asked over the network: our table seeds the provider and
    nothing is retired.
    """
    adapter = adapter_for(provider.config())
    listed = None if offline else adapter.listing()
    if listed is None:
        specs = {spec.model_id: spec for spec in adapter.known_models() or []}
    else:
        specs = {model_id: adapter.spec_for(model_id, facts) for model_id, facts in listed.items()}
    report = SyncReport(provider=provider.name)
    now = timezone.now()
    with transaction.atomic():
        existing = {model.model_id: model for model in provider.models.select_for_update()}
        for model_id, spec in sorted(specs.items()):
            model = existing.get(model_id)
            if model is None:
                model = ImageModel(provider=provider, model_id=model_id)
                _apply_spec(model, spec)
                report.added.append(model_id)
            elif changed := _apply_spec(model, spec):
                report.changed[model_id] = changed
            else:
                report.unchanged += 1
            if model.retired_reason:
                model.retired_reason = ""
                report.restored.append(model_id)
            model.listed = None if listed is None else True
            model.synced = now
            model.save()
        for model_id, model in existing.items():
            if model_id in specs or offline:
                continue
            if model.added_by_operator:
                if listed is not None:
                    model.listed = False
                    model.save(update_fields=["listed"])
                    report.warnings.append(_unlisted_warning(provider, model_id))
            elif not model.retired_reason:
                what = "lists" if listed is not None else "knows"
                model.retired_reason = (
                    f"{provider.name} no longer {what} this model "
                    f"(sync of {timezone.localdate(now):%Y-%m-%d})."
                )
                model.listed = False if listed is not None else None
                model.save(update_fields=["retired_reason", "listed"])
                report.retired.append(model_id)
    return report


def provider_add_models(
    *, provider: Provider, model_ids: Sequence[str], offline: bool = False
) -> SyncReport:
    """Add models by id, whether the provider lists them or not.

    A listed id gets what the listing says; an id we know gets our
    knowledge; any other id the kind's safe defaults. An id the provider does
    not list is added all the same, with a warning: routers serve models they
    do not list yet, and the operator knows their router.
    """
    report = SyncReport(provider=provider.name)
    adapter = adapter_for(provider.config())
    listed: Listing | None = None
    if not offline:
        try:
            listed = adapter.listing()
        except ProviderError as error:
            report.warnings.append(
                f"Could not ask {provider.name} for its models ({error.message}); the models "
                "were added from Darkroom's knowledge or the kind's safe defaults."
            )
    now = timezone.now()
    with transaction.atomic():
        for model_id in dict.fromkeys(model_id.strip() for model_id in model_ids):
            if not model_id:
                continue
            facts = (listed or {}).get(model_id)
            spec = adapter.spec_for(model_id, facts)
            model = provider.models.filter(model_id=model_id).first()
            if model is None:
                model = ImageModel(provider=provider, model_id=model_id)
                _apply_spec(model, spec)
                report.added.append(model_id)
            elif changed := _apply_spec(model, spec):
                report.changed[model_id] = changed
            model.added_by_operator = True
            model.retired_reason = ""
            model.listed = None if listed is None else facts is not None
            model.synced = now
            model.save()
            if listed is not None and facts is None:
                report.warnings.append(
                    _unlisted_warning(provider, model_id, known=adapter.known_spec(model_id))
                )
    return report


def models_reset(*, provider: Provider, model_ids: Sequence[str]) -> SyncReport:
    """Drop the operator's edits of these models and take the listing's
    facts (or our knowledge, or the defaults) again."""
    adapter = adapter_for(provider.config())
    listed = adapter.listing()
    report = SyncReport(provider=provider.name)
    with transaction.atomic():
        for model in provider.models.select_for_update().filter(model_id__in=model_ids):
            model.operator_overrides = []
            spec = adapter.spec_for(model.model_id, (listed or {}).get(model.model_id))
            if changed := _apply_spec(model, spec):
                report.changed[model.model_id] = changed
            else:
                report.unchanged += 1
            model.save()
    return report


def _unlisted_warning(provider: Provider, model_id: str, known: ModelSpec | None = None) -> str:
    source = "Darkroom's knowledge of it" if known else "safe defaults (one image, no mask)"
    return (
        f"{provider.name} does not list “{model_id}”; it is offered with {source}. "
        "Check its capabilities in the admin if it can do more."
    )


def _apply_spec(model: ImageModel, spec: ModelSpec) -> list[str]:
    """Copy ``spec`` onto ``model`` except the fields the operator edited;
    returns the names of the fields that changed."""
    changed = []
    for name in ImageModel.CAPABILITY_FIELDS:
        if name in (model.operator_overrides or []):
            continue
        value = getattr(spec, name)
        if getattr(model, name) != value:
            setattr(model, name, value)
            changed.append(name)
    return changed


def providers_sync_all() -> list[SyncReport]:
    """Sync every enabled provider whose kind lists its models (the periodic task)."""
    reports = []
    for provider in Provider.objects.filter(enabled=True):
        try:
            reports.append(provider_sync_models(provider=provider))
        except ProviderError as error:
            logger.warning("Could not sync the models of %s: %s", provider.name, error.message)
    return reports


def providers_ensure_defaults() -> None:
    """Make sure the offline demo provider exists, and the providers the
    environment asks for (``OPENAI_API_KEY`` and friends, see the README).

    Runs after every migrate, so it must not fail: kinds we have a table for
    are seeded from it without the network (the worker syncs them live when it
    starts, and every DARKROOM_PROVIDER_SYNC_SECONDS); ImageRouter's models are
    synced when the router answers and can be synced later with ``providers sync``.
    """
    offline = Provider.objects.filter(kind=ProviderKind.OFFLINE).first()
    if offline is None:
        provider_create(name="offline", kind=ProviderKind.OFFLINE)
    else:
        # A new release may know more of the demo model (its price, sizes).
        provider_sync_models(provider=offline, offline=True)
    for kind, values in settings.DARKROOM_ENV_PROVIDERS.items():
        if values.get("api_key") and (values.get("base_url") or kind != ProviderKind.DALLE2):
            provider_from_environment(
                kind=kind, api_key=values["api_key"], base_url=values.get("base_url", "")
            )


def provider_from_environment(*, kind: str, api_key: str, base_url: str = "") -> Provider:
    """Create (or update the key and address of) the provider named after ``kind``."""
    base_url = base_url or adapter_class(kind).default_base_url
    provider = Provider.objects.filter(name=kind).first()
    if provider is None:
        provider = provider_create(
            name=kind, kind=kind, base_url=base_url, api_key=api_key, sync=False
        )
    elif _readable_key(provider) != api_key or provider.base_url != base_url:
        provider.api_key = api_key
        provider.base_url = base_url
        provider.save(update_fields=["api_key_encrypted", "base_url"])
    # Kinds we have a table for are seeded from it without the network (a
    # migrate must not wait on a router); the worker syncs them live when it
    # starts. A kind known only by its listing is asked now.
    offline = adapter_class(kind).known_models() is not None
    try:
        provider_sync_models(provider=provider, offline=offline)
    except ProviderError as error:
        # No network at startup must not stop the app; the models can be
        # synced later, and the error message never carries the key.
        logger.warning("Could not sync the models of %s: %s", provider.name, error.message)
    return provider


def _readable_key(provider: Provider) -> str:
    try:
        return provider.api_key
    except crypto.UnreadableSecretError:
        return ""
