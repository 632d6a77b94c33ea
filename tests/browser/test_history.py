"""The history in a real browser: live search in the URL, infinite scroll,
delete a selection, walk a lineage."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from editor.models import Job

try:
    from playwright.sync_api import expect
except ImportError:  # the browser fixture skips (or, in CI, fails) and says why
    expect = None

pytestmark = [pytest.mark.browser]


@pytest.fixture
def seeded(user: Any) -> list[Job]:
    call_command("seed_history", user=user.username, count=60, stdout=io.StringIO())
    return list(Job.objects.filter(owner=user).order_by("-created", "-id"))


def test_search_updates_the_results_and_the_url(
    page: Any, seeded: list[Job], shot: Callable[..., Path]
) -> None:
    word = next(job for job in seeded if "lighthouse" in job.prompt or "cat" in job.prompt)
    term = "lighthouse" if "lighthouse" in word.prompt else "cat"
    expected = [job for job in seeded if term in job.prompt.lower().replace(",", " ").split()]
    page.goto("/history/")
    expect(page.locator(".history-item")).to_have_count(24)
    shot(page, "history-grid", full_page=False)
    page.evaluate("() => { window.notReloaded = true; }")
    page.fill("#id_q", term)
    page.wait_for_url(f"**/history/?q={term}*")
    expect(page.locator(".history-item")).to_have_count(min(len(expected), 24))
    for item in page.locator(".history-item .prompt").all_inner_texts():
        assert term in item.lower()
    assert page.evaluate("() => window.notReloaded") is True
    page.select_option("#id_status", "failed")
    page.wait_for_url("**status=failed*")
    failed = [job for job in expected if job.status == "failed"]
    expect(page.locator(".history-item")).to_have_count(len(failed) or 0)
    # The URL is a bookmark: opening it again shows the same results.
    page.reload()
    expect(page.locator("#id_q")).to_have_value(term)
    expect(page.locator("#id_status")).to_have_value("failed")


def test_scrolling_down_loads_every_job(
    page: Any, seeded: list[Job], shot: Callable[..., Path]
) -> None:
    page.goto("/history/?view=list")
    expect(page.locator(".history-item")).to_have_count(24)
    shot(page, "history-list", full_page=False)
    for expected in (48, 60):
        page.locator("#load-more").scroll_into_view_if_needed()
        expect(page.locator(".history-item")).to_have_count(expected)
    expect(page.locator("#load-more")).to_have_count(0)
    ids = page.locator(".history-item").evaluate_all("items => items.map(i => i.dataset.job)")
    assert ids == [str(job.pk) for job in seeded]


def test_a_deleted_selection_comes_back_with_undo(
    page: Any, seeded: list[Job], shot: Callable[..., Path]
) -> None:
    doomed = seeded[:2]
    questions: list[str] = []
    page.on("dialog", lambda dialog: (questions.append(dialog.message), dialog.dismiss()))
    page.goto("/history/")
    for job in doomed:
        page.locator(f'.history-item[data-job="{job.pk}"] .select-job').check()
    shot(page, "history-selection", full_page=False)
    page.get_by_role("button", name="Delete selected").click()
    expect(page.locator(".messages")).to_contain_text("Moved 2 jobs to the trash.")
    for job in doomed:
        expect(page.locator(f'.history-item[data-job="{job.pk}"]')).to_have_count(0)
    assert Job.objects.filter(pk__in=[job.pk for job in doomed], trashed__isnull=False).count() == 2
    shot(page, "history-deleted-with-undo", full_page=False)
    page.get_by_role("button", name="Undo").click()
    expect(page.locator(".messages")).to_contain_text("Restored 2 jobs.")
    for job in doomed:
        expect(page.locator(f'.history-item[data-job="{job.pk}"]')).to_have_count(1)
    assert not Job.objects.filter(trashed__isnull=False).exists()
    # Undo is offered instead of a question.
    assert questions == []
    shot(page, "history-undone", full_page=False)


def test_a_job_deleted_from_its_page_is_restored_from_the_trash(
    page: Any, seeded: list[Job], shot: Callable[..., Path]
) -> None:
    job = seeded[0]
    page.goto(f"/jobs/{job.pk}/")
    page.get_by_role("button", name="Move this job to the trash").click()
    page.wait_for_url("**/history/")
    expect(page.locator(".messages")).to_contain_text("Moved 1 job to the trash.")
    expect(page.locator(f'.history-item[data-job="{job.pk}"]')).to_have_count(0)
    page.get_by_role("link", name="Trash").click()
    expect(page.locator(f'.history-item[data-job="{job.pk}"]')).to_have_count(1)
    shot(page, "trash", full_page=False)
    page.locator(f'.history-item[data-job="{job.pk}"] .select-job').check()
    page.get_by_role("button", name="Restore selected").click()
    expect(page.locator(".messages")).to_contain_text("Restored 1 job.")
    expect(page.locator(".empty")).to_contain_text("The trash is empty.")
    job.refresh_from_db()
    assert job.trashed is None


def test_a_running_row_turns_done_without_a_reload(
    page: Any, idle_queue: Path, user: Any, shot: Callable[..., Path]
) -> None:
    from editor import pipeline
    from tests.factories import make_job

    finished = make_job(user=user, prompt="already here")
    pipeline.run_job(job_id=str(finished.pk))
    job = make_job(user=user, prompt="on its way")
    assert pipeline.job_claim(str(job.pk)) is not None  # a worker has it: Running
    polled: list[str] = []
    page.on(
        "request", lambda request: polled.append(request.url) if "/row/" in request.url else None
    )
    page.goto("/history/")
    row = page.locator(f'.history-item[data-job="{job.pk}"]')
    expect(row.locator(".badge")).to_have_attribute("data-status", "running")
    expect(row.locator(".badge")).to_have_text("Running")
    shot(page, "history-row-running", full_page=False)
    page.evaluate("() => { window.notReloaded = true; }")
    # The worker finishes it (handed back to the queue so run_job can take it
    # again from the start: the page only sees Running, then Succeeded).
    Job.objects.filter(pk=job.pk).update(status="queued")
    pipeline.run_job(job_id=str(job.pk))
    expect(row.locator(".badge")).to_have_attribute("data-status", "succeeded")
    expect(row.locator(".badge")).to_have_text("Succeeded")
    expect(row.locator("img")).to_have_count(1)
    assert page.evaluate("() => window.notReloaded") is True
    shot(page, "history-row-done", full_page=False)
    # Only the running row was polled, and it stops once final.
    assert polled and all(f"/jobs/{job.pk}/row/" in url for url in polled)
    count = len(polled)
    page.wait_for_timeout(2500)
    assert len(polled) == count


def test_on_a_phone_the_filters_fold_away(
    open_context: Callable[..., Any], seeded: list[Job], shot: Callable[..., Path]
) -> None:
    context = open_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.goto("/history/")
    expect(page.locator("#id_q")).to_be_visible()
    expect(page.locator("#id_status")).to_be_hidden()
    shot(page, "history-phone-filters-folded", full_page=False)
    page.locator(".more-filters > summary").click()
    expect(page.locator("#id_status")).to_be_visible()
    shot(page, "history-phone-filters-open", full_page=False)
    # A filter in use stays in view.
    page.goto("/history/?status=failed")
    expect(page.locator("#id_status")).to_be_visible()


def test_deleting_with_nothing_selected_asks_nothing_and_says_why(
    page: Any, seeded: list[Job], shot: Callable[..., Path]
) -> None:
    questions: list[str] = []

    def answer(dialog: Any) -> None:
        questions.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", answer)
    page.goto("/history/")
    page.get_by_role("button", name="Delete selected").click()
    expect(page.locator("#messages [role=alert]")).to_contain_text(
        "No job was selected, so nothing was deleted."
    )
    shot(page, "history-nothing-selected", full_page=False)
    assert questions == []
    assert Job.objects.count() == len(seeded)


def test_the_lineage_walks_back_and_forth(
    page: Any, seeded: list[Job], shot: Callable[..., Path]
) -> None:
    child = next(job for job in seeded if job.parent_id)
    page.goto(f"/jobs/{child.pk}/")
    page.locator("#job-details").scroll_into_view_if_needed()
    shot(page, "job-details", full_page=False)
    page.locator(".lineage-parent").click()
    page.wait_for_url(f"**/jobs/{child.parent_id}/")
    page.locator(f'.lineage-children a[href="/jobs/{child.pk}/"]').click()
    page.wait_for_url(f"**/jobs/{child.pk}/")
