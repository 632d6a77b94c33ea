"""Password guessing and reset flooding are throttled, per account and per
client address, on the site's login, the admin's login and password reset."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from axes.models import AccessAttempt
from django.contrib.auth.models import User
from django.core import mail
from django.db.models import F
from django.test import Client, RequestFactory

from tests.services import Gunicorn
from webapp.throttling import attempted_username, client_ip

WRONG = "not the password"
RIGHT = "correct horse battery"


def log_in(
    client: Client,
    username: str,
    password: str,
    *,
    path: str = "/accounts/login/",
    address: str = "127.0.0.1",
    **headers: Any,
) -> Any:
    return client.post(
        path, {"username": username, "password": password}, REMOTE_ADDR=address, **headers
    )


def is_logged_in(client: Client) -> bool:
    return bool(client.get("/history/").status_code == 200)


def assert_paused(response: Any, *, minutes: int = 15) -> None:
    body = response.content.decode()
    assert response.status_code == 429, body[:300]
    assert 'class="topbar"' in body  # the site's layout
    assert "Too many wrong passwords" in body
    assert f"try again in {minutes} minutes" in body
    assert int(response["Retry-After"]) == pytest.approx(minutes * 60, abs=5)


def wait_out_the_pause() -> None:
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - timedelta(minutes=16))


def test_the_sixth_wrong_password_pauses_the_account(client: Client, alice: User) -> None:
    for _ in range(5):
        response = log_in(client, "alice", WRONG)
        assert response.status_code == 200
        assert "Please enter a correct username and password" in response.content.decode()
    assert_paused(log_in(client, "alice", WRONG))
    # Even the right password waits.
    assert_paused(log_in(client, "alice", RIGHT))
    assert not is_logged_in(client)
    # And from anywhere: the account itself is paused.
    assert_paused(log_in(Client(), "alice", RIGHT, address="198.51.100.7"))
    wait_out_the_pause()
    assert log_in(client, "alice", RIGHT).status_code == 302
    assert is_logged_in(client)


def test_the_admin_login_is_paused_the_same_way(client: Client, db: None) -> None:
    User.objects.create_superuser("root", "root@example.com", RIGHT)
    for _ in range(5):
        assert log_in(client, "root", WRONG, path="/admin/login/").status_code == 200
    assert_paused(log_in(client, "root", WRONG, path="/admin/login/"))
    assert_paused(log_in(client, "root", RIGHT, path="/admin/login/"))
    # One count for both doors.
    assert_paused(log_in(client, "root", RIGHT))
    wait_out_the_pause()
    response = log_in(client, "root", RIGHT, path="/admin/login/")
    assert response.status_code == 302
    assert client.get("/admin/").status_code == 200


def test_the_wait_shown_is_what_is_left(client: Client, alice: User) -> None:
    for _ in range(6):
        log_in(client, "alice", WRONG)
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - timedelta(minutes=10))
    assert_paused(log_in(client, "alice", RIGHT), minutes=5)


def test_a_success_starts_the_count_again(client: Client, alice: User) -> None:
    for _ in range(5):
        log_in(client, "alice", WRONG)
    assert log_in(client, "alice", RIGHT).status_code == 302
    client.post("/accounts/logout/")
    for _ in range(5):
        assert log_in(client, "alice", WRONG).status_code == 200
    assert_paused(log_in(client, "alice", WRONG))


def test_another_account_from_the_same_address_is_paused(
    client: Client, alice: User, bob: User
) -> None:
    for _ in range(6):
        log_in(client, "alice", WRONG, address="203.0.113.5")
    # Guessing across accounts from one address is stopped by the address.
    assert_paused(log_in(Client(), "bob", RIGHT, address="203.0.113.5"))
    # Bob himself, elsewhere, is not paused.
    elsewhere = Client()
    assert log_in(elsewhere, "bob", RIGHT, address="203.0.113.6").status_code == 302


def test_behind_a_proxy_the_address_comes_from_the_trusted_header(
    settings: Any, alice: User, bob: User
) -> None:
    settings.DARKROOM_CLIENT_IP_HEADER = "X-Forwarded-For"
    for attempt in range(6):
        # Whatever the client puts first, the proxy appends what it saw.
        log_in(Client(), "alice", WRONG, HTTP_X_FORWARDED_FOR=f"10.9.9.{attempt}, 203.0.113.5")
    assert_paused(log_in(Client(), "bob", RIGHT, HTTP_X_FORWARDED_FOR="203.0.113.5"))
    assert log_in(Client(), "bob", RIGHT, HTTP_X_FORWARDED_FOR="203.0.113.6").status_code == 302


@pytest.mark.parametrize(
    ("header", "proxies", "value", "expected"),
    [
        ("", 1, "203.0.113.5", "127.0.0.1"),  # no header configured: the connection
        ("X-Forwarded-For", 1, "1.2.3.4, 203.0.113.5", "203.0.113.5"),
        ("X-Forwarded-For", 2, "1.2.3.4, 203.0.113.5, 10.0.0.2", "203.0.113.5"),
        ("X-Forwarded-For", 2, "203.0.113.5", "0.0.0.0"),  # fewer entries than proxies
        ("X-Real-IP", 1, "2001:db8::1", "2001:db8::1"),
        ("X-Real-IP", 1, "not an address", "0.0.0.0"),
    ],
)
def test_the_client_address(
    settings: Any, header: str, proxies: int, value: str, expected: str
) -> None:
    settings.DARKROOM_CLIENT_IP_HEADER = header
    settings.DARKROOM_TRUSTED_PROXIES = proxies
    meta_name = "HTTP_" + (header or "X-Forwarded-For").upper().replace("-", "_")
    request = RequestFactory().get("/", REMOTE_ADDR="127.0.0.1", **{meta_name: value})
    assert client_ip(request) == expected


# --- Password reset ---------------------------------------------------------------------


def ask_reset(email: str, *, address: str = "127.0.0.1") -> Any:
    return Client().post("/accounts/password_reset/", {"email": email}, REMOTE_ADDR=address)


def assert_reset_paused(response: Any) -> None:
    body = response.content.decode()
    assert response.status_code == 429, body[:300]
    assert 'class="topbar"' in body
    assert "Too many password reset requests" in body
    wait = re.search(r"Try again in (\d+) (minute|second)", body)
    assert wait, body
    assert 0 < int(response["Retry-After"]) <= 3600


def test_password_reset_is_throttled_per_address_asked_for(alice: User) -> None:
    for index in range(5):
        assert ask_reset("alice@example.com", address=f"198.51.100.{index}").status_code == 302
    assert len(mail.outbox) == 5
    # The case of the address makes no difference.
    assert_reset_paused(ask_reset("ALICE@example.com", address="198.51.100.99"))
    assert len(mail.outbox) == 5


def test_password_reset_is_throttled_per_client(alice: User, bob: User) -> None:
    for index in range(5):
        assert ask_reset(f"someone{index}@example.com", address="203.0.113.5").status_code == 302
    assert_reset_paused(ask_reset("alice@example.com", address="203.0.113.5"))
    assert mail.outbox == []
    assert ask_reset("alice@example.com", address="203.0.113.6").status_code == 302
    assert len(mail.outbox) == 1


# --- Across web processes ------------------------------------------------------------------


@pytest.fixture(scope="module")
def two_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Gunicorn]]:
    """Two gunicorn servers (two sets of processes) on one database."""
    folder = tmp_path_factory.mktemp("two-servers")
    with (
        Gunicorn(folder / "one", data=folder / "data") as one,
        Gunicorn(folder / "two", data=folder / "data") as two,
    ):
        yield [one, two]


def form_post(server: Gunicorn, path: str, data: dict[str, str]) -> httpx.Response:
    """A form sent as a browser would: a new visit (and connection) each time."""
    with httpx.Client(base_url=server.url, timeout=30) as client:
        page = client.get(path)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        assert token, page.text
        return client.post(path, data={"csrfmiddlewaretoken": token.group(1), **data})


def test_a_pause_holds_in_every_web_process(two_servers: list[Gunicorn]) -> None:
    one, two = two_servers
    signed_up = form_post(
        one,
        "/accounts/signup/",
        {"username": "dora", "password1": RIGHT + " 9", "password2": RIGHT + " 9"},
    )
    assert signed_up.status_code == 302, signed_up.text
    for _ in range(6):
        answer = form_post(one, "/accounts/login/", {"username": "dora", "password": WRONG})
    assert answer.status_code == 429
    paused = form_post(two, "/accounts/login/", {"username": "dora", "password": RIGHT + " 9"})
    assert paused.status_code == 429
    assert "Too many wrong passwords" in paused.text
    assert paused.headers["X-Test-Worker-Pid"] != answer.headers["X-Test-Worker-Pid"]


def test_a_huge_username_is_counted_not_stored_whole(client: Client, alice: User) -> None:
    # Django's login form does not check a username's length.
    for _ in range(6):
        response = log_in(client, "a" * 100_000, WRONG)
    assert response.status_code == 429
    assert {len(name) for name in AccessAttempt.objects.values_list("username", flat=True)} == {255}
    assert attempted_username(RequestFactory().post("/", {"username": "bob"}), None) == "bob"
