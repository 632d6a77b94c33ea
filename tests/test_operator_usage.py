"""The operator's usage dashboard and its CSV export."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from editor import usage
from editor.models import DailyUsage
from tests.usage_helpers import spent


@pytest.fixture
def staff_client(db: None) -> Client:
    staff = User.objects.create_user("root", "root@example.com", "x", is_staff=True)
    client = Client()
    client.force_login(staff)
    return client


@pytest.fixture
def known_jobs(alice: User, bob: User) -> Any:
    """Two users' jobs over three days, with known spend and provider times."""
    today = timezone.localtime().replace(hour=12, minute=0, second=0, microsecond=0)
    two_days_ago = today - timedelta(days=2)
    spent(user=alice, cost="0.04", at=two_days_ago, provider_seconds=10)
    spent(user=alice, cost="0.02", at=two_days_ago, provider_seconds=20)
    spent(user=alice, cost=None, at=two_days_ago, status="failed", provider_seconds=3)
    spent(user=bob, cost="1.5", at=today, model="flux", provider="router", provider_seconds=6)
    spent(user=bob, cost="0.004", at=today - timedelta(days=1), model="flux", provider="router")
    # Outside the default range (the last 30 days).
    spent(user=bob, cost="100", at=today - timedelta(days=45))
    return today


def test_visitors_are_sent_to_log_in_and_users_are_refused(
    client: Client, alice_client: Client, db: None
) -> None:
    for url in ("/operator/usage/", "/operator/usage/export.csv"):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")
        refused = alice_client.get(url)
        assert refused.status_code == 403
        assert "For operators only" in refused.content.decode()


def test_staff_see_every_users_spend_by_user_model_provider_and_day(
    staff_client: Client, known_jobs: Any, django_assert_max_num_queries: Any
) -> None:
    staff_client.get("/operator/usage/")  # the first request caches the session's user
    with django_assert_max_num_queries(6):
        response = staff_client.get("/operator/usage/")
    assert response.status_code == 200
    context = response.context
    assert context["total"]["cost"] == "$1.56"
    assert context["total"]["jobs"] == 5
    assert context["total"]["failures"] == 1
    users = {row["name"]: row for row in context["users"]}
    assert users["bob"]["cost"] == "$1.50" and users["bob"]["jobs"] == 2
    assert users["alice"]["cost"] == "$0.06" and users["alice"]["failures"] == 1
    # Alice's provider time: (10 + 20 + 3) / 3; Bob's: only one job has one.
    assert users["alice"]["average_seconds"] == "11.0 s"
    assert users["bob"]["average_seconds"] == "6.0 s"
    assert [row["name"] for row in context["models"]] == ["flux (router)", "gpt-image-1 (openai)"]
    assert {row["name"]: row["cost"] for row in context["providers"]} == {
        "router": "$1.50",
        "openai": "$0.06",
    }
    day_costs = {row["name"]: row["cost"] for row in context["days"]}
    today = known_jobs.date()
    assert day_costs == {
        (today - timedelta(days=2)).isoformat(): "$0.06",
        (today - timedelta(days=1)).isoformat(): "$0.0040",  # two significant digits
        today.isoformat(): "$1.50",
    }
    body = response.content.decode()
    assert "$100" not in body


def test_a_chosen_range_and_the_roll_up_give_the_same_figures(
    staff_client: Client, known_jobs: Any
) -> None:
    first = (known_jobs - timedelta(days=60)).date().isoformat()
    last = known_jobs.date().isoformat()
    query = f"/operator/usage/?date_from={first}&date_to={last}"
    before = staff_client.get(query).context
    assert before["total"]["cost"] == "$101.56"
    usage.roll_up(now=known_jobs)
    assert DailyUsage.objects.exists()
    after = staff_client.get(query).context
    for part in ("total", "users", "models", "providers", "days"):
        assert after[part] == before[part], part


def test_the_csv_lists_each_day_user_provider_and_model(
    staff_client: Client, known_jobs: Any
) -> None:
    # Part rolled up, part summed from the jobs: one export either way.
    usage.roll_up(now=known_jobs)
    response = staff_client.get("/operator/usage/export.csv")
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    text = b"".join(response.streaming_content).decode()
    rows = list(csv.DictReader(io.StringIO(text)))
    today = known_jobs.date()
    assert [
        (row["day"], row["user"], row["provider"], row["model"], row["jobs"], row["failures"])
        for row in rows
    ] == [
        ((today - timedelta(days=2)).isoformat(), "alice", "openai", "gpt-image-1", "3", "1"),
        ((today - timedelta(days=1)).isoformat(), "bob", "router", "flux", "1", "0"),
        (today.isoformat(), "bob", "router", "flux", "1", "0"),
    ]
    assert [Decimal(row["spend_usd"]) for row in rows] == [
        Decimal("0.06"),
        Decimal("0.004"),
        Decimal("1.5"),
    ]
    assert [row["average_provider_seconds"] for row in rows] == ["11.000", "", "6.000"]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("date_from=yesterday", "Enter the first day as YYYY-MM-DD."),
        ("date_from=2026-03-02&date_to=2026-03-01", "The first day comes after the last one."),
        ("date_from=2020-01-01&date_to=2026-01-01", "Choose at most 366 days at a time."),
    ],
)
def test_a_bad_range_is_refused_clearly(staff_client: Client, query: str, message: str) -> None:
    for url in ("/operator/usage/", "/operator/usage/export.csv"):
        response = staff_client.get(f"{url}?{query}")
        assert response.status_code == 400
        assert message in response.content.decode()


def test_the_admin_links_to_the_dashboard(db: None) -> None:
    staff = User.objects.create_superuser("root", "root@example.com", "x")
    client = Client()
    client.force_login(staff)
    assert 'href="/operator/usage/"' in client.get("/admin/").content.decode()


def test_the_roll_up_redoes_its_last_day_and_never_counts_twice(alice: User) -> None:
    from editor.models import Job

    noon = timezone.localtime().replace(hour=12, minute=0, second=0, microsecond=0)
    late = spent(user=alice, cost=None, at=noon - timedelta(days=1))
    spent(user=alice, cost="0.5", at=noon - timedelta(days=2))
    usage.roll_up(now=noon)
    usage.roll_up(now=noon)
    assert DailyUsage.objects.count() == 2
    # The job of yesterday settles its cost after the first roll-up.
    Job.objects.filter(pk=late.pk).update(cost=Decimal("0.25"))
    usage.roll_up(now=noon + timedelta(hours=1))
    yesterday = DailyUsage.objects.get(day=(noon - timedelta(days=1)).date())
    assert yesterday.cost == Decimal("0.25") and yesterday.jobs == 1
    assert usage.complete_through() == (noon - timedelta(days=1)).date()


def test_beat_runs_the_roll_up_as_a_task(alice: User) -> None:
    from django.conf import settings

    from editor import tasks

    assert settings.CELERY_BEAT_SCHEDULE["roll-up-usage"]["task"] == "editor.roll_up_usage"
    spent(user=alice, cost="0.5", at=timezone.now() - timedelta(days=3))
    assert tasks.roll_up_usage() >= 1
    assert DailyUsage.objects.get(owner=alice).cost == Decimal("0.5")
