"""What a user may submit: spending limits, fair-use caps and model access.

``services.job_create`` asks this module before anything is stored or
queued; a refusal is a ``SubmissionRefused`` whose ``message`` is written for
the person who submitted (the web form shows it, the /v1/ API returns it).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db.models import (
    Avg,
    Case,
    CharField,
    Count,
    DecimalField,
    DurationField,
    ExpressionWrapper,
    F,
    Min,
    Q,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from editor.models import (
    FINAL_STATUSES,
    GroupPolicy,
    ImageModel,
    Job,
    JobStatus,
    RemovedJobSpend,
    SiteLimits,
    UnpricedPolicy,
    UserLimits,
)
from editor.pricing import format_money


class SubmissionRefused(Exception):
    """A job that may not be submitted now; nothing was stored or queued."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ModelNotAvailable(SubmissionRefused):
    """The model is switched off, retired, or hidden from this user's groups."""


class OverBudget(SubmissionRefused):
    """The run would take the user's spend past a monthly or daily limit."""

    def __init__(self, message: str, *, remaining: Decimal, resets_at: datetime) -> None:
        super().__init__(message)
        self.remaining = remaining
        self.resets_at = resets_at


class PriceUnknown(SubmissionRefused):
    """The model has no known price and the operator blocks such runs under a budget."""


class RateLimited(SubmissionRefused):
    """Too many jobs queued or running, or submitted in the last minute."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        # Whole seconds until a submission may succeed (the Retry-After header).
        self.retry_after = retry_after


MODEL_NOT_AVAILABLE = (
    "That model is not available: it may have been switched off or removed since the page "
    "was loaded. Choose another model."
)


ACTIVE_STATUSES = (JobStatus.QUEUED, JobStatus.RUNNING)
RATE_WINDOW = timedelta(minutes=1)
ZERO = Decimal(0)

# What one job counts against its owner's budget: its real cost once known;
# until then what it reserved, unless it failed or was canceled without a
# cost (then nothing: a failed job that cost nothing gives its reservation back).
# A job canceled after its request reached the provider is still being paid
# for: its reservation holds until the answer brings its cost (or the call
# fails and gives it back, ``pipeline.job_fail``).
JOB_CHARGE = Case(
    When(cost__isnull=False, then=F("cost")),
    When(~Q(status__in=[JobStatus.FAILED, JobStatus.CANCELED]), then=F("reserved")),
    When(status=JobStatus.CANCELED, sent__isnull=False, then=F("reserved")),
    default=Value(ZERO),
    output_field=DecimalField(max_digits=14, decimal_places=6),
)


# --- Which limits apply ------------------------------------------------------------


@dataclass(frozen=True)
class Limits:
    """The limits that apply to one user, every level resolved (None: no limit)."""

    monthly: Decimal | None
    daily: Decimal | None
    max_active_jobs: int | None
    jobs_per_minute: int | None
    unpriced_policy: str
    unpriced_price: Decimal | None
    # Where each limit came from: "user", "group", "site" (the admin's row)
    # or "environment", by field name (monthly_limit, ...).
    sources: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_values(cls, values: dict[str, Any]) -> Limits:
        """From resolved values keyed by field name, as site_defaults() gives them."""
        return cls(
            monthly=values["monthly_limit"],
            daily=values["daily_limit"],
            max_active_jobs=values["max_active_jobs"],
            jobs_per_minute=values["jobs_per_minute"],
            unpriced_policy=values["unpriced_policy"],
            unpriced_price=values["unpriced_price"],
            sources=values["sources"],
        )

    @property
    def has_budget(self) -> bool:
        return self.monthly is not None or self.daily is not None

    @property
    def counts_jobs(self) -> bool:
        """Whether admitting a job counts the user's jobs or spend."""
        return (
            self.has_budget or self.max_active_jobs is not None or self.jobs_per_minute is not None
        )


LIMIT_FIELDS = ("monthly_limit", "daily_limit", "max_active_jobs", "jobs_per_minute")
_UNPRICED_FIELDS = ("unpriced_policy", "unpriced_price")


