"""The API tokens page in a real browser: make a token, copy it once, use it,
see the API job in the history, revoke the token."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from editor.models import Job
from tests.images import image_bytes

try:
    from playwright.sync_api import expect
except ImportError:  # the browser fixture skips (or, in CI, fails) and says why
    expect = None

pytestmark = [pytest.mark.browser]


def test_a_token_is_made_copied_used_and_revoked(
    open_context: Callable[..., Any],
    live_server: Any,
    celery_worker: Any,
    user: Any,
    shot: Callable[..., Path],
) -> None:
    context = open_context(permissions=["clipboard-read", "clipboard-write"])
    page = context.new_page()
    page.goto("/")
    page.get_by_role("link", name="Account").click()
    page.get_by_role("link", name="API tokens").click()
    expect(page.locator("h1")).to_have_text("API tokens")
    shot(page, "api-tokens-empty")
    page.fill("#id_name", "Open WebUI")
    page.get_by_role("button", name="Make token").click()
    secret = page.locator("#new-token-secret").inner_text()
    assert secret.startswith("drk_")
    page.get_by_role("button", name="Copy").click()
    expect(page.locator("[data-copy-status]")).to_have_text("Copied.")
    assert page.evaluate("navigator.clipboard.readText()") == secret
    shot(page, "api-tokens-new-token-shown-once")

    made = httpx.post(
        f"{live_server.url}/v1/images/edits",
        headers={"Authorization": f"Bearer {secret}"},
        data={"model": "offline/offline-demo", "prompt": "make it sepia"},
        files={"image": ("photo.png", image_bytes(48, 32), "image/png")},
        timeout=60,
    )
    assert made.status_code == 200, made.text
    job = Job.objects.get(owner=user)
    page.goto("/history/")
    expect(page.locator(f'[data-job="{job.pk}"] .badge-api')).to_have_text("API")
    shot(page, "history-with-an-api-job")
    page.goto(f"/jobs/{job.pk}/")
    expect(page.locator(".job-head .badge-api")).to_have_text("API")
    shot(page, "job-made-through-the-api", full_page=False)

    page.goto("/accounts/tokens/")
    expect(page.locator("#new-token-secret")).to_have_count(0)  # shown once
    expect(page.locator(".token-list")).to_contain_text("Open WebUI")
    page.get_by_role("button", name="Revoke").click()
    expect(page.locator(".token-list tr.revoked")).to_contain_text("revoked")
    shot(page, "api-tokens-revoked")
    refused = httpx.get(
        f"{live_server.url}/v1/models", headers={"Authorization": f"Bearer {secret}"}
    )
    assert refused.status_code == 401
