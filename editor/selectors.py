"""Reads scoped to a user. Every lookup of a job or file goes through here."""

from __future__ import annotations

import base64
import binascii
import hashlib
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import ValidationError
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.fields.tuple_lookups import Tuple, TupleLessThan
from django.db.models.functions import TruncMonth
from django.http import Http404

from editor.models import (
    FINAL_STATUSES,
    ImageModel,
    ImageRole,
    Job,
    JobImage,
    JobStatus,
    JobWord,
    Provider,
    ProviderKind,
)

User = AbstractBaseUser | AnonymousUser


def job_for_user(*, user: User, job_id: uuid.UUID | str) -> Job:
    """The user's job, or 404 — the same answer whether it exists or not.

    A job in the trash answers 404 too: it is gone from everywhere but the
    trash page until it is restored.
    """
    return _owned_job(
        Job.objects.select_related("image_model__provider", "parent")
        .prefetch_related("images")
        # The saved provider answer can hold megabytes of base64 that no
        # page shows; the status poll reads this every second.
        .defer("provider_response", "parent__provider_response"),
        user=user,
        job_id=job_id,
    )


def api_job_for_user(*, user: User, job_id: uuid.UUID | str) -> Job:
    """``job_for_user`` for the image API's answers, which show no parent:
    a join and a deferred model fewer on the way to a waiting client."""
    return _owned_job(
        Job.objects.select_related("image_model__provider")
        .prefetch_related("images")
        .defer("provider_response"),
        user=user,
        job_id=job_id,
    )


def _owned_job(jobs: QuerySet[Job], *, user: User, job_id: uuid.UUID | str) -> Job:
    try:
        return jobs.get(pk=job_id, owner_id=user.pk, trashed__isnull=True)
    except (Job.DoesNotExist, ValueError, ValidationError):
        # A malformed id is a job that does not exist, nothing more.
        raise Http404("No such job.") from None


@dataclass(frozen=True)
class JobVersion:
    """What the job page shows of a job, reduced to a tag that changes with it."""

    etag: str
    is_final: bool


def job_version(*, user: User, job_id: uuid.UUID | str) -> JobVersion:
    """The user's job's current version in one query (404 for anyone else's).

    Everything the live part of the job page shows changes one of these
    columns: the status and stage, the moments it reached them, the files it
    stored and its place in the user's queue. The heartbeat is left out: it
    changes every few seconds while nothing the user sees does.
    """
    queued_ahead = (
        Job.objects.filter(
            owner_id=OuterRef("owner_id"), status=JobStatus.QUEUED, created__lt=OuterRef("created")
        )
        .values("owner_id")
        .annotate(count=Count("pk"))
        .values("count")
    )
    try:
        row = (
            # A job in the trash answers 404, as its page does.
            Job.objects.filter(pk=job_id, owner_id=user.pk, trashed__isnull=True)
            .annotate(ahead=Subquery(queued_ahead))
            .values_list(
                "status",
                "stage",
                "started",
                "sent",
                "answered",
                "finished",
                "stored_bytes",
                "deliveries",
                "ahead",
            )
            .get()
        )
    except (Job.DoesNotExist, ValueError, ValidationError):
        raise Http404("No such job.") from None
    digest = hashlib.blake2b(repr(row).encode(), digest_size=12).hexdigest()
    return JobVersion(etag=f'"{digest}"', is_final=row[0] in FINAL_STATUSES)


def image_for_user(*, user: User, image_id: uuid.UUID | str) -> JobImage:
    try:
        return JobImage.objects.get(pk=image_id, job__owner_id=user.pk)
    except (JobImage.DoesNotExist, ValueError, ValidationError):
        raise Http404("No such image.") from None


