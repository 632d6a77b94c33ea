"""Logging in, in a real browser: a paused login says how long to wait."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

try:
    from playwright.sync_api import expect
except ImportError:  # the browser fixture skips (or, in CI, fails) and says why
    expect = None

pytestmark = [pytest.mark.browser]


def test_a_paused_login_says_how_long_to_wait(
    open_context: Callable[..., Any], user: Any, shot: Callable[..., Path]
) -> None:
    page = open_context(logged_in=False).new_page()
    page.goto("/accounts/login/")
    for attempt in range(6):
        page.fill("#id_username", user.username)
        page.fill("#id_password", f"wrong guess {attempt}")
        page.get_by_role("button", name="Log in").click()
        if attempt < 5:
            expect(page.locator(".errors")).to_contain_text("correct username and password")
    expect(page.locator("h1")).to_have_text("Too many attempts")
    expect(page.locator(".error-message")).to_contain_text("try again in 15 minutes")
    expect(page.locator(".topbar .brand")).to_be_visible()
    shot(page, "login-paused", full_page=False)
    page.get_by_role("link", name="Forgot your password? Reset it").click()
    expect(page.locator("h1")).to_have_text("Reset your password")
