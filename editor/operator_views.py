"""The operator's usage dashboard: every user's spend, jobs, failures and
provider time, by user, model, provider and day, with a CSV export."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.http import HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.views.decorators.http import require_GET

from editor import usage
from editor.account_forms import UsageRangeForm
from editor.pricing import format_money
from editor.views import HttpRequest
from webapp import errors


def _staff_only(request: HttpRequest) -> HttpResponse | None:
    if request.user.is_staff:
        return None
    return errors.refusal(
        request,
        status=403,
        title="For operators only",
        explanation="The usage dashboard is for the staff who run this site. Your own spend is "
        "on your account page.",
        links=(("/accounts/", "Your account"),),
    )


@require_GET
def usage_dashboard(request: HttpRequest) -> HttpResponse:
    if refused := _staff_only(request):
        return refused
    form = UsageRangeForm(request.GET or None)
    if request.GET and not form.is_valid():
        return render(request, "operator/usage.html", {"form": form}, status=400)
    first, last = _range(form)
    if not form.is_bound:
        form = UsageRangeForm(initial={"date_from": first, "date_to": last})
    end = last + timedelta(days=1)
    through = usage.complete_through()
    # Two scans of the range: by day, and by (user, provider, model), which
    # has at most users x models groups, summed here into the three tables.
    by: dict[str, dict[usage.Key, usage.Totals]] = {
        "day": usage.totals_by(keys=(usage.DAY,), start=first, end=end, through=through),
        "user": {},
        "model": {},
        "provider": {},
    }
    by_owner = usage.totals_by(
        keys=(usage.OWNER, usage.PROVIDER, usage.MODEL), start=first, end=end, through=through
    )
    usernames = dict(
        User.objects.filter(pk__in={owner for owner, _, _ in by_owner}).values_list(
            "pk", "username"
        )
    )
    for (owner, provider, model), totals in by_owner.items():
        by["user"].setdefault((usernames.get(owner, f"#{owner}"),), usage.Totals()).add(totals)
        by["model"].setdefault((model, provider), usage.Totals()).add(totals)
        by["provider"].setdefault((provider,), usage.Totals()).add(totals)
    total = usage.Totals()
    for totals in by["day"].values():
        total.add(totals)
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    models = _sorted_rows(by["model"], lambda key: f"{key[0]} ({key[1]})")
    context = {
        "form": form,
        "time_zone": settings.TIME_ZONE,
        "first": first,
        "last": last,
        "total": _row("All users", total),
        "users": _sorted_rows(by["user"], lambda key: key[0]),
        "models": models,
        "providers": _sorted_rows(by["provider"], lambda key: key[0]),
        "days": [_row(day.isoformat(), by["day"][(day,)]) for day in days if (day,) in by["day"]],
        "chart": {
            "days": {
                "labels": [day.isoformat() for day in days],
                "datasets": [
                    {
                        "label": "Spend (USD)",
                        "data": [float(by["day"].get((day,), usage.Totals()).cost) for day in days],
                    }
                ],
            },
            "models": {
                "labels": [row["name"] for row in models],
                "datasets": [{"label": "Spend (USD)", "data": [row["amount"] for row in models]}],
            },
        },
        "export_query": f"date_from={first.isoformat()}&date_to={last.isoformat()}",
    }
    return render(request, "operator/usage.html", context)


def _range(form: UsageRangeForm) -> tuple[date, date]:
    if form.is_bound and form.is_valid():
        return form.cleaned_data["first"], form.cleaned_data["last"]
    empty = UsageRangeForm({})
    empty.is_valid()
    return empty.cleaned_data["first"], empty.cleaned_data["last"]


def _row(name: str, totals: usage.Totals) -> dict[str, Any]:
    average = totals.average_provider_seconds
    return {
        "name": name,
        "jobs": totals.jobs,
        "failures": totals.failures,
        "cost": format_money(totals.cost),
        "amount": float(totals.cost),
        "average_seconds": f"{average:.1f} s" if average is not None else "",
    }


def _sorted_rows(grouped: dict[usage.Key, usage.Totals], name: Any) -> list[dict[str, Any]]:
    """Rows, most spent first (then most jobs), for a table and a chart."""
    ordered = sorted(grouped.items(), key=lambda item: (-item[1].cost, -item[1].jobs, item[0]))
    return [_row(name(key), totals) for key, totals in ordered]


class _Echo:
    """A file-like object for csv.writer that hands each line back."""

    def write(self, value: str) -> str:
        return value


CSV_COLUMNS = [
    "day",
    "user",
    "provider",
    "model",
    "jobs",
    "failures",
    "spend_usd",
    "average_provider_seconds",
]


@require_GET
def usage_export(request: HttpRequest) -> HttpResponseBase:
    if refused := _staff_only(request):
        return refused
    form = UsageRangeForm(request.GET or None)
    if request.GET and not form.is_valid():
        return render(request, "operator/usage.html", {"form": form}, status=400)
    first, last = _range(form)
    rows = usage.rows_by(
        keys=(usage.DAY, usage.USER, usage.PROVIDER, usage.MODEL),
        start=first,
        end=last + timedelta(days=1),
        through=usage.complete_through(),
    )
    response = StreamingHttpResponse(_csv_lines(rows), content_type="text/csv; charset=utf-8")
    filename = f"darkroom-usage-{first.isoformat()}-{last.isoformat()}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _csv_lines(rows: Iterator[tuple[usage.Key, usage.Totals]]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(CSV_COLUMNS)
    for (day, username, provider, model), totals in rows:
        average = totals.average_provider_seconds
        yield writer.writerow(
            [
                day.isoformat(),
                username,
                provider,
                model,
                totals.jobs,
                totals.failures,
                f"{totals.cost.quantize(Decimal('0.000001'))}",
                f"{average:.3f}" if average is not None else "",
            ]
        )