def default_model(*, user: User | None, models: Sequence[ImageModel]) -> ImageModel | None:
    """The model the editor opens on: the user's last one while it is still
    offered, else the most capable one (the demo only when nothing else is)."""
    if not models:
        return None
    if user is not None and user.is_authenticated:
        last = (
            Job.objects.filter(owner_id=user.pk)
            .order_by("-created", "-id")
            .values_list("image_model_id", flat=True)
            .first()
        )
        chosen = next((model for model in models if model.pk == last), None)
        if chosen is not None:
            return chosen
    return max(models, key=_capability_rank)


def _capability_rank(model: ImageModel) -> tuple[bool, bool, bool, bool, int, bool, int, bool]:
    size = (model.parameters or {}).get("size") or {}
    return (
        model.provider.kind != ProviderKind.OFFLINE,
        model.can_edit and model.supports_mask,
        model.can_edit,
        model.can_generate,
        model.max_images,
        # Any size within rules, then the most sizes: the newer models.
        bool(size.get("custom")),
        len(size.get("choices") or []),
        bool(model.pricing),
    )


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
class HistoryFilters:
    """What the user narrowed the history to; every field is optional."""

    words: tuple[str, ...] = ()
    image_model_id: int | None = None
    provider: str = ""
    status: str = ""
    kind: str = ""
    created_from: datetime | None = None
    # Exclusive: the first moment after the last day asked for.
    created_before: datetime | None = None

    @property
    def active(self) -> bool:
        return self != HistoryFilters()


@dataclass(frozen=True)
class HistoryPage:
    jobs: Sequence[Job]
    next_cursor: str | None
    # Job id -> the image whose thumbnail stands for it (first result, else first input).
    covers: Mapping[uuid.UUID, uuid.UUID]


def encode_cursor(job: Job) -> str:
    raw = f"{job.created.isoformat()}|{job.pk}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID] | None:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        created, job_id = raw.split("|", 1)
        moment = datetime.fromisoformat(created)
        if moment.tzinfo is None:
            return None
        return moment, uuid.UUID(job_id)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None


def _before(position: tuple[datetime, uuid.UUID], *, id_field: str) -> Q:
    """Rows after the cursor in newest-first order: (created, id) < position.

    PostgreSQL compares the row values inside the index. Django spells the
    comparison as ``created < x OR (created = x AND id < y)`` on SQLite, whose
    planner then walks the index from the newest row (measured: 43 ms for the
    last of 100 000 jobs); the redundant ``created <= x`` gives it the range
    to seek to (0.04 ms), and costs PostgreSQL nothing.
    """
    created, _ = position
    return Q(created__lte=created) & Q(TupleLessThan(Tuple(F("created"), F(id_field)), position))


def _job_conditions(filters: HistoryFilters, prefix: str = "") -> Q:
    """The non-search filters, on Job (prefix "") or through a relation to it."""
    conditions = Q()
    if filters.image_model_id is not None:
        conditions &= Q(**{f"{prefix}image_model_id": filters.image_model_id})
    if filters.provider:
        conditions &= Q(**{f"{prefix}provider_name": filters.provider})
    if filters.status:
        conditions &= Q(**{f"{prefix}status": filters.status})
    if filters.kind:
        conditions &= Q(**{f"{prefix}kind": filters.kind})
    if filters.created_from is not None:
        conditions &= Q(**{f"{prefix}created__gte": filters.created_from})
    if filters.created_before is not None:
        conditions &= Q(**{f"{prefix}created__lt": filters.created_before})
    return conditions


