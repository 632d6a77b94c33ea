"""The verbs of Darkroom: create, cancel and delete jobs; keep providers ready."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from editor import crypto, search, tasks
from editor.forms import ValidatedImage, ValidatedMask
from editor.media import files_delete, image_store
from editor.models import (
    FINAL_STATUSES,
    ImageModel,
    ImageRole,
    Job,
    JobImage,
    JobKind,
    JobStage,
    JobStatus,
    Provider,
    ProviderKind,
)
from editor.providers.base import ModelSpec, ProviderError
from editor.providers.registry import adapter_class, adapter_for

logger = logging.getLogger(__name__)


def job_create(
    *,
    user: User,
    image_model: ImageModel,
    prompt: str,
    params: dict[str, Any],
    images: Sequence[ValidatedImage],
    mask: ValidatedMask | None = None,
    parent: Job | None = None,
) -> Job:
    """Store a validated job with its files and queue it once committed.

    If anything fails part-way, files already written are removed again, so a
    failed create leaves nothing behind.
    """
    stored: list[JobImage] = []
    try:
        with transaction.atomic():
            job = Job.objects.create(
                owner=user,
                kind=JobKind.EDIT if images else JobKind.GENERATE,
                image_model=image_model,
                model_label=image_model.label,
                provider_name=image_model.provider.name,
                prompt=prompt,
                params=params,
                parent=parent,
            )
            search.jobs_index([job])
            for position, image in enumerate(images):
                stored.append(
                    image_store(
                        job=job,
                        role=ImageRole.INPUT,
                        position=position,
                        data=image.data,
                        info=image.info,
                        thumbnail=image.thumbnail,
                    )
                )
            notices = [
                f"Image {position + 1} is animated; only its first frame was used."
                for position, image in enumerate(images)
                if image.animated
            ]
            if mask is not None:
                stored.append(
                    image_store(
                        job=job,
                        role=ImageRole.MASK,
                        position=0,
                        data=mask.canonical,
                        info=mask.info,
                    )
                )
                notices.append(_mask_notice(mask.convention))
            if notices:
                job.notices = notices
                job.save(update_fields=["notices"])
            job_enqueue(job=job)
    except BaseException:
        files_delete(name for image in stored for name in (image.file.name, image.thumbnail.name))
        raise
    return job


def _mask_notice(convention: str) -> str:
    if convention == "transparent":
        return "Mask read as transparent = area to change (OpenAI's convention)."
    return "Mask read as white = area to change, black = keep."


def job_enqueue(*, job: Job) -> None:
    job_id = str(job.id)
    # robust: with the broker down the job is still saved and the user sees
    # its page; the periodic sweep sends the message once the broker is back.
    transaction.on_commit(lambda: tasks.run_job.delay(job_id), robust=True)


def job_cancel(*, job: Job) -> bool:
    """Cancel a job that has not finished. A running provider call is abandoned
    (its result, if it still arrives, is kept but the job stays canceled)."""
    updated = (
        Job.objects.filter(pk=job.pk)
        .exclude(status__in=FINAL_STATUSES)
        .update(
            status=JobStatus.CANCELED,
            stage=JobStage.DONE,
            finished=timezone.now(),
            error_code="canceled",
            error_message="Canceled by you.",
        )
    )
    job.refresh_from_db()
    return bool(updated)


def job_delete(*, job: Job) -> None:
    """Delete a job and every file it stored."""
    jobs_delete(jobs=Job.objects.filter(pk=job.pk))


def jobs_delete(*, jobs: QuerySet[Job]) -> int:
    """Delete ``jobs`` and every file they stored; returns how many jobs went.

    One query finds the files and one cascade deletes the rows, however many
    jobs are selected; the files go once the rows are surely gone.
    """
    names = [
        name
        for file_name, thumb_name in JobImage.objects.filter(job__in=jobs).values_list(
            "file", "thumbnail"
        )
        for name in (file_name, thumb_name)
    ]
    with transaction.atomic():
        _, deleted = jobs.delete()
        transaction.on_commit(lambda: files_delete(names))
    return deleted.get(Job._meta.label, 0)


# --- Providers ---------------------------------------------------------------


def provider_create(
    *,
    name: str,
    kind: str,
    base_url: str = "",
    api_key: str = "",
    model_ids: Sequence[str] = (),
    sync: bool = True,
) -> Provider:
    adapter = adapter_class(kind)
    if adapter.needs_api_key and not api_key:
        raise ValueError(f"A {kind} provider needs an API key.")
    provider = Provider(name=name, kind=kind, base_url=base_url or adapter.default_base_url)
    provider.api_key = api_key
    provider.full_clean()
    with transaction.atomic():
        provider.save()
        if sync:
            provider_sync_models(provider=provider, only=model_ids)
    return provider


def provider_sync_models(
    *, provider: Provider, only: Sequence[str] = (), offline: bool = False
) -> list[ImageModel]:
    """Create or update the provider's models from what it reports.

    ``only`` limits the sync to those model ids; models the provider no longer
    lists are disabled, not deleted, so past jobs keep their link. With
    ``offline``, kinds whose models come from our own tables are set up from
    them without calling the provider.
    """
    known = adapter_class(provider.kind).known_models() if offline else None
    specs = known if known is not None else adapter_for(provider.config()).list_models()
    if only:
        specs = [spec for spec in specs if spec.model_id in set(only)]
        missing = set(only) - {spec.model_id for spec in specs}
        if missing:
            raise ValueError(f"{provider.name} does not offer: {', '.join(sorted(missing))}.")
    now = timezone.now()
    synced = [_model_upsert(provider=provider, spec=spec, now=now) for spec in specs]
    if not only:
        provider.models.exclude(pk__in=[model.pk for model in synced]).update(enabled=False)
    return synced


def _model_upsert(*, provider: Provider, spec: ModelSpec, now: Any) -> ImageModel:
    model, _ = ImageModel.objects.update_or_create(
        provider=provider,
        model_id=spec.model_id,
        defaults={
            "label": spec.label,
            "can_edit": spec.can_edit,
            "can_generate": spec.can_generate,
            "supports_mask": spec.supports_mask,
            "max_images": spec.max_images,
            "max_prompt_length": spec.max_prompt_length,
            "parameters": spec.parameters,
            "pricing": spec.pricing,
            "synced": now,
            "enabled": True,
        },
    )
    return model


def providers_ensure_defaults() -> None:
    """Make sure the offline demo provider exists, and the providers the
    environment asks for (``OPENAI_API_KEY`` and friends, see the README).

    Runs after every migrate, so it must not fail: kinds whose models come
    from our tables need no network; ImageRouter's models are synced when the
    router answers and can be synced later with ``providers sync``.
    """
    if not Provider.objects.filter(kind=ProviderKind.OFFLINE).exists():
        provider_create(name="offline", kind=ProviderKind.OFFLINE)
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
    try:
        provider_sync_models(provider=provider, offline=True)
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
