"""Running from the editor's workspace: the run shows in place, beside the canvas."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect


def wait_for_run(page: Any, *, editor_url: str) -> str:
    """Wait for the run panel of the job just created; its id. The page must not move."""
    panel = page.locator("#run-panel[data-job]")
    expect(panel).to_be_attached()
    assert page.url == editor_url, "Run must keep the user in the workspace"
    return str(panel.get_attribute("data-job"))


def run_in_place(page: Any) -> str:
    """Press Run and wait for the run panel; the new job's id."""
    editor_url = page.url
    page.click("#job-form button[type=submit]")
    return wait_for_run(page, editor_url=editor_url)


def open_job_page(page: Any) -> None:
    """Follow the run panel's link to the job's own page."""
    page.click("#run-panel .job-link")
    page.wait_for_url("**/jobs/*/")
