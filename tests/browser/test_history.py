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


def test_a_selection_is_deleted_after_confirming(
    page: Any, seeded: list[Job], shot: Callable[..., Path]
) -> None:
    doomed = seeded[:2]
    page.goto("/history/")
    for job in doomed:
        page.locator(f'.history-item[data-job="{job.pk}"] .select-job').check()
    shot(page, "history-selection", full_page=False)
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete selected").click()
    expect(page.locator(".messages")).to_contain_text("Deleted 2 jobs.")
    for job in doomed:
        expect(page.locator(f'.history-item[data-job="{job.pk}"]')).to_have_count(0)
    assert not Job.objects.filter(pk__in=[job.pk for job in doomed]).exists()


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
