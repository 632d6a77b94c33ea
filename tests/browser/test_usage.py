"""Usage in a real browser, from jobs a real worker ran through the fake
OpenAI provider: the user's spend chart and the operator's dashboard show
the costs those jobs recorded."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client

from editor.models import ImageModel, Job, JobStatus
from editor.pricing import format_money
from tests.factories import make_job
from tests.fakes.openai import OpenAIFake
from tests.services import wait_until

try:
    from playwright.sync_api import expect
except ImportError:  # the browser fixture skips (or, in CI, fails) and says why
    expect = None

pytestmark = [pytest.mark.browser, pytest.mark.worker]

CHART_DATA = """(id) => {
  const chart = Chart.getChart(document.getElementById(id));
  return chart && {
    labels: chart.data.labels,
    datasets: chart.data.datasets.map((d) => ({ label: d.label, data: d.data })),
  };
}"""


def run_jobs(user: User, fake: OpenAIFake) -> list[Job]:
    """Three jobs on two models of the fake, run by the real worker."""
    models = {
        model.model_id: model
        for model in ImageModel.objects.filter(
            provider__name="openai-fake", model_id__in=["gpt-image-1", "gpt-image-1-mini"]
        )
    }
    jobs = [
        make_job(user=user, model=models["gpt-image-1"], prompt="a red boat"),
        make_job(user=user, model=models["gpt-image-1"], prompt="a blue boat at dusk"),
        make_job(user=user, model=models["gpt-image-1-mini"], prompt="a small green boat"),
    ]
    wait_until(
        lambda: (
            Job.objects.filter(pk__in=[job.pk for job in jobs], status=JobStatus.SUCCEEDED)
            .exclude(cost=None)
            .count()
            == len(jobs)
        ),
        timeout=60,
        message=f"the worker did not finish the jobs ({fake.rejections})",
    )
    return list(Job.objects.filter(pk__in=[job.pk for job in jobs]))


def table(page: Any, selector: str) -> dict[str, list[str]]:
    rows: dict[str, list[str]] = {}
    for row in page.locator(f"{selector} tbody tr").all():
        head = row.locator("th").inner_text().strip()
        rows[head] = [cell.inner_text().strip() for cell in row.locator("td").all()]
    return rows


def test_my_spend_chart_shows_what_my_jobs_cost(
    page: Any,
    celery_worker: Any,
    fake_openai: OpenAIFake,
    user: User,
    shot: Callable[..., Path],
) -> None:
    jobs = run_jobs(user, fake_openai)
    total = sum((job.cost for job in jobs if job.cost is not None), Decimal(0))
    assert total > 0
    by_model: dict[str, Decimal] = {}
    for job in jobs:
        key = f"{job.model_label} ({job.provider_name})"
        by_model[key] = by_model.get(key, Decimal(0)) + (job.cost or Decimal(0))

    page.goto("/accounts/")
    expect(page.locator("#spend-total")).to_have_text(format_money(total))
    page.wait_for_function("() => Chart.getChart(document.getElementById('spend-chart'))")
    chart = page.evaluate(CHART_DATA, "spend-chart")
    drawn = {dataset["label"]: sum(dataset["data"]) for dataset in chart["datasets"]}
    assert drawn.keys() == by_model.keys()
    for label, amount in by_model.items():
        assert drawn[label] == pytest.approx(float(amount), rel=1e-6)
    # The accessible table beside it says the same.
    models = table(page, "#spend-by-model")
    assert {head: cells[1] for head, cells in models.items()} == {
        label: format_money(amount) for label, amount in by_model.items()
    }
    shot(page, "account-spend-chart")


def test_the_operator_dashboard_shows_every_users_jobs(
    browser: Any,
    live_server: Any,
    celery_worker: Any,
    fake_openai: OpenAIFake,
    user: User,
    shot: Callable[..., Path],
) -> None:
    other = User.objects.create_user("dave", "dave@example.com", "correct horse battery")
    jobs = run_jobs(user, fake_openai) + run_jobs(other, fake_openai)
    staff = User.objects.create_user("root", "root@example.com", "x", is_staff=True)
    client = Client()
    client.force_login(staff)
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1440, "height": 900})
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": live_server.url}])
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto("/operator/usage/")
        expect(page.locator("h1")).to_have_text("Usage")
        page.wait_for_function("() => Chart.getChart(document.getElementById('usage-days-chart'))")
        by_user = table(page, "#usage-by-user")
        for account in (user, other):
            own = [job for job in jobs if job.owner_id == account.pk]
            spent = sum((job.cost or Decimal(0) for job in own), Decimal(0))
            assert by_user[account.username][0] == format_money(spent)
            assert by_user[account.username][1] == str(len(own))
            assert by_user[account.username][2] == "0"
        total = sum((job.cost or Decimal(0) for job in jobs), Decimal(0))
        expect(page.locator("#usage-total strong")).to_have_text(format_money(total))
        days = page.evaluate(CHART_DATA, "usage-days-chart")
        assert sum(days["datasets"][0]["data"]) == pytest.approx(float(total), rel=1e-6)
        models = page.evaluate(CHART_DATA, "usage-models-chart")
        assert sum(models["datasets"][0]["data"]) == pytest.approx(float(total), rel=1e-6)
        shot(page, "operator-usage-dashboard")
        with page.expect_download() as download:
            page.get_by_role("link", name="Export CSV").click()
        exported = Path(download.value.path()).read_text()
        assert exported.startswith("day,user,provider,model,jobs,failures,spend_usd")
        assert ",dave,openai-fake,GPT Image 1,2,0," in exported
        assert not errors, errors
    finally:
        context.close()