def site_defaults(row: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The site-wide default: the admin's row over the environment variables.

    ``row``: the admin's row as ``limits_for`` read it (its fields by name;
    empty when it was never saved), else it is read here.
    """
    if row is None:
        site = SiteLimits.current()
        row = {name: getattr(site, name) for name in (*LIMIT_FIELDS, *_UNPRICED_FIELDS)}
    from_environment = {
        "monthly_limit": _money_setting(settings.DARKROOM_MONTHLY_LIMIT),
        "daily_limit": _money_setting(settings.DARKROOM_DAILY_LIMIT),
        # 0 in the environment means "no cap".
        "max_active_jobs": settings.DARKROOM_MAX_ACTIVE_JOBS or None,
        "jobs_per_minute": settings.DARKROOM_JOBS_PER_MINUTE or None,
    }
    values: dict[str, Any] = {
        name: value if (value := row.get(name)) is not None else from_environment[name]
        for name in LIMIT_FIELDS
    }
    values["sources"] = {
        name: "site" if row.get(name) is not None else "environment" for name in LIMIT_FIELDS
    }
    policy, price = _unpriced_from_environment()
    values["unpriced_policy"] = row.get("unpriced_policy") or policy
    values["unpriced_price"] = (
        row["unpriced_price"] if row.get("unpriced_price") is not None else price
    )
    return values


def _money_setting(value: str) -> Decimal | None:
    if not value.strip():
        return None
    try:
        return Decimal(value.strip().lstrip("$"))
    except InvalidOperation as error:
        raise ValueError(f"Not an amount in USD: {value!r}") from error


def _unpriced_from_environment() -> tuple[str, Decimal | None]:
    value = settings.DARKROOM_UNPRICED_MODELS.strip().lower()
    if value in (UnpricedPolicy.BLOCK, UnpricedPolicy.ALLOW):
        return value, None
    return UnpricedPolicy.ASSUME, _money_setting(value)


def limits_for(user: User) -> Limits:
    """The user's own limit where set, else the most generous of their groups'
    where any sets it, else the site-wide default."""
    # The site's row, the groups' and the user's own in one round trip: this
    # runs on every submission and every account page. Only the site's row
    # has the unpriced-model fields; the others answer empty ones, under
    # names of their own so that every part of the union lists its columns
    # in the same order (model fields, then annotations).
    no_price = {
        "policy": Value("", output_field=CharField()),
        "price": Value(None, output_field=DecimalField()),
    }
    site = SiteLimits.objects.filter(pk=1).annotate(
        level=Value("site"), policy=F("unpriced_policy"), price=F("unpriced_price")
    )
    groups = GroupPolicy.objects.filter(group__user=user).annotate(level=Value("group"), **no_price)
    own_row = UserLimits.objects.filter(user=user).annotate(level=Value("user"), **no_price)
    columns = ("level", *LIMIT_FIELDS, "policy", "price")
    rows = list(
        site.values(*columns).union(groups.values(*columns), own_row.values(*columns), all=True)
    )
    site_row = next((row for row in rows if row["level"] == "site"), {})
    values = site_defaults(
        {
            **{name: site_row.get(name) for name in LIMIT_FIELDS},
            "unpriced_policy": site_row.get("policy"),
            "unpriced_price": site_row.get("price"),
        }
    )
    group_rows = [row for row in rows if row["level"] == "group"]
    for name in LIMIT_FIELDS:
        set_by_groups = [row[name] for row in group_rows if row[name] is not None]
        if set_by_groups:
            values[name] = max(set_by_groups)
            values["sources"][name] = "group"
    own = next((row for row in rows if row["level"] == "user"), {})
    for name in LIMIT_FIELDS:
        if own.get(name) is not None:
            values[name] = own[name]
            values["sources"][name] = "user"
    return Limits.from_values(values)


# --- Periods and spend ---------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    name: str  # "monthly" or "daily"
    start: datetime
    end: datetime


def month_of(now: datetime) -> Period:
    local = timezone.localtime(now)
    start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    following = (start + timedelta(days=32)).replace(day=1)
    return Period("monthly", start, following)


def day_of(now: datetime) -> Period:
    local = timezone.localtime(now)
    start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return Period("daily", start, (start + timedelta(days=1)).replace(hour=0))


def spend(*, user: User, period: Period) -> Decimal:
    """What the user spent in ``period``: settled costs, plus what unfinished
    jobs reserve, plus what deleted jobs had spent."""
    in_period = Q(owner=user, created__gte=period.start, created__lt=period.end)
    jobs = Job.objects.filter(in_period).aggregate(total=Coalesce(Sum(JOB_CHARGE), ZERO))
    removed = RemovedJobSpend.objects.filter(in_period).aggregate(
        total=Coalesce(Sum("amount"), ZERO)
    )
    return Decimal(jobs["total"]) + Decimal(removed["total"])


def reservation(*, limits: Limits, estimated_cost: Decimal | None) -> Decimal:
    """What a new job holds of the budget until its real cost is known."""
    if estimated_cost is not None:
        return estimated_cost
    if limits.unpriced_policy == UnpricedPolicy.ASSUME and limits.unpriced_price is not None:
        return limits.unpriced_price
    return ZERO


# --- The checks -----------------------------------------------------------------------


def submission_admit(
    *,
    user: User,
    image_model: ImageModel,
    estimated_cost: Decimal | None,
    now: datetime,
    model_available: bool = False,
) -> Decimal:
    """Refuse the submission (raise ``SubmissionRefused``) unless the user may
    run it now; return what the new job reserves of the user's budget.

    ``model_available``: the caller read ``image_model`` from
    ``ImageModel.objects.available_to(user)`` in this request (the editor's
    form does, for the editor and the image API), so it is not asked again.

    Call inside the transaction that creates the job. When a limit counts
    the user's jobs or spend, it locks the user's row before counting, so
    concurrent submissions of one user are checked one after the other,
    each seeing the jobs the earlier ones created: 50 parallel submissions
    with room for 10 create 10 (SQLite's IMMEDIATE transactions serialise
    writers already). Without such a limit there is nothing to count, and
    nothing to wait for.
    """
    if (
        not model_available
        and not ImageModel.objects.available_to(user).filter(pk=image_model.pk).exists()
    ):
        raise ModelNotAvailable(MODEL_NOT_AVAILABLE)
    limits = limits_for(user)
    if limits.counts_jobs:
        # NO KEY: inserting a job (its foreign key to the user) does not wait for it.
        list(User.objects.select_for_update(no_key=True).filter(pk=user.pk).values_list("pk"))
    _check_fair_use(user=user, limits=limits, now=now)
    if (
        estimated_cost is None
        and limits.has_budget
        and limits.unpriced_policy == UnpricedPolicy.BLOCK
    ):
        raise PriceUnknown(
            "This model has no known price, and your account has a spending limit, so "
            "Darkroom cannot tell whether the run fits it. Choose a model with a price."
        )
    reserve = reservation(limits=limits, estimated_cost=estimated_cost)
    if estimated_cost == 0:
        return reserve  # known to cost nothing (the offline demo): no budget to check
    for limit, period in ((limits.daily, day_of(now)), (limits.monthly, month_of(now))):
        if limit is None:
            continue
        spent = spend(user=user, period=period)
        if spent + reserve > limit or (reserve == 0 and spent >= limit):
            raise _over_budget(reserve=reserve, spent=spent, limit=limit, period=period)
    return reserve


def _over_budget(*, reserve: Decimal, spent: Decimal, limit: Decimal, period: Period) -> OverBudget:
    remaining = max(limit - spent, ZERO)
    cost = (
        f"This run would cost about {format_money(reserve)}"
        if reserve
        else "This run's cost is not known in advance"
    )
    return OverBudget(
        f"{cost}; you have {format_money(remaining)} left of your "
        f"{format_money(limit)} {period.name} limit, which resets on {reset_text(period.end)}.",
        remaining=remaining,
        resets_at=period.end,
    )


def reset_text(moment: datetime) -> str:
    """ "1 Jan 2027", with the time and zone when it is not midnight UTC."""
    local = timezone.localtime(moment)
    day = f"{local.day} {local:%b %Y}"
    if local.utcoffset() or local.hour or local.minute:
        return f"{day} at {local:%H:%M %Z}"
    return day


def _check_fair_use(*, user: User, limits: Limits, now: datetime) -> None:
    if limits.max_active_jobs is None and limits.jobs_per_minute is None:
        return
    window_start = now - RATE_WINDOW
    counts = Job.objects.filter(owner=user).aggregate(
        active=Count("pk", filter=Q(status__in=ACTIVE_STATUSES)),
        recent=Count("pk", filter=Q(created__gt=window_start, created__lte=now)),
    )
    if limits.jobs_per_minute is not None and counts["recent"] >= limits.jobs_per_minute:
        # Room comes back when enough of the last minute's jobs leave the window.
        leaving = (
            Job.objects.filter(owner=user, created__gt=window_start, created__lte=now)
            .order_by("created")
            .values_list("created", flat=True)[counts["recent"] - limits.jobs_per_minute]
        )
        wait = _seconds(leaving + RATE_WINDOW - now)
        raise RateLimited(
            f"You submitted {_jobs(counts['recent'])} in the last minute, the most this site "
            f"allows is {limits.jobs_per_minute}. You can submit again in {_wait_words(wait)}.",
            retry_after=wait,
        )
    if limits.max_active_jobs is not None and counts["active"] >= limits.max_active_jobs:
        wait = _active_wait(user=user, now=now)
        raise RateLimited(
            f"You have {_jobs(counts['active'])} queued or running, the most this site allows "
            f"at once. You can submit again as soon as one of them finishes (about "
            f"{_wait_words(wait)} from now).",
            retry_after=wait,
        )


def _active_wait(*, user: User, now: datetime) -> int:
    """A guess at when the oldest active job ends: the user's usual job
    duration (their last 20 finished jobs) past its start, at least 5 s."""
    recent = (
        Job.objects.filter(owner=user, status__in=FINAL_STATUSES, finished__isnull=False)
        .order_by("-created")
        .values("pk")[:20]
    )
    usual = Job.objects.filter(pk__in=recent).aggregate(
        duration=Avg(ExpressionWrapper(F("finished") - F("created"), output_field=DurationField()))
    )["duration"] or timedelta(seconds=30)
    oldest = Job.objects.filter(owner=user, status__in=ACTIVE_STATUSES).aggregate(
        created=Min("created")
    )["created"]
    left = (oldest + usual - now) if oldest else usual
    return min(max(_seconds(left), 5), 3600)


def _jobs(count: int) -> str:
    return f"{count} job{'' if count == 1 else 's'}"


def _seconds(wait: timedelta) -> int:
    return max(1, math.ceil(wait.total_seconds()))


def _wait_words(seconds: int) -> str:
    # webapp.errors.wait_text says it the same way; editor does not import webapp.
    if seconds < 90:
        return f"{seconds} second{'' if seconds == 1 else 's'}"
    minutes = math.ceil(seconds / 60)
    return f"{minutes} minute{'' if minutes == 1 else 's'}"


# --- Interactive or bulk ------------------------------------------------------------


def is_bulk(*, user: User) -> bool:
    """Whether a new job joins the bulk queue: its owner has
    ``DARKROOM_INTERACTIVE_JOBS`` or more jobs queued or running already."""
    threshold = settings.DARKROOM_INTERACTIVE_JOBS
    active = Job.objects.filter(owner=user, status__in=ACTIVE_STATUSES)[:threshold].count()
    return active >= threshold


# --- Deleting jobs keeps their spend ----------------------------------------------------


def removed_spend_keep(*, jobs: Any) -> None:
    """Before ``jobs`` (a Job queryset) are deleted: keep what they counted
    against their owners' budgets, one query and one insert however many.

    A job deleted while still queued never runs (its worker finds no row),
    so it keeps nothing; a running one may still be charged for, so it keeps
    its reservation.
    """
    kept = [
        RemovedJobSpend(owner_id=owner, created=created, amount=amount)
        for owner, created, amount in jobs.annotate(charge=JOB_CHARGE)
        .filter(charge__gt=0)
        .exclude(status=JobStatus.QUEUED, cost__isnull=True)
        .values_list("owner", "created", "charge")
    ]
    RemovedJobSpend.objects.bulk_create(kept)


# --- What the CLI and pages show ----------------------------------------------------------


@dataclass(frozen=True)
class SpendSummary:
    limits: Limits
    month: Period
    day: Period
    month_spend: Decimal
    day_spend: Decimal


def spend_summary(*, user: User, now: datetime | None = None) -> SpendSummary:
    now = now or timezone.now()
    month, day = month_of(now), day_of(now)
    return SpendSummary(
        limits=limits_for(user),
        month=month,
        day=day,
        month_spend=spend(user=user, period=month),
        day_spend=spend(user=user, period=day),
    )


def spend_by_user(*, period: Period) -> list[tuple[str, Decimal]]:
    """Every user who spent in ``period``, with how much, the most first."""
    in_period = Q(created__gte=period.start, created__lt=period.end)
    totals: dict[str, Decimal] = {}
    for username, total in (
        Job.objects.filter(in_period)
        .values("owner__username")
        .annotate(total=Sum(JOB_CHARGE))
        .values_list("owner__username", "total")
    ):
        totals[username] = totals.get(username, ZERO) + Decimal(total or 0)
    for username, total in (
        RemovedJobSpend.objects.filter(in_period)
        .values("owner__username")
        .annotate(total=Sum("amount"))
        .values_list("owner__username", "total")
    ):
        totals[username] = totals.get(username, ZERO) + Decimal(total or 0)
    return sorted(
        ((name, total) for name, total in totals.items() if total), key=lambda row: -row[1]
    )
