"""The verbs of Darkroom: create, cancel and delete jobs; keep providers ready."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from editor import events, search, tasks
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
)

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
    estimated_cost: Decimal | None = None,
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
                estimated_cost=estimated_cost,
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
    if updated:
        events.job_changed(job.pk)
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
