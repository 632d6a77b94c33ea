"""Refusals of the limits in a real browser: shown in place, nothing sent."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

try:
    from playwright.sync_api import expect
except ImportError:  # the browser fixture skips (or, in CI, fails) and says why
    expect = None

from editor import services
from editor.models import ImageModel, Job, Provider, UserLimits
from tests.browser.picker import choose_model

pytestmark = [pytest.mark.browser]


def test_a_submission_over_the_jobs_in_flight_cap_says_when_to_try_again(
    page: Any, idle_queue: Path, user: Any, offline_model: Any, shot: Callable[..., Path]
) -> None:
    UserLimits.objects.create(user=user, max_active_jobs=1)
    services.job_create(
        user=user, image_model=offline_model, prompt="invert", params={"n": 1}, images=[]
    )
    page.goto("/")
    page.fill("#id_prompt", "a lighthouse at dusk")
    page.click("#job-form button[type=submit]")
    message = page.locator("#messages")
    expect(message).to_contain_text("Not now: too many jobs")
    expect(message).to_contain_text(
        "You have 1 job queued or running, the most this site allows at once."
    )
    expect(page.locator("#id_prompt")).to_have_value("a lighthouse at dusk")
    shot(page, "limits-too-many-jobs-in-flight")
    assert Job.objects.filter(owner=user).count() == 1


def test_a_run_over_budget_is_refused_on_the_form_with_what_is_left(
    page: Any, idle_queue: Path, user: Any, shot: Callable[..., Path]
) -> None:
    provider = Provider.objects.create(name="router", kind="imagerouter", base_url="http://x")
    ImageModel.objects.create(
        provider=provider,
        model_id="painter-1",
        label="Painter",
        can_generate=True,
        pricing={"per_image": "0.04"},
    )
    UserLimits.objects.create(user=user, monthly_limit=Decimal("0.01"))
    page.goto("/")
    choose_model(page, "Painter")
    page.fill("#id_prompt", "a lighthouse at dusk")
    page.click("#job-form button[type=submit]")
    expect(page.locator("#job-form")).to_contain_text(
        "This run would cost about $0.04; you have $0.01 left of your $0.01 monthly limit"
    )
    shot(page, "limits-over-budget")
    assert not Job.objects.filter(owner=user).exists()
