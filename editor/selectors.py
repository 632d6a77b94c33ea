"""Reads scoped to a user. Every lookup of a job or file goes through here."""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import F, Prefetch, QuerySet
from django.db.models.fields.tuple_lookups import Tuple, TupleLessThan
from django.http import Http404

from editor.models import ImageRole, Job, JobImage, JobStatus

User = AbstractBaseUser | AnonymousUser


def job_for_user(*, user: User, job_id: uuid.UUID | str) -> Job:
    """The user's job, or 404 — the same answer whether it exists or not."""
    try:
        return (
            Job.objects.select_related("image_model__provider", "parent")
            .prefetch_related("images")
            .get(pk=job_id, owner_id=user.pk)
        )
    except (Job.DoesNotExist, ValueError):
        raise Http404("No such job.") from None


def image_for_user(*, user: User, image_id: uuid.UUID | str) -> JobImage:
    try:
        return JobImage.objects.get(pk=image_id, job__owner_id=user.pk)
    except (JobImage.DoesNotExist, ValueError):
        raise Http404("No such image.") from None


def queue_position(*, job: Job) -> int | None:
    """1 for the user's oldest queued job, 2 for the next, ... None if not queued."""
    if job.status != JobStatus.QUEUED:
        return None
    ahead = Job.objects.filter(
        owner_id=job.owner_id, status=JobStatus.QUEUED, created__lt=job.created
    ).count()
    return ahead + 1


# --- History -------------------------------------------------------------------


@dataclass(frozen=True)
class HistoryPage:
    jobs: Sequence[Job]
    next_cursor: str | None


def encode_cursor(job: Job) -> str:
    raw = f"{job.created.isoformat()}|{job.pk}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID] | None:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        created, job_id = raw.split("|", 1)
        return datetime.fromisoformat(created), uuid.UUID(job_id)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None


def history_page(
    *,
    user: User,
    cursor: str | None = None,
    page_size: int = 24,
    filters: dict[str, Any] | None = None,
) -> HistoryPage:
    """One page of the user's jobs, newest first, by keyset on (created, id).

    The row-value comparison lets the database walk the (owner, created, id)
    index from the cursor, so the last page costs what the first does.
    """
    jobs: QuerySet[Job] = Job.objects.filter(owner_id=user.pk, **(filters or {}))
    position = decode_cursor(cursor) if cursor else None
    if position is not None:
        jobs = jobs.filter(TupleLessThan(Tuple(F("created"), F("id")), position))
    thumbnails = Prefetch(
        "images",
        queryset=JobImage.objects.filter(role__in=[ImageRole.RESULT, ImageRole.INPUT]).only(
            "id", "job_id", "role", "position", "thumbnail"
        ),
        to_attr="listed_images",
    )
    rows = list(jobs.order_by("-created", "-id").prefetch_related(thumbnails)[: page_size + 1])
    has_more = len(rows) > page_size
    rows = rows[:page_size]
    return HistoryPage(jobs=rows, next_cursor=encode_cursor(rows[-1]) if has_more else None)


def job_cover(job: Job) -> JobImage | None:
    """The picture that stands for a job in lists: its first result, else first input."""
    images = getattr(job, "listed_images", None)
    if images is None:
        images = list(job.images.all())
    for role in (ImageRole.RESULT, ImageRole.INPUT):
        for image in sorted(images, key=lambda item: item.position):
            if image.role == role:
                return image
    return None
