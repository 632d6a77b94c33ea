"""The job page learns of changes when they happen (push), and polls cheaply
(ETag, 304) when the server has no push."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from editor import pipeline
from editor.models import Job
from tests.browser.test_job_page import SET_VISIBILITY
from tests.factories import make_job
from tests.services import push_job_changes

try:
    from playwright.sync_api import expect
except ImportError:  # the browser fixture skips (or, in CI, fails) and says why
    expect = None

pytestmark = [pytest.mark.browser]


def status_requests(page: Any) -> list[Any]:
    seen: list[Any] = []
    page.on("response", lambda response: "/status/" in response.url and seen.append(response))
    return seen


def open_polled_queued_job(page: Any, user: Any, settings: Any) -> tuple[Job, list[Any]]:
    """A queued job's page, polling (no push), with the status answers it gets."""
    settings.DARKROOM_EVENTS_URL = ""
    job = make_job(user=user)
    polls = status_requests(page)
    page.goto(f"/jobs/{job.pk}/")
    expect(page.locator(".badge")).to_have_attribute("data-status", "queued")
    return job, polls


def test_a_pushed_change_updates_the_page_without_polling(
    page: Any, idle_queue: Path, user: Any, settings: Any, shot: Callable[..., Path]
) -> None:
    push_job_changes(settings)
    job = make_job(user=user)
    polls = status_requests(page)
    page.goto(f"/jobs/{job.pk}/")
    expect(page.locator(".badge")).to_have_attribute("data-status", "queued")
    shot(page, "live-status-pushed-queued")
    # Three seconds queued: the htmx poll would have asked three times.
    # Playwright reports responses only while the test waits through it.
    page.wait_for_timeout(3000)
    assert polls == []
    pipeline.run_job(job_id=str(job.pk))
    expect(page.locator(".badge")).to_have_attribute("data-status", "succeeded")
    expect(page.locator(".compare-range")).to_have_count(1)
    shot(page, "live-status-pushed-succeeded")
    # Only the fetches of changed sections, each answered in full.
    assert polls and all(response.status in (200, 286) for response in polls)


def test_without_push_the_page_polls_and_idle_polls_are_304(
    page: Any, idle_queue: Path, user: Any, settings: Any, shot: Callable[..., Path]
) -> None:
    job, polls = open_polled_queued_job(page, user, settings)
    # Playwright reports responses only while the test waits through it.
    page.wait_for_timeout(3000)
    assert [response.status for response in polls][1:] == [304] * (len(polls) - 1)
    assert len(polls) >= 2
    pipeline.run_job(job_id=str(job.pk))
    expect(page.locator(".badge")).to_have_attribute("data-status", "succeeded")
    expect(page.locator(".compare-range")).to_have_count(1)
    shot(page, "live-status-polled-succeeded")


@pytest.mark.parametrize("push", [True, False], ids=["pushed", "polled"])
def test_the_run_panel_follows_its_job_and_counts_the_wait_by_itself(
    page: Any,
    idle_queue: Path,
    user: Any,
    settings: Any,
    push: bool,
    shot: Callable[..., Path],
) -> None:
    if push:
        push_job_changes(settings)
    else:
        settings.DARKROOM_EVENTS_URL = ""
    panel_fetches: list[str] = []
    page.on(
        "request",
        lambda request: "/editor/runs/" in request.url and panel_fetches.append(request.url),
    )
    page.goto("/")
    page.wait_for_selector("#job-form[data-workspace=ready]", state="attached")
    page.fill("#id_prompt", "a quiet harbour")
    page.click("#job-form button[type=submit]")
    panel = page.locator("#run-panel")
    expect(panel).to_have_attribute("data-status", "queued")
    waited = panel.locator("[data-elapsed]")
    first = int(waited.inner_text())
    # Playwright reports requests only while the test waits through them.
    page.wait_for_timeout(3000)
    # Nothing changed: the panel was not fetched again, yet its count went on.
    assert panel_fetches == []
    assert int(waited.inner_text()) >= first + 2
    # Nothing to continue from yet.
    expect(page.locator("#continue-button")).to_be_hidden()
    shot(page, f"run-panel-{'pushed' if push else 'polled'}-queued")
    pipeline.run_job(job_id=str(Job.objects.get(owner=user).pk))
    expect(panel).to_have_attribute("data-status", "succeeded")
    expect(panel.locator(".variation")).to_have_count(1)
    assert panel_fetches
    expect(page.locator("#continue-button")).to_be_visible()


def test_a_job_trashed_elsewhere_stops_its_open_page_asking(
    page: Any, idle_queue: Path, user: Any, settings: Any
) -> None:
    job, polls = open_polled_queued_job(page, user, settings)
    page.wait_for_timeout(1500)
    Job.objects.filter(pk=job.pk).update(trashed=timezone.now())
    # Playwright reports responses only while the test waits through it.
    page.wait_for_timeout(4000)
    answers = [response.status for response in polls]
    # One 404, then silence: nothing more will change on this page.
    assert answers.count(404) == 1, answers
    assert answers[-1] == 404, answers


def test_a_change_pushed_while_the_tab_is_hidden_shows_when_it_is_back(
    page: Any, idle_queue: Path, user: Any, settings: Any
) -> None:
    push_job_changes(settings)
    job = make_job(user=user)
    page.goto(f"/jobs/{job.pk}/")
    expect(page.locator(".badge")).to_have_attribute("data-status", "queued")
    page.wait_for_timeout(500)  # the stream is open
    page.evaluate(SET_VISIBILITY, "hidden")
    pipeline.run_job(job_id=str(job.pk))
    # Hidden: nothing is fetched for a tab nobody looks at.
    page.wait_for_timeout(1500)
    expect(page.locator(".badge")).to_have_attribute("data-status", "queued")
    page.evaluate(SET_VISIBILITY, "visible")
    expect(page.locator(".badge")).to_have_attribute("data-status", "succeeded", timeout=3000)
