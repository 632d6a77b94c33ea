"""Budgets, fair-use caps and model access, checked before anything is stored."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from editor import limits, services
from editor.models import (
    GroupPolicy,
    ImageModel,
    Job,
    JobImage,
    JobStatus,
    Provider,
    RemovedJobSpend,
    SiteLimits,
    UserLimits,
)
from tests.images import image_bytes, upload

# A moment well inside a month, and the month's last and next month's first instants.
MID_DECEMBER = datetime(2026, 12, 15, 12, 0, tzinfo=UTC)
NEW_YEAR = datetime(2027, 1, 1, 0, 0, tzinfo=UTC)


def submit(user: User, model: ImageModel, cost: str | None, *, now: datetime) -> Job:
    """A job as the editor submits it, with its estimated cost (None: unknown)."""
    return services.job_create(
        user=user,
        image_model=model,
        prompt="a lighthouse at dusk",
        params={"n": 1},
        images=[],
        estimated_cost=Decimal(cost) if cost is not None else None,
        now=now,
    )


def spent_before(user: User, model: ImageModel, cost: str, *, created: datetime) -> Job:
    """A finished job of ``created`` whose real cost was ``cost``."""
    job = Job.objects.create(
        owner=user,
        kind="generate",
        image_model=model,
        model_label=model.label,
        provider_name=model.provider.name,
        prompt="earlier",
        status=JobStatus.SUCCEEDED,
        cost=Decimal(cost),
    )
    Job.objects.filter(pk=job.pk).update(created=created)
    return job


def backdate(job: Job, created: datetime) -> None:
    Job.objects.filter(pk=job.pk).update(created=created)


def site_limits(**values: Any) -> SiteLimits:
    row = SiteLimits.current()
    for name, value in values.items():
        setattr(row, name, value)
    row.save()
    return row


@pytest.fixture
def priced_model(db: None) -> ImageModel:
    provider = Provider.objects.create(name="router", kind="imagerouter", base_url="http://x")
    return ImageModel.objects.create(
        provider=provider,
        model_id="painter-1",
        label="Painter",
        can_generate=True,
        pricing={"per_image": "0.04"},
    )


# --- Budgets ------------------------------------------------------------------------


def test_a_run_over_the_monthly_limit_is_refused_with_what_is_left_and_when_it_resets(
    alice: User, priced_model: ImageModel, django_capture_on_commit_callbacks: Any
) -> None:
    site_limits(monthly_limit=Decimal("5.00"))
    spent_before(alice, priced_model, "4.988", created=MID_DECEMBER - timedelta(days=3))
    with (
        django_capture_on_commit_callbacks() as callbacks,
        pytest.raises(limits.OverBudget) as refused,
    ):
        submit(alice, priced_model, "0.04", now=MID_DECEMBER)
    assert refused.value.message == (
        "This run would cost about $0.04; you have $0.012 left of your $5.00 monthly limit, "
        "which resets on 1 Jan 2027."
    )
    assert refused.value.remaining == Decimal("0.012")
    assert refused.value.resets_at == NEW_YEAR
    assert Job.objects.count() == 1 and callbacks == []


def test_a_run_that_fits_reserves_its_estimate(alice: User, priced_model: ImageModel) -> None:
    site_limits(monthly_limit=Decimal("5.00"))
    spent_before(alice, priced_model, "4.96", created=MID_DECEMBER - timedelta(days=3))
    job = submit(alice, priced_model, "0.04", now=MID_DECEMBER)
    assert job.reserved == Decimal("0.04")
    with pytest.raises(limits.OverBudget):
        submit(alice, priced_model, "0.01", now=MID_DECEMBER)


def test_a_settled_cost_below_the_estimate_frees_the_difference(
    alice: User, priced_model: ImageModel
) -> None:
    site_limits(monthly_limit=Decimal("1.00"))
    first = submit(alice, priced_model, "0.80", now=MID_DECEMBER)
    backdate(first, MID_DECEMBER)
    with pytest.raises(limits.OverBudget) as refused:
        submit(alice, priced_model, "0.30", now=MID_DECEMBER)
    assert refused.value.remaining == Decimal("0.20")
    # The run ends and the provider reports what it really cost.
    Job.objects.filter(pk=first.pk).update(
        status=JobStatus.SUCCEEDED, cost=Decimal("0.50"), cost_source="provider"
    )
    assert submit(alice, priced_model, "0.30", now=MID_DECEMBER).reserved == Decimal("0.30")


def test_a_failed_job_that_cost_nothing_gives_its_reservation_back(
    alice: User, priced_model: ImageModel
) -> None:
    site_limits(monthly_limit=Decimal("1.00"))
    first = submit(alice, priced_model, "0.80", now=MID_DECEMBER)
    backdate(first, MID_DECEMBER)
    Job.objects.filter(pk=first.pk).update(status=JobStatus.FAILED)
    submit(alice, priced_model, "0.90", now=MID_DECEMBER)


def test_a_failed_job_that_did_cost_keeps_counting(alice: User, priced_model: ImageModel) -> None:
    site_limits(monthly_limit=Decimal("1.00"))
    first = submit(alice, priced_model, "0.80", now=MID_DECEMBER)
    backdate(first, MID_DECEMBER)
    Job.objects.filter(pk=first.pk).update(status=JobStatus.FAILED, cost=Decimal("0.40"))
    with pytest.raises(limits.OverBudget) as refused:
        submit(alice, priced_model, "0.90", now=MID_DECEMBER)
    assert refused.value.remaining == Decimal("0.60")


def test_a_job_canceled_after_its_request_was_sent_holds_its_reservation_until_settled(
    alice: User, priced_model: ImageModel
) -> None:
    from editor import pipeline, services

    site_limits(monthly_limit=Decimal("1.00"))
    before_sending = submit(alice, priced_model, "0.30", now=MID_DECEMBER)
    in_flight = submit(alice, priced_model, "0.50", now=MID_DECEMBER)
    for job in (before_sending, in_flight):
        backdate(job, MID_DECEMBER)
    # One canceled while queued: nothing was sent, nothing will be charged.
    assert services.job_cancel(job=before_sending)
    # The other canceled once its request had reached the provider, which
    # goes on and may charge for it.
    Job.objects.filter(pk=in_flight.pk).update(
        status=JobStatus.RUNNING, sent=MID_DECEMBER, deliveries=1
    )
    in_flight.refresh_from_db()
    assert services.job_cancel(job=in_flight)
    month = limits.month_of(MID_DECEMBER)
    assert limits.spend(user=alice, period=month) == Decimal("0.50")
    with pytest.raises(limits.OverBudget) as refused:
        submit(alice, priced_model, "0.60", now=MID_DECEMBER)
    assert refused.value.remaining == Decimal("0.50")
    # An answer came but its result could not be stored: paid, so it counts.
    Job.objects.filter(pk=in_flight.pk).update(provider_response={"data": []})
    pipeline.job_fail(job=in_flight, code="bad_result", message="Not an image.")
    assert limits.spend(user=alice, period=month) == Decimal("0.50")
    # The call fails before answering: nothing to pay, the reservation is given back.
    Job.objects.filter(pk=in_flight.pk).update(provider_response={})
    pipeline.job_fail(job=in_flight, code="provider_error", message="The provider failed.")
    assert limits.spend(user=alice, period=month) == Decimal("0")
    submit(alice, priced_model, "0.60", now=MID_DECEMBER)


def test_the_sweep_gives_back_a_canceled_calls_reservation_once_the_call_is_surely_over(
    alice: User, priced_model: ImageModel, settings: Any
) -> None:
    from editor import pipeline

    settings.DARKROOM_PROVIDER_DEADLINE = 600
    settings.DARKROOM_STALE_AFTER_SECONDS = 60
    job = submit(alice, priced_model, "0.50", now=MID_DECEMBER)
    # Canceled mid-call, and its worker stopped before the call ended.
    Job.objects.filter(pk=job.pk).update(
        status=JobStatus.CANCELED,
        created=MID_DECEMBER,
        sent=MID_DECEMBER,
        heartbeat=MID_DECEMBER,
        finished=MID_DECEMBER,
    )
    month = limits.month_of(MID_DECEMBER)
    counts = pipeline.jobs_recover(
        enqueue=lambda job_id: None, now=MID_DECEMBER + timedelta(minutes=10)
    )
    assert "released_reservations" not in counts
    assert limits.spend(user=alice, period=month) == Decimal("0.50")
    later = MID_DECEMBER + timedelta(minutes=11, seconds=1)
    counts = pipeline.jobs_recover(enqueue=lambda job_id: None, now=later)
    assert counts["released_reservations"] == 1
    assert limits.spend(user=alice, period=month) == Decimal("0")


def test_a_new_month_resets_the_limit(alice: User, priced_model: ImageModel) -> None:
    site_limits(monthly_limit=Decimal("5.00"))
    spent_before(alice, priced_model, "5.00", created=datetime(2026, 12, 31, 23, 0, tzinfo=UTC))
    with pytest.raises(limits.OverBudget):
        submit(alice, priced_model, "0.04", now=NEW_YEAR - timedelta(seconds=1))
    assert submit(alice, priced_model, "0.04", now=NEW_YEAR).reserved == Decimal("0.04")


def test_the_daily_limit_says_it_resets_the_next_day(alice: User, priced_model: ImageModel) -> None:
    site_limits(monthly_limit=Decimal("50"), daily_limit=Decimal("1"))
    spent_before(alice, priced_model, "0.99", created=MID_DECEMBER - timedelta(hours=2))
    with pytest.raises(limits.OverBudget) as refused:
        submit(alice, priced_model, "0.04", now=MID_DECEMBER)
    assert refused.value.message.endswith(
        "you have $0.01 left of your $1.00 daily limit, which resets on 16 Dec 2026."
    )
    assert submit(alice, priced_model, "0.04", now=MID_DECEMBER + timedelta(hours=12))


def test_deleting_jobs_does_not_give_their_spend_back(
    alice: User, priced_model: ImageModel
) -> None:
    site_limits(monthly_limit=Decimal("1.00"))
    spent_before(alice, priced_model, "0.70", created=MID_DECEMBER)
    waiting = submit(alice, priced_model, "0.20", now=MID_DECEMBER)
    backdate(waiting, MID_DECEMBER)
    services.jobs_delete(jobs=Job.objects.filter(owner=alice))
    # The finished job's cost stays counted; the queued one never runs, so its
    # reservation goes.
    assert RemovedJobSpend.objects.get().amount == Decimal("0.70")
    with pytest.raises(limits.OverBudget):
        submit(alice, priced_model, "0.40", now=MID_DECEMBER)
    submit(alice, priced_model, "0.30", now=MID_DECEMBER)


def test_one_users_spend_does_not_count_against_another(
    alice: User, bob: User, priced_model: ImageModel
) -> None:
    site_limits(monthly_limit=Decimal("1.00"))
    spent_before(alice, priced_model, "1.00", created=MID_DECEMBER)
    with pytest.raises(limits.OverBudget):
        submit(alice, priced_model, "0.04", now=MID_DECEMBER)
    assert submit(bob, priced_model, "0.04", now=MID_DECEMBER)


def test_a_free_model_runs_when_the_budget_is_spent(
    alice: User, priced_model: ImageModel, offline_model: ImageModel
) -> None:
    site_limits(monthly_limit=Decimal("1.00"))
    spent_before(alice, priced_model, "1.00", created=MID_DECEMBER)
    assert submit(alice, offline_model, "0", now=MID_DECEMBER).reserved == 0


# --- Models without a price ----------------------------------------------------------


def test_unpriced_models_can_be_blocked_under_a_budget(
    alice: User, priced_model: ImageModel
) -> None:
    site_limits(monthly_limit=Decimal("5"), unpriced_policy="block")
    with pytest.raises(limits.PriceUnknown) as refused:
        submit(alice, priced_model, None, now=MID_DECEMBER)
    assert "no known price" in refused.value.message
    assert Job.objects.count() == 0


def test_unpriced_models_can_count_at_an_assumed_price(
    alice: User, priced_model: ImageModel
) -> None:
    site_limits(monthly_limit=Decimal("0.12"), unpriced_policy="assume")
    site_limits(unpriced_price=Decimal("0.05"))
    assert submit(alice, priced_model, None, now=MID_DECEMBER).reserved == Decimal("0.05")
    submit(alice, priced_model, None, now=MID_DECEMBER)
    with pytest.raises(limits.OverBudget) as refused:
        submit(alice, priced_model, None, now=MID_DECEMBER)
    assert refused.value.message.startswith("This run would cost about $0.05; you have $0.02")


def test_unpriced_models_allowed_count_nothing_until_the_budget_is_spent(
    alice: User, priced_model: ImageModel, settings: Any
) -> None:
    settings.DARKROOM_UNPRICED_MODELS = "allow"
    site_limits(monthly_limit=Decimal("1"))
    assert submit(alice, priced_model, None, now=MID_DECEMBER).reserved == 0
    spent_before(alice, priced_model, "1.00", created=MID_DECEMBER)
    with pytest.raises(limits.OverBudget) as refused:
        submit(alice, priced_model, None, now=MID_DECEMBER)
    assert refused.value.message.startswith("This run's cost is not known in advance; you have $0")


def test_the_environment_gives_an_assumed_price(settings: Any, alice: User) -> None:
    settings.DARKROOM_UNPRICED_MODELS = "0.07"
    found = limits.limits_for(alice)
    assert (found.unpriced_policy, found.unpriced_price) == ("assume", Decimal("0.07"))


# --- Which limit applies -------------------------------------------------------------------


def test_a_users_own_limit_beats_their_groups_which_beat_the_default(
    alice: User, settings: Any
) -> None:
    settings.DARKROOM_MONTHLY_LIMIT = "3"
    assert limits.limits_for(alice).monthly == Decimal("3")
    site_limits(monthly_limit=Decimal("5"))
    assert limits.limits_for(alice).monthly == Decimal("5")
    for name, amount in (("designers", "20"), ("interns", "2")):
        group = Group.objects.create(name=name)
        GroupPolicy.objects.create(group=group, monthly_limit=Decimal(amount))
        alice.groups.add(group)
    # The most generous of the groups.
    assert limits.limits_for(alice).monthly == Decimal("20")
    UserLimits.objects.create(user=alice, monthly_limit=Decimal("1"))
    assert limits.limits_for(alice).monthly == Decimal("1")


def test_the_site_default_the_groups_and_the_user_are_read_in_one_query(
    alice: User, django_assert_num_queries: Any
) -> None:
    site_limits(daily_limit=Decimal("4"), unpriced_policy="assume", unpriced_price=Decimal("0.05"))
    group = Group.objects.create(name="designers")
    GroupPolicy.objects.create(group=group, monthly_limit=Decimal("20"))
    alice.groups.add(group)
    UserLimits.objects.create(user=alice, jobs_per_minute=7)
    # Every submission and every account page reads them.
    with django_assert_num_queries(1):
        found = limits.limits_for(alice)
    assert (found.daily, found.monthly, found.jobs_per_minute) == (Decimal(4), Decimal(20), 7)
    assert (found.unpriced_policy, found.unpriced_price) == ("assume", Decimal("0.05"))
    assert found.sources == {
        "daily_limit": "site",
        "monthly_limit": "group",
        "max_active_jobs": "environment",
        "jobs_per_minute": "user",
    }


# --- Fair use ---------------------------------------------------------------------------


def test_too_many_submissions_in_a_minute_are_refused_with_the_wait(
    alice: User, bob: User, offline_model: ImageModel
) -> None:
    UserLimits.objects.create(user=alice, jobs_per_minute=3)
    now = MID_DECEMBER
    for seconds in (0, 10, 20):
        backdate(submit(alice, offline_model, "0", now=now), now + timedelta(seconds=seconds))
    with pytest.raises(limits.RateLimited) as refused:
        submit(alice, offline_model, "0", now=now + timedelta(seconds=30))
    # The first of the three leaves the minute 30 s later.
    assert refused.value.retry_after == 30
    assert refused.value.message == (
        "You submitted 3 jobs in the last minute, the most this site allows is 3. "
        "You can submit again in 30 seconds."
    )
    assert Job.objects.filter(owner=alice).count() == 3
    assert submit(alice, offline_model, "0", now=now + timedelta(seconds=61))
    assert submit(bob, offline_model, "0", now=now + timedelta(seconds=30))


def test_too_many_jobs_in_flight_are_refused_until_one_finishes(
    alice: User, offline_model: ImageModel
) -> None:
    site_limits(max_active_jobs=2)
    first = submit(alice, offline_model, "0", now=MID_DECEMBER)
    submit(alice, offline_model, "0", now=MID_DECEMBER)
    with pytest.raises(limits.RateLimited) as refused:
        submit(alice, offline_model, "0", now=MID_DECEMBER)
    assert refused.value.message.startswith("You have 2 jobs queued or running, the most")
    assert refused.value.retry_after >= 5
    Job.objects.filter(pk=first.pk).update(status=JobStatus.SUCCEEDED)
    assert submit(alice, offline_model, "0", now=MID_DECEMBER)


def post_edit(client: Client, model: ImageModel, **headers: Any) -> Any:
    data = {"prompt": "invert", "image_model": model.pk, "images": [upload(image_bytes())]}
    return client.post("/", data, **headers)


def test_the_editor_answers_a_rate_cap_with_a_429_page_and_retry_after(
    alice: User, alice_client: Client, offline_model: ImageModel, media_dir: Path
) -> None:
    UserLimits.objects.create(user=alice, jobs_per_minute=1)
    assert post_edit(alice_client, offline_model).status_code == 302
    response = post_edit(alice_client, offline_model)
    assert response.status_code == 429
    assert 50 <= int(response["Retry-After"]) <= 60
    page = response.content.decode()
    assert "Not now: too many jobs" in page
    assert "You submitted 1 job in the last minute, the most this site allows is 1. " in page
    wait = re.search(r"You can submit again in (\d+) seconds\.", page)
    assert wait and 50 <= int(wait[1]) <= 60
    assert Job.objects.count() == 1 and JobImage.objects.count() == 1


def test_an_htmx_submission_over_the_cap_shows_the_refusal_in_place(
    alice: User, alice_client: Client, offline_model: ImageModel
) -> None:
    UserLimits.objects.create(user=alice, max_active_jobs=1)
    post_edit(alice_client, offline_model)
    response = post_edit(alice_client, offline_model, HTTP_HX_REQUEST="true")
    assert response.status_code == 429
    assert response["HX-Retarget"] == "#messages"
    assert response["Retry-After"]
    assert "You have 1 job queued or running" in response.content.decode()


def test_the_editor_shows_an_over_budget_refusal_on_the_form(
    alice: User, alice_client: Client, priced_model: ImageModel, media_dir: Path
) -> None:
    priced_model.can_edit = True
    priced_model.save()
    UserLimits.objects.create(user=alice, monthly_limit=Decimal("0.01"))
    response = post_edit(alice_client, priced_model)
    assert response.status_code == 400
    page = response.content.decode()
    assert "This run would cost about $0.04; you have $0.01 left of your $0.01 monthly" in page
    assert 'name="prompt"' in page  # the form, with what was entered
    assert Job.objects.count() == 0
    assert [path for path in media_dir.rglob("*") if path.is_file()] == []


# --- Model access -------------------------------------------------------------------------


def test_groups_decide_which_models_a_user_sees(
    alice: User, bob: User, priced_model: ImageModel, offline_model: ImageModel
) -> None:
    everything = set(ImageModel.objects.usable())
    assert set(ImageModel.objects.available_to(alice)) == everything
    router_only = Group.objects.create(name="router users")
    GroupPolicy.objects.create(group=router_only).providers.add(priced_model.provider)
    alice.groups.add(router_only)
    # Each request reads its user again: what its groups allow is read once
    # per user object, as Django reads its permissions.
    alice = User.objects.get(pk=alice.pk)
    assert list(ImageModel.objects.available_to(alice)) == [priced_model]
    demo = Group.objects.create(name="demo")
    GroupPolicy.objects.create(group=demo).image_models.add(offline_model)
    alice.groups.add(demo)
    alice = User.objects.get(pk=alice.pk)
    assert set(ImageModel.objects.available_to(alice)) == {priced_model, offline_model}
    # A group without a choice of providers or models restricts nothing.
    unrestricted = Group.objects.create(name="everyone")
    GroupPolicy.objects.create(group=unrestricted, monthly_limit=Decimal(1))
    bob.groups.add(unrestricted)
    assert set(ImageModel.objects.available_to(bob)) == everything


def test_a_submission_reads_what_the_users_groups_allow_once(
    alice: User, priced_model: ImageModel, offline_model: ImageModel
) -> None:
    group = Group.objects.create(name="router users")
    GroupPolicy.objects.create(group=group).providers.add(priced_model.provider)
    alice.groups.add(group)
    with CaptureQueriesContext(connection) as queries:
        # The image API's lookup, the form and the admission ask in turn.
        for _ in range(3):
            assert list(ImageModel.objects.available_to(alice)) == [priced_model]
    policy_reads = [q for q in queries if 'FROM "editor_grouppolicy"' in q["sql"]]
    assert len(policy_reads) == 1
    with pytest.raises(limits.ModelNotAvailable):
        submit(alice, offline_model, "0", now=MID_DECEMBER)


def test_an_editor_submission_asks_once_whether_the_model_is_available(
    alice: User, alice_client: Client, offline_model: ImageModel
) -> None:
    with CaptureQueriesContext(connection) as queries:
        response = alice_client.post(
            "/",
            {
                "prompt": "a lighthouse",
                "image_model": offline_model.pk,
                "images": upload(image_bytes()),
            },
        )
    assert response.status_code == 302, response.content.decode()[:2000]
    # The form reads the chosen model among those available to her; the
    # admission trusts it rather than asking again.
    model_reads = [q for q in queries if 'FROM "editor_imagemodel"' in q["sql"]]
    assert len(model_reads) == 1, [q["sql"][:200] for q in model_reads]


def test_the_users_row_is_locked_only_when_a_limit_counts_jobs(
    alice: User, priced_model: ImageModel
) -> None:
    def locks_of_a_submission() -> list[str]:
        with CaptureQueriesContext(connection) as queries:
            submit(alice, priced_model, "0", now=MID_DECEMBER)
        # SQLite serialises writers already: there the read takes no lock clause.
        return [q["sql"] for q in queries if 'FROM "auth_user"' in q["sql"]]

    # Nothing to count, so nothing for parallel submissions to wait for.
    assert locks_of_a_submission() == []
    UserLimits.objects.create(user=alice, jobs_per_minute=100)
    assert len(locks_of_a_submission()) == 1


def test_a_hidden_model_is_absent_from_the_picker_and_refused_like_a_disabled_one(
    alice: User,
    alice_client: Client,
    priced_model: ImageModel,
    offline_model: ImageModel,
    media_dir: Path,
) -> None:
    group = Group.objects.create(name="router users")
    GroupPolicy.objects.create(group=group).providers.add(priced_model.provider)
    alice.groups.add(group)
    page = alice_client.get("/").content.decode()
    assert "Painter" in page and "Offline demo" not in page
    response = post_edit(alice_client, offline_model)
    assert response.status_code == 400
    assert limits.MODEL_NOT_AVAILABLE in response.content.decode()
    with pytest.raises(limits.ModelNotAvailable):
        submit(alice, offline_model, "0", now=MID_DECEMBER)
    assert Job.objects.count() == 0


# --- The admin ------------------------------------------------------------------------------


@pytest.fixture
def admin_client(db: None) -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw-pw-pw-pw"))
    return client


def test_the_admin_edits_the_site_default(admin_client: Client, alice: User) -> None:
    response = admin_client.get("/admin/editor/sitelimits/", follow=True)
    assert response.status_code == 200
    assert "DARKROOM_MONTHLY_LIMIT" in response.content.decode()
    row = SiteLimits.current()
    response = admin_client.post(
        f"/admin/editor/sitelimits/{row.pk}/change/",
        {
            "monthly_limit": "7.50",
            "daily_limit": "",
            "max_active_jobs": "4",
            "jobs_per_minute": "",
            "unpriced_policy": "block",
            "unpriced_price": "",
        },
    )
    assert response.status_code == 302
    found = limits.limits_for(alice)
    assert (found.monthly, found.max_active_jobs, found.unpriced_policy) == (
        Decimal("7.50"),
        4,
        "block",
    )


def test_the_admin_sets_a_groups_models_and_a_users_limits(
    admin_client: Client, alice: User, priced_model: ImageModel
) -> None:
    group = Group.objects.create(name="router users")
    alice.groups.add(group)
    page = admin_client.get(f"/admin/auth/group/{group.pk}/change/").content.decode()
    assert "Limits and model access" in page
    response = admin_client.post(
        f"/admin/auth/group/{group.pk}/change/",
        {
            "name": "router users",
            "policy-TOTAL_FORMS": "1",
            "policy-INITIAL_FORMS": "0",
            "policy-0-providers": [str(priced_model.provider.pk)],
            "policy-0-monthly_limit": "3",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert list(ImageModel.objects.available_to(alice)) == [priced_model]
    assert limits.limits_for(alice).monthly == Decimal("3")
    page = admin_client.get(f"/admin/auth/user/{alice.pk}/change/").content.decode()
    assert "Limits (empty fields" in page


# --- The command line -------------------------------------------------------------------------


def run_limits(*args: str) -> str:
    out = io.StringIO()
    call_command("limits", *args, stdout=out)
    return out.getvalue()


def test_the_cli_sets_and_shows_a_users_limits_and_spend(
    alice: User, priced_model: ImageModel
) -> None:
    spent_before(alice, priced_model, "0.042", created=datetime.now(UTC))
    out = run_limits("set", "--user", "alice", "--monthly", "5", "--per-minute", "10")
    assert "monthly limit: $5.00 (the user's own)" in out
    assert "jobs per minute: 10 (the user's own)" in out
    assert "spent this month: $0.042" in out
    found = limits.limits_for(alice)
    assert (found.monthly, found.jobs_per_minute, found.daily) == (Decimal(5), 10, None)
    run_limits("set", "--user", "alice", "--monthly", "none", "--daily", "1.50")
    found = limits.limits_for(alice)
    assert (found.monthly, found.daily) == (None, Decimal("1.50"))
    out = run_limits("show", "--user", "alice")
    assert "monthly limit: no limit" in out and "daily limit: $1.50 (the user's own)" in out


def test_the_cli_sets_the_default_and_lists_who_spent(
    alice: User, bob: User, priced_model: ImageModel
) -> None:
    spent_before(alice, priced_model, "0.30", created=datetime.now(UTC))
    out = run_limits(
        "set", "--default", "--monthly", "20", "--max-active", "4", "--unpriced", "0.05"
    )
    assert "monthly limit: $20.00 (site default)" in out
    assert "jobs queued or running at once: 4 (site default)" in out
    assert "models without a known price: counted at $0.05 a run" in out
    assert "  alice: $0.30" in out and "bob" not in out
    assert limits.limits_for(bob).max_active_jobs == 4


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("set", "--user", "nobody", "--monthly", "5"), "No user named 'nobody'."),
        (("set", "--user", "alice", "--monthly", "five"), "Not an amount in USD: 'five'"),
        (("set", "--user", "alice", "--monthly", "-1"), "A limit is 0 or more"),
        (("set", "--user", "alice", "--monthly", "1.234"), "in whole cents"),
        (("set", "--default", "--unpriced", "cheap"), "block, allow or a price in USD"),
        (("set", "--user", "alice", "--max-active", "2.5"), "Not a whole number of jobs"),
        (("set", "--user", "alice"), "Nothing to set"),
        (("set", "--user", "alice", "--unpriced", "block"), "site default only"),
    ],
)
def test_the_cli_refuses_bad_input_and_changes_nothing(
    alice: User, args: tuple[str, ...], message: str
) -> None:
    with pytest.raises(CommandError, match=re.escape(message)):
        run_limits(*args)
    assert not UserLimits.objects.exists()
    assert limits.limits_for(alice).unpriced_policy == "allow"


def test_the_wait_for_a_job_slot_follows_the_users_usual_job_duration(
    alice: User, offline_model: ImageModel
) -> None:
    site_limits(max_active_jobs=1)
    now = datetime.now(UTC)
    earlier = spent_before(alice, offline_model, "0", created=now - timedelta(minutes=10))
    Job.objects.filter(pk=earlier.pk).update(finished=now - timedelta(minutes=10, seconds=-40))
    backdate(submit(alice, offline_model, "0", now=now), now - timedelta(seconds=10))
    with pytest.raises(limits.RateLimited) as refused:
        submit(alice, offline_model, "0", now=now)
    # Jobs take her 40 s; the one in flight started 10 s ago.
    assert refused.value.retry_after == 30
    assert "(about 30 seconds from now)" in refused.value.message
