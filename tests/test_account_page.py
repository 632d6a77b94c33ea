"""The account page: this month's spend (one's own only), changing the
e-mail address, and deleting the account with all its files."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from editor import pipeline
from editor.models import DailyUsage, Job, JobImage
from tests.factories import make_job
from tests.images import mask_bytes
from tests.usage_helpers import spent


@pytest.fixture
def now() -> Any:
    # Midday in the middle of the month, so "yesterday" is this month too.
    return timezone.localtime().replace(day=15, hour=12, minute=0, second=0, microsecond=0)


def test_the_account_page_shows_my_spend_this_month_by_day_and_model(
    alice: User, bob: User, alice_client: Client, now: Any, django_assert_max_num_queries: Any
) -> None:
    spent(user=alice, cost="0.042", at=now, model="gpt-image-1")
    spent(user=alice, cost="0.2", at=now - timedelta(days=1), model="flux-kontext-pro")
    spent(user=alice, cost="0.008", at=now - timedelta(days=1), model="gpt-image-1")
    spent(user=alice, cost=None, at=now, status="failed")
    # Last month's and Bob's spending are not Alice's this month.
    spent(user=alice, cost="5", at=now - timedelta(days=40))
    spent(user=bob, cost="9.99", at=now, model="bobs-secret-model")
    alice_client.get("/accounts/")  # the first request caches the session's user
    # Session and user, this month's totals, and the limits that apply
    # (site default, the user's groups, the user's own).
    with django_assert_max_num_queries(9):
        response = alice_client.get("/accounts/")
    assert response.status_code == 200
    month = response.context["month"]
    assert month.total.cost == Decimal("0.25")
    body = response.content.decode()
    assert '<strong id="spend-total">$0.25</strong>' in body
    assert "4 jobs" in body
    assert "bobs-secret-model" not in body and "9.99" not in body
    chart = response.context["chart"]
    by_label = {dataset["label"]: dataset["data"] for dataset in chart["datasets"]}
    assert set(by_label) == {"gpt-image-1 (openai)", "flux-kontext-pro (openai)"}
    day = chart["labels"].index(now.date().isoformat())
    assert by_label["gpt-image-1 (openai)"][day] == pytest.approx(0.042)
    assert by_label["flux-kontext-pro (openai)"][day - 1] == pytest.approx(0.2)
    assert sum(sum(data) for data in by_label.values()) == pytest.approx(0.25)


def test_totals_are_the_same_before_and_after_the_roll_up(
    alice: User, alice_client: Client, now: Any
) -> None:
    from editor import usage

    spent(user=alice, cost="0.042", at=now - timedelta(days=3), provider_seconds=4)
    spent(user=alice, cost="0.2", at=now - timedelta(days=2), provider_seconds=8)
    spent(user=alice, cost="0.008", at=now, provider_seconds=1)
    before = alice_client.get("/accounts/").context["chart"]
    days = usage.roll_up(now=now)
    assert now.date() - timedelta(days=3) in days
    assert DailyUsage.objects.filter(owner=alice).count() == 2  # the settled days
    after = alice_client.get("/accounts/")
    assert after.context["chart"] == before
    assert '<strong id="spend-total">$0.25</strong>' in after.content.decode()


def test_my_spend_shows_against_my_limit_when_there_is_one(
    alice: User, alice_client: Client, now: Any, monkeypatch: Any
) -> None:

    from editor import usage

    monkeypatch.setattr(usage, "monthly_limit_for", lambda user: Decimal("10"))
    spent(user=alice, cost="2.5", at=now)
    body = alice_client.get("/accounts/").content.decode()
    assert '<span id="spend-limit">$10.00</span> monthly limit' in body
    assert "$7.50 left" in body


def test_the_page_says_when_there_is_nothing_yet(alice_client: Client) -> None:
    body = alice_client.get("/accounts/").content.decode()
    assert "No jobs yet this month." in body
    assert '<strong id="spend-total">$0</strong>' in body


# --- E-mail -------------------------------------------------------------------------------


def test_i_change_my_email_with_my_password(alice: User, alice_client: Client) -> None:
    response = alice_client.post(
        "/accounts/email/", {"email": "alice@new.example", "password": "correct horse battery"}
    )
    assert response.status_code == 302
    alice.refresh_from_db()
    assert alice.email == "alice@new.example"


def test_the_email_change_needs_the_right_password(alice: User, alice_client: Client) -> None:
    response = alice_client.post(
        "/accounts/email/", {"email": "alice@new.example", "password": "a guess"}
    )
    assert response.status_code == 400
    assert "That is not your current password." in response.content.decode()
    alice.refresh_from_db()
    assert alice.email == "alice@example.com"


def test_another_accounts_address_is_refused(alice: User, bob: User, alice_client: Client) -> None:
    response = alice_client.post(
        "/accounts/email/", {"email": "BOB@example.com", "password": "correct horse battery"}
    )
    assert response.status_code == 400
    assert "Another account already uses this e-mail address." in response.content.decode()
    alice.refresh_from_db()
    assert alice.email == "alice@example.com"


def test_with_verification_the_new_address_applies_once_confirmed(
    alice: User, alice_client: Client, settings: Any, mailoutbox: Any
) -> None:
    import re

    settings.DARKROOM_SIGNUP_VERIFY_EMAIL = True
    alice_client.post(
        "/accounts/email/", {"email": "alice@new.example", "password": "correct horse battery"}
    )
    alice.refresh_from_db()
    assert alice.email == "alice@example.com"
    [message] = mailoutbox
    assert message.to == ["alice@new.example"]
    link = re.search(r"http://testserver(/accounts/confirm-email/\S+/)", message.body)
    assert link
    assert alice_client.get(link.group(1)).status_code == 302
    alice.refresh_from_db()
    assert alice.email == "alice@new.example"


# --- Deleting the account ------------------------------------------------------------------


def job_with_files(user: User) -> Job:
    job = make_job(user=user, mask=mask_bytes(64, 48, box=(0, 0, 10, 10)))
    pipeline.run_job(job_id=str(job.pk))
    return job


def stored_names(user: User) -> list[str]:
    return [
        name
        for pair in JobImage.objects.filter(job__owner=user).values_list("file", "thumbnail")
        for name in pair
        if name
    ]


def test_deleting_my_account_removes_my_rows_and_files_only(
    alice: User,
    bob: User,
    alice_client: Client,
    django_capture_on_commit_callbacks: Any,
) -> None:
    from django.core.files.storage import default_storage

    job_with_files(alice)
    job_with_files(bob)
    alices_files, bobs_files = stored_names(alice), stored_names(bob)
    assert alices_files and bobs_files
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post(
            "/accounts/delete/", {"password": "correct horse battery", "confirm": "delete"}
        )
    assert response.status_code == 200
    assert "Account deleted" in response.content.decode()
    assert not User.objects.filter(username="alice").exists()
    assert not Job.objects.filter(owner_id=alice.pk).exists()
    assert not any(default_storage.exists(name) for name in alices_files)
    assert all(default_storage.exists(name) for name in bobs_files)
    assert Job.objects.filter(owner=bob).count() == 1
    # Logged out: the next page asks to log in.
    assert alice_client.get("/history/").status_code == 302


@pytest.mark.parametrize(
    ("password", "confirm", "message"),
    [
        ("correct horse battery", "yes", "Type the word “delete”"),
        ("a guess", "delete", "That is not your current password."),
    ],
)
def test_deleting_needs_the_password_and_the_word(
    alice: User, alice_client: Client, password: str, confirm: str, message: str
) -> None:
    job_with_files(alice)
    response = alice_client.post("/accounts/delete/", {"password": password, "confirm": confirm})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert User.objects.filter(username="alice").exists()
    assert Job.objects.filter(owner=alice).count() == 1


def test_deleting_waits_for_jobs_still_queued_or_running(alice: User, alice_client: Client) -> None:
    # Nothing is enqueued: on-commit callbacks do not run in this test.
    job = make_job(user=alice)
    assert job.status == "queued"
    response = alice_client.post(
        "/accounts/delete/", {"password": "correct horse battery", "confirm": "delete"}
    )
    assert response.status_code == 400
    assert "1 of your jobs is still queued or running." in response.content.decode()
    assert User.objects.filter(username="alice").exists()
    assert Job.objects.filter(owner=alice).count() == 1
