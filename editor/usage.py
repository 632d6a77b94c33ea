"""Who spent what: usage totals by day, user, model and provider.

Days that are over are read from DailyUsage, which the periodic roll-up
keeps (a few rows per user and day however many jobs they ran); the days
after the last roll-up are summed from the jobs themselves, through the
covering ``job_created_usage`` index. Both give the same totals, so pages
are right before the first roll-up and fast after it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Count, DurationField, ExpressionWrapper, F, Q, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from editor import limits
from editor.models import DailyUsage, Job, JobStatus, UsageRollup

# Grouping keys, named as the fields of both Job (with ``day`` annotated)
# and DailyUsage.
DAY = "day"
USER = "owner__username"
# Cheaper than USER (no join to the users' table); name them afterwards.
OWNER = "owner_id"
PROVIDER = "provider_name"
MODEL = "model_label"

# A day is rolled up once it ended this long ago: a job's cost is settled
# when it ends, and a job runs at most CELERY_TASK_TIME_LIMIT (80 minutes).
SETTLE_AFTER = timedelta(hours=3)
# Each roll-up also redoes the last day it had closed, for a job that sat in
# a long queue and settled later still.
REDO_DAYS = 1
# Days rolled up in one transaction, so a first roll-up of years of jobs
# holds no lock for long.
ROLLUP_CHUNK_DAYS = 31

PROVIDER_TIME = ExpressionWrapper(F("answered") - F("sent"), output_field=DurationField())
TIMED = Q(sent__isnull=False, answered__isnull=False)


def monthly_limit_for(user: User) -> Decimal | None:
    """The user's spending limit this month (editor/limits.py); None: no limit."""
    return limits.limits_for(user).monthly


@dataclass
class Totals:
    jobs: int = 0
    failures: int = 0
    cost: Decimal = field(default_factory=Decimal)
    provider_seconds: float = 0.0
    timed_jobs: int = 0

    def add(self, other: Totals) -> None:
        self.jobs += other.jobs
        self.failures += other.failures
        self.cost += other.cost
        self.provider_seconds += other.provider_seconds
        self.timed_jobs += other.timed_jobs

    @property
    def average_provider_seconds(self) -> float | None:
        return self.provider_seconds / self.timed_jobs if self.timed_jobs else None


Key = tuple[Any, ...]


def day_start(day: date) -> datetime:
    """The first moment of ``day`` in the site's time zone (TIME_ZONE)."""
    return timezone.make_aware(datetime.combine(day, time.min))


def month_start(day: date) -> date:
    return day.replace(day=1)


