"""Signing up by invitation in a real browser: the refusal without a link,
the invited sign-up, and the link refused once used."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User

from editor import invites

try:
    from playwright.sync_api import expect
except ImportError:  # the browser fixture skips (or, in CI, fails) and says why
    expect = None

pytestmark = [pytest.mark.browser]


def test_an_invite_link_makes_one_account(
    open_context: Callable[..., Any], settings: Any, shot: Callable[..., Path]
) -> None:
    settings.DARKROOM_SIGNUP = "invite"
    page = open_context(logged_in=False).new_page()
    page.goto("/accounts/signup/")
    expect(page.locator("h1")).to_have_text("Sign-up is by invitation")
    expect(page.locator(".error-message")).to_contain_text("Sign-up here is by invitation only")
    shot(page, "signup-invite-only", full_page=False)

    link = invites.invite_create(created_by=None).path
    page.goto(link)
    expect(page.locator("h1")).to_have_text("Create your account")
    expect(page.get_by_text("You were invited")).to_be_visible()
    page.fill("#id_username", "erin")
    page.fill("#id_email", "erin@example.com")
    page.fill("#id_password1", "a long passphrase 42")
    page.fill("#id_password2", "a long passphrase 42")
    shot(page, "signup-invited", full_page=False)
    page.get_by_role("button", name="Sign up").click()
    expect(page.locator(".topbar")).to_contain_text("Log out erin")
    assert User.objects.filter(username="erin").exists()

    again = open_context(logged_in=False).new_page()
    again.goto(link)
    expect(again.locator("h1")).to_have_text("This invite was already used")
    shot(again, "signup-invite-used", full_page=False)
