"""Playwright driving Debian's Chromium against the live server.

No browser download: the tests use /usr/bin/chromium. Where it (or the
playwright package) is missing they skip with the reason, except in CI
(``CI=true``), where a missing browser is a failure.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


def _missing_browser() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (uv sync --dev)"
    if not (os.path.exists(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        return f"Chromium is not installed at {CHROMIUM} (apt-get install -y chromium)"
    return None


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    reason = _missing_browser()
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"Browser tests cannot run in CI: {reason}.")
        pytest.skip(f"Browser tests skipped: {reason}.")
    from playwright.sync_api import expect, sync_playwright

    # Assertions wait for a state as long as actions do: on a loaded machine
    # a browser can take several seconds to get there, and waiting costs
    # nothing when it is quick.
    expect.set_options(timeout=15_000)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield launched
        launched.close()


@pytest.fixture(scope="session")
def live_server_media_url() -> Iterator[None]:
    """Django's live server needs a MEDIA_URL to build its media handler.

    Darkroom has none (files are served only through views that check the
    owner), so give the test server a path the app never links to.
    """
    from django.test.utils import override_settings

    override = override_settings(MEDIA_URL="/unlinked-test-media/")
    override.enable()
    yield
    override.disable()


@pytest.fixture(scope="session")
def live_server(live_server_media_url: None, live_server: Any) -> Any:
    return live_server


_taken: list[Path] = []


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _taken:
        terminalreporter.write_line(
            f"Browser screenshots ({len(_taken)}) of the main states: {SCREENSHOTS}"
        )


@pytest.fixture
def shot(screenshots: Path) -> Callable[..., Path]:
    """Save a screenshot under a name that says the state it shows."""

    def take(page: Any, name: str, *, full_page: bool = True) -> Path:
        path = screenshots / f"{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        _taken.append(path)
        return path

    return take


@pytest.fixture
def user(transactional_db: None) -> User:
    return User.objects.create_user("carol", "carol@example.com", "correct horse battery")


@pytest.fixture
def open_context(browser: Any, live_server: Any, user: User) -> Iterator[Callable[..., Any]]:
    """New browser contexts logged in as ``user`` (a session cookie from force_login)."""
    contexts: list[Any] = []

    def make(*, logged_in: bool = True, **options: Any) -> Any:
        options.setdefault("viewport", {"width": 1440, "height": 900})
        context = browser.new_context(base_url=live_server.url, **options)
        context.set_default_timeout(15_000)
        if logged_in:
            client = Client()
            client.force_login(user)
            cookie = client.cookies[settings.SESSION_COOKIE_NAME]
            context.add_cookies(
                [{"name": cookie.key, "value": cookie.value, "url": live_server.url}]
            )
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def page(open_context: Callable[..., Any]) -> Any:
    context = open_context()
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    in_flight: set[Any] = set()
    page.on("request", lambda request: in_flight.add(request))
    page.on("requestfinished", lambda request: in_flight.discard(request))
    # Answered: a 304 gets no "requestfinished", and a stream never finishes.
    page.on("response", lambda response: in_flight.discard(response.request))
    page.on("requestfailed", lambda request: in_flight.discard(request))
    yield page
    # A request the live server is still answering (lazy thumbnails, say)
    # when the test's database is emptied can deadlock with the emptying on
    # PostgreSQL: let the page's last requests finish first.
    deadline = time.monotonic() + 15
    while in_flight and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    assert not errors, f"JavaScript errors on the page: {errors}"


@pytest.fixture
def idle_queue(transactional_db: None, tmp_path: Path) -> Iterator[Path]:
    """A broker folder nobody consumes: jobs stay queued (and nothing reaches var/)."""
    from tests.services import filesystem_broker

    queue = tmp_path / "idle-queue"
    with filesystem_broker(queue):
        yield queue
    shutil.rmtree(queue, ignore_errors=True)


@pytest.fixture
def fake_openai(transactional_db: None) -> Iterator[Any]:
    """The strict OpenAI fake, running, as the provider "openai-fake"."""
    from editor import catalog
    from tests.fakes.common import API_KEY
    from tests.fakes.openai import OpenAIFake

    server = OpenAIFake()
    with server.running():
        catalog.provider_create(
            name="openai-fake", kind="openai", base_url=server.base_url + "/v1", api_key=API_KEY
        )
        yield server