def next_month_start(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def complete_through() -> date | None:
    return UsageRollup.objects.values_list("complete_through", flat=True).first()


def totals_by(
    *,
    keys: tuple[str, ...],
    start: date,
    end: date,
    through: date | None,
    owner: User | None = None,
) -> dict[Key, Totals]:
    """Totals for days ``start`` <= day < ``end``, one per distinct ``keys`` value.

    ``through`` is complete_through(), read once per page. Two queries at
    most: the rolled-up days, then the jobs of the days after them.
    """
    grouped: dict[Key, Totals] = {}
    for key, totals in _rows(keys=keys, start=start, end=end, through=through, owner=owner):
        grouped.setdefault(key, Totals()).add(totals)
    return grouped


def rows_by(
    *, keys: tuple[str, ...], start: date, end: date, through: date | None
) -> Iterator[tuple[Key, Totals]]:
    """Like totals_by, but streamed in order of ``keys`` (for exports).

    Every rolled-up day comes before every day summed from jobs, so with
    ``day`` first in ``keys`` the whole is in order without sorting.
    """
    return _rows(keys=keys, start=start, end=end, through=through, owner=None, ordered=True)


def _rows(
    *,
    keys: tuple[str, ...],
    start: date,
    end: date,
    through: date | None,
    owner: User | None,
    ordered: bool = False,
) -> Iterator[tuple[Key, Totals]]:
    live_from = start
    if through is not None and through >= start:
        rolled = DailyUsage.objects.filter(day__gte=start, day__lt=min(end, through + timedelta(1)))
        if owner is not None:
            rolled = rolled.filter(owner=owner)
        summed = (
            rolled.values(*keys)
            .annotate(
                total_jobs=Sum("jobs"),
                total_failures=Sum("failures"),
                total_cost=Sum("cost"),
                total_seconds=Sum("provider_seconds"),
                total_timed=Sum("timed_jobs"),
            )
            .order_by(*(keys if ordered else ()))
        )
        for row in summed.iterator() if ordered else summed:
            yield (
                tuple(row[key] for key in keys),
                Totals(
                    jobs=row["total_jobs"],
                    failures=row["total_failures"],
                    cost=row["total_cost"] or Decimal(0),
                    provider_seconds=row["total_seconds"] or 0.0,
                    timed_jobs=row["total_timed"],
                ),
            )
        live_from = through + timedelta(days=1)
    if live_from >= end:
        return
    jobs = Job.objects.filter(created__gte=day_start(live_from), created__lt=day_start(end))
    if owner is not None:
        jobs = jobs.filter(owner=owner)
    live = _job_totals(jobs, keys).order_by(*(keys if ordered else ()))
    for row in live.iterator() if ordered else live:
        yield tuple(row[key] for key in keys), _totals_of_jobs(row)


def _job_totals(jobs: QuerySet[Job], keys: Iterable[str]) -> QuerySet[Job, dict[str, Any]]:
    return (
        jobs.annotate(day=TruncDate("created"))
        .values(*keys)
        .annotate(
            total_jobs=Count("pk"),
            total_failures=Count("pk", filter=Q(status=JobStatus.FAILED)),
            total_cost=Sum("cost"),
            total_time=Sum(PROVIDER_TIME, filter=TIMED),
            total_timed=Count("pk", filter=TIMED),
        )
        .order_by()
    )


def _totals_of_jobs(row: dict[str, Any]) -> Totals:
    provider_time: timedelta | None = row["total_time"]
    return Totals(
        jobs=row["total_jobs"],
        failures=row["total_failures"],
        cost=row["total_cost"] or Decimal(0),
        provider_seconds=provider_time.total_seconds() if provider_time else 0.0,
        timed_jobs=row["total_timed"],
    )


def roll_up(*, now: datetime | None = None) -> list[date]:
    """Bring DailyUsage up to the last settled day; returns the days (re)done.

    Safe to run twice at once: the roll-up row is locked while a run works.
    """
    now = now or timezone.now()
    last_closed = timezone.localtime(now - SETTLE_AFTER).date() - timedelta(days=1)
    through = complete_through()
    if through is None:
        first = Job.objects.order_by("created").values_list("created", flat=True).first()
        start = timezone.localtime(first).date() if first else last_closed + timedelta(days=1)
    else:
        start = min(through - timedelta(days=REDO_DAYS - 1), last_closed)
    done: list[date] = []
    while start <= last_closed:
        end = min(start + timedelta(days=ROLLUP_CHUNK_DAYS - 1), last_closed)
        with transaction.atomic():
            state, _ = UsageRollup.objects.select_for_update().get_or_create(
                pk=1, defaults={"complete_through": end}
            )
            _roll_up_days(start=start, end=end)
            state.complete_through = max(end, state.complete_through)
            state.save(update_fields=["complete_through"])
        done += [start + timedelta(days=offset) for offset in range((end - start).days + 1)]
        start = end + timedelta(days=1)
    if through is None and not done:
        UsageRollup.objects.get_or_create(pk=1, defaults={"complete_through": last_closed})
    return done


def _roll_up_days(*, start: date, end: date) -> None:
    """Replace DailyUsage for days ``start`` <= day <= ``end`` with the jobs' totals."""
    DailyUsage.objects.filter(day__gte=start, day__lte=end).delete()
    jobs = Job.objects.filter(
        created__gte=day_start(start), created__lt=day_start(end + timedelta(days=1))
    )
    rows = (
        DailyUsage(
            day=row[DAY],
            owner_id=row["owner_id"],
            provider_name=row[PROVIDER],
            model_label=row[MODEL],
            jobs=totals.jobs,
            failures=totals.failures,
            cost=totals.cost,
            provider_seconds=totals.provider_seconds,
            timed_jobs=totals.timed_jobs,
        )
        for row in _job_totals(jobs, (DAY, "owner_id", PROVIDER, MODEL)).iterator()
        for totals in (_totals_of_jobs(row),)
    )
    batch: list[DailyUsage] = []
    for row in rows:
        batch.append(row)
        if len(batch) == 2000:
            DailyUsage.objects.bulk_create(batch)
            batch = []
    DailyUsage.objects.bulk_create(batch)


@dataclass(frozen=True)
class MonthUsage:
    """One user's month: totals, by day and by model, and the limit if any."""

    month: date
    total: Totals
    by_day: list[tuple[date, Totals]]
    # (model label, provider name) -> totals, most spent first.
    by_model: list[tuple[tuple[str, str], Totals]]
    # day -> (model label, provider name) -> cost, for the chart.
    cost_by_day_and_model: dict[date, dict[tuple[str, str], Decimal]]
    limit: Decimal | None

    @property
    def days(self) -> list[date]:
        end = next_month_start(self.month)
        return [self.month + timedelta(days=n) for n in range((end - self.month).days)]

    @property
    def left(self) -> Decimal | None:
        return None if self.limit is None else max(self.limit - self.total.cost, Decimal(0))


def month_usage(*, user: User, today: date | None = None) -> MonthUsage:
    """``user``'s usage this month (in the site's time zone): three queries."""
    today = today or timezone.localdate()
    start = month_start(today)
    grouped = totals_by(
        keys=(DAY, MODEL, PROVIDER),
        start=start,
        end=next_month_start(today),
        through=complete_through(),
        owner=user,
    )
    total = Totals()
    by_day: dict[date, Totals] = {}
    by_model: dict[tuple[str, str], Totals] = {}
    cost_by_day_and_model: dict[date, dict[tuple[str, str], Decimal]] = {}
    for (day, model_label, provider_name), totals in grouped.items():
        total.add(totals)
        by_day.setdefault(day, Totals()).add(totals)
        by_model.setdefault((model_label, provider_name), Totals()).add(totals)
        per_model = cost_by_day_and_model.setdefault(day, {})
        per_model[(model_label, provider_name)] = (
            per_model.get((model_label, provider_name), Decimal(0)) + totals.cost
        )
    return MonthUsage(
        month=start,
        total=total,
        by_day=sorted(by_day.items()),
        by_model=sorted(by_model.items(), key=lambda item: (-item[1].cost, item[0])),
        cost_by_day_and_model=cost_by_day_and_model,
        limit=monthly_limit_for(user),
    )