def _matching_job_ids(
    *,
    user: User,
    filters: HistoryFilters,
    position: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> QuerySet[JobWord, uuid.UUID]:
    """Ids of the next ``limit`` jobs whose prompt has every searched word.

    The longest word (usually the rarest) drives: the database walks the
    (owner, word, created, job) index from the cursor, newest first, checks the
    other words by their unique (job, word) index, and stops after ``limit``.
    """
    driving, *others = sorted(filters.words, key=len, reverse=True)
    matches = JobWord.objects.filter(
        _job_conditions(filters, "job__"), owner_id=user.pk, word=driving
    )
    for word in others:
        matches = matches.filter(
            Exists(JobWord.objects.filter(job_id=OuterRef("job_id"), word=word))
        )
    if position is not None:
        matches = matches.filter(_before(position, id_field="job_id"))
    return matches.order_by("-created", "-job_id").values_list("job_id", flat=True)[:limit]


HISTORY_COLUMNS = (
    "id",
    "source",
    "owner_id",
    "created",
    "prompt",
    "status",
    "kind",
    "model_label",
    "provider_name",
    "cost",
    "estimated_cost",
    "mask_leak",
)


def history_page(
    *,
    user: User,
    cursor: str | None = None,
    page_size: int = 24,
    filters: HistoryFilters | None = None,
) -> HistoryPage:
    """One page of the user's jobs, newest first, by keyset on (created, id).

    The row-value comparison lets the database walk the (owner, created, id)
    index from the cursor, so the last page costs what the first does. One
    query whatever the page: the jobs with their cover thumbnails.
    """
    filters = filters or HistoryFilters()
    position = decode_cursor(cursor) if cursor else None
    jobs: QuerySet[Job] = Job.objects.filter(owner_id=user.pk, trashed__isnull=True)
    if filters.words:
        ids = _matching_job_ids(user=user, filters=filters, position=position, limit=page_size + 1)
        jobs = jobs.filter(pk__in=ids)
    else:
        jobs = jobs.filter(_job_conditions(filters))
        if position is not None:
            jobs = jobs.filter(_before(position, id_field="id"))
    # Only what a history entry shows: the JSON columns cost more to decode
    # than the query costs to run.
    listed = jobs.order_by("-created", "-id").only(*HISTORY_COLUMNS)
    rows = list(listed.annotate(cover_id=_cover_subquery())[: page_size + 1])
    has_more = len(rows) > page_size
    rows = rows[:page_size]
    return HistoryPage(
        jobs=rows,
        next_cursor=encode_cursor(rows[-1]) if has_more else None,
        covers={job.pk: job.cover_id for job in rows if job.cover_id},  # type: ignore[attr-defined]
    )


def _cover_subquery() -> Subquery:
    """The id of the image whose thumbnail stands for the job of the row.

    It comes in the same query as the jobs: one probe of the (job, role,
    position) index per row, no second round trip, and no JobImage instances
    to build (a prefetch cost more than the query).
    """
    cover = (
        # A result's thumbnail is made when first asked for (media.thumbnail_ensure).
        JobImage.objects.filter(job_id=OuterRef("pk"), role__in=[ImageRole.RESULT, ImageRole.INPUT])
        .order_by("-role", "position")  # "result" before "input", then the first
        .values("id")[:1]
    )
    return Subquery(cover)


def history_entry(*, user: User, job_id: uuid.UUID) -> HistoryPage:
    """One job as the history shows it (for the live status of a running row),
    as a page of one: one query, and nothing for a job not in the history."""
    rows = list(
        Job.objects.filter(pk=job_id, owner_id=user.pk, trashed__isnull=True)
        .only(*HISTORY_COLUMNS)
        .annotate(cover_id=_cover_subquery())
    )
    return HistoryPage(
        jobs=rows,
        next_cursor=None,
        covers={job.pk: job.cover_id for job in rows if job.cover_id},  # type: ignore[attr-defined]
    )


TRASH_PAGE_SIZE = 200


def trash_page(*, user: User) -> HistoryPage:
    """The user's trashed jobs, most recently trashed first (one query)."""
    rows = list(
        Job.objects.filter(owner_id=user.pk, trashed__isnull=False)
        .order_by("-trashed", "-id")
        .only(*HISTORY_COLUMNS, "trashed")
        .annotate(cover_id=_cover_subquery())[: TRASH_PAGE_SIZE + 1]
    )
    return HistoryPage(
        jobs=rows[:TRASH_PAGE_SIZE],
        next_cursor="more" if len(rows) > TRASH_PAGE_SIZE else None,
        covers={job.pk: job.cover_id for job in rows if job.cover_id},  # type: ignore[attr-defined]
    )


def history_choices(*, user: User) -> tuple[list[tuple[int, str]], list[str]]:
    """The models and providers the history can be filtered by.

    One query (providers with their models, if any) of plain values: this runs
    on every history request.
    """
    rows = Provider.objects.order_by("name").values_list("name", "models__pk", "models__label")
    providers = list(dict.fromkeys(name for name, _, _ in rows))
    offered = sorted((label, name, pk) for name, pk, label in rows if pk is not None)
    labels = [label for label, _, _ in offered]
    models = [
        # The provider is named only where two providers offer the same label.
        (pk, label if labels.count(label) == 1 else f"{label} ({name})")
        for label, name, pk in offered
    ]
    return models, providers


def jobs_for_user(
    *, user: User, job_ids: Iterable[uuid.UUID], trashed: bool = False
) -> QuerySet[Job]:
    """The user's jobs among ``job_ids``, in the history (or, with ``trashed``,
    in the trash); ids of other users' jobs are ignored."""
    return Job.objects.filter(owner_id=user.pk, pk__in=list(job_ids), trashed__isnull=not trashed)


def result_images_for_user(*, user: User, job_ids: Iterable[uuid.UUID]) -> QuerySet[JobImage]:
    """Result images of the user's jobs among ``job_ids``, job by job, in order."""
    return (
        JobImage.objects.filter(
            job__owner_id=user.pk,
            job_id__in=list(job_ids),
            job__trashed__isnull=True,
            role=ImageRole.RESULT,
        )
        .select_related("job")
        .order_by("-job__created", "job_id", "position")
    )


def storage_used(*, user: User) -> int:
    """Bytes of every file of the user's jobs: originals plus thumbnails.

    One SUM over the (owner, stored_bytes) index: summing the images instead
    took ~100 ms at 100 000 jobs. The trash is left out by taking its own SUM
    (over the small partial trash index) off the total: a ``trashed IS NULL``
    condition would read every job's row instead of the index alone.
    """
    jobs = Job.objects.filter(owner_id=user.pk)
    total = jobs.aggregate(total=Sum("stored_bytes"))["total"] or 0
    in_trash = jobs.filter(trashed__isnull=False).aggregate(total=Sum("stored_bytes"))["total"]
    return int(total - (in_trash or 0))


def monthly_spend(*, user: User, since: datetime) -> list[tuple[datetime, Decimal, int]]:
    """(month, total cost, jobs with a cost) for each month since ``since``,
    newest first, in the current time zone."""
    rows = (
        Job.objects.filter(owner_id=user.pk, created__gte=since, cost__isnull=False)
        .annotate(month=TruncMonth("created"))
        .values("month")
        .annotate(total=Sum("cost"), jobs=Count("id"))
        .order_by("-month")
    )
    return [(row["month"], row["total"], row["jobs"]) for row in rows]


def job_lineage(*, job: Job) -> tuple[Job | None, list[Job]]:
    """The job this one continued from and the jobs that continued from it,
    the owner's only (a lineage link never leads to someone else's job)."""
    parent = job.parent
    if parent is not None and (parent.owner_id != job.owner_id or parent.trashed is not None):
        parent = None
    children = list(
        Job.objects.filter(parent_id=job.pk, owner_id=job.owner_id, trashed__isnull=True)
        .only("id", "created", "prompt", "status", "model_label", "kind")
        .order_by("created", "id")
    )
    return parent, children


def job_cover(job: Job) -> JobImage | None:
    """The picture that stands for a job in lists: its first result, else first input."""
    images = sorted(job.images.all(), key=lambda item: item.position)
    for role in (ImageRole.RESULT, ImageRole.INPUT):
        for image in images:
            if image.role == role:
                return image
    return None
