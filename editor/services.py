"""The verbs of Darkroom: create, cancel and delete jobs; keep providers ready."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from editor import events, limits, search, tasks
from editor.forms import ValidatedImage, ValidatedMask
from editor.media import files_delete, image_store
from editor.models import (
    FINAL_STATUSES,
    ApiToken,
    ImageModel,
    ImageRole,
    Job,
    JobImage,
    JobKind,
    JobSource,
    JobStage,
    JobStatus,
    JobWord,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobOrigin:
    """A job made through the image API: which token, and the client's
    Idempotency-Key with the hash of its request (unique per user)."""

    api_token: ApiToken
    idempotency_key: str | None = None
    request_hash: str = ""

    def job_fields(self) -> dict[str, Any]:
        return {
            "source": JobSource.API,
            "api_token": self.api_token,
            "idempotency_key": self.idempotency_key,
            "request_hash": self.request_hash,
        }


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
    now: datetime | None = None,
    origin: JobOrigin | None = None,
    model_available: bool = False,
) -> Job:
    """Store a validated job with its files and queue it once committed.

    ``model_available``: ``image_model`` comes from a ``JobForm`` validated
    for ``user`` in this request, whose choices are the models available to
    them (``limits.submission_admit``).

    Raises ``limits.SubmissionRefused`` (``ModelNotAvailable``, ``OverBudget``,
    ``RateLimited``) before anything is stored or queued when the user may not
    run it now. If anything fails part-way, files already written are removed
    again, so a failed create leaves nothing behind.
    """
    stored: list[JobImage] = []
    try:
        with transaction.atomic():
            reserved = limits.submission_admit(
                user=user,
                image_model=image_model,
                estimated_cost=estimated_cost,
                now=now or timezone.now(),
                model_available=model_available,
            )
            bulk = limits.is_bulk(user=user)
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
                reserved=reserved,
                **(origin.job_fields() if origin else {}),
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
                        orientation=image.orientation,
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
                if mask.convention == "transparent":
                    # Only an uploaded OpenAI-style mask is worth a word: the
                    # painter's masks (white = change) need no explaining.
                    notices.append(
                        "Mask read as transparent = area to change (OpenAI's convention)."
                    )
            if notices:
                job.notices = notices
                job.save(update_fields=["notices"])
            job_enqueue(job=job, bulk=bulk)
    except BaseException:
        files_delete(name for image in stored for name in (image.file.name, image.thumbnail.name))
        raise
    return job


def job_enqueue(*, job: Job, bulk: bool = False) -> None:
    """Send the job to the workers once committed.

    ``bulk``: the owner already has jobs in flight, so this one joins the bulk
    queue, which workers read in turn with the interactive one: a burst from
    one user waits behind itself, not in front of everyone else's jobs.
    """
    job_id = str(job.id)
    # robust: with the broker down the job is still saved and the user sees
    # its page; the periodic sweep sends the message once the broker is back.
    transaction.on_commit(lambda: tasks.enqueue_job(job_id, bulk=bulk), robust=True)


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
        events.job_changed(job.pk, news=events.ENDED)
    return bool(updated)


def jobs_trash(*, jobs: QuerySet[Job]) -> list[uuid.UUID]:
    """Move ``jobs`` to the trash; returns the ids of the jobs moved.

    They leave the history, search, ZIPs and storage totals at once and keep
    their files until restored or purged. A running job still finishes (and
    stores what it paid for). Its words leave the search index, so a search
    stays a walk of that index alone; a restore puts them back.
    """
    with transaction.atomic():
        ids = list(jobs.filter(trashed__isnull=True).values_list("pk", flat=True))
        Job.objects.filter(pk__in=ids).update(trashed=timezone.now())
        JobWord.objects.filter(job_id__in=ids).delete()
    return ids


def jobs_restore(*, jobs: QuerySet[Job]) -> int:
    """Bring trashed ``jobs`` back to the history; returns how many came back."""
    with transaction.atomic():
        restored = list(
            jobs.filter(trashed__isnull=False).only("id", "owner_id", "prompt", "created")
        )
        Job.objects.filter(pk__in=[job.pk for job in restored]).update(trashed=None)
        search.jobs_index(restored)
    return len(restored)


def trash_purge(*, older_than: timedelta) -> int:
    """Delete for good, files and all, every job trashed more than
    ``older_than`` ago; returns how many went.

    A job still running is left for a later purge: its worker may yet store
    files that the purge would miss.
    """
    expired = Job.objects.filter(trashed__lt=timezone.now() - older_than).exclude(
        status=JobStatus.RUNNING
    )
    return jobs_delete(jobs=expired)


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
        # Deleting a job must not hand its spend back to the budget.
        limits.removed_spend_keep(jobs=jobs)
        _, deleted = jobs.delete()
        transaction.on_commit(lambda: files_delete(names))
    return deleted.get(Job._meta.label, 0)
