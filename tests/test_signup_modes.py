"""Who may join: open, by invitation (single-use, expiring links) or closed,
and the optional e-mail verification."""

from __future__ import annotations

import re
from datetime import timedelta
from io import StringIO
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone

from editor import invites
from editor.models import Invite
from webapp.settings import default_signup_mode

PASSWORD = "a long passphrase 42"


def signup(client: Client, url: str, username: str, email: str = "") -> Any:
    return client.post(
        url,
        {"username": username, "email": email, "password1": PASSWORD, "password2": PASSWORD},
    )


def test_the_default_is_invite_only_in_production_and_open_on_the_embedded_defaults() -> None:
    production = "postgres://darkroom@db/darkroom"
    assert default_signup_mode(debug=False, database_url=production) == "invite"
    assert default_signup_mode(debug=False, database_url="") == "open"
    assert default_signup_mode(debug=True, database_url=production) == "open"


def test_closed_sign_up_gives_a_clear_page_and_creates_nothing(
    client: Client, settings: Any, db: None
) -> None:
    settings.DARKROOM_SIGNUP = "closed"
    page = client.get("/accounts/signup/")
    assert page.status_code == 403
    assert "Sign-up is closed" in page.content.decode()
    assert signup(client, "/accounts/signup/", "mallory").status_code == 403
    # Not even with an invite.
    token = invites.invite_create(created_by=None).token
    assert signup(client, f"/accounts/signup/invite/{token}/", "mallory").status_code == 403
    assert not User.objects.filter(username="mallory").exists()


def test_uninvited_sign_up_under_invite_only_is_refused_clearly(
    client: Client, settings: Any, db: None
) -> None:
    settings.DARKROOM_SIGNUP = "invite"
    page = client.get("/accounts/signup/")
    assert page.status_code == 403
    assert "Sign-up here is by invitation" in page.content.decode()
    assert signup(client, "/accounts/signup/", "mallory").status_code == 403
    assert not User.objects.exists()


def test_an_invite_works_once(client: Client, settings: Any, db: None) -> None:
    settings.DARKROOM_SIGNUP = "invite"
    url = invites.invite_create(created_by=None).path
    assert client.get(url).status_code == 200
    response = signup(client, url, "carol", "carol@example.com")
    assert response.status_code == 302 and response["Location"] == "/"
    carol = User.objects.get(username="carol")
    assert Invite.objects.get().used_by == carol

    second = Client()
    page = second.get(url)
    assert page.status_code == 410
    assert "already used" in page.content.decode()
    assert signup(second, url, "dave").status_code == 410
    assert not User.objects.filter(username="dave").exists()


def test_an_expired_invite_is_refused(client: Client, settings: Any, db: None) -> None:
    settings.DARKROOM_SIGNUP = "invite"
    created = invites.invite_create(created_by=None, expires_days=7)
    Invite.objects.update(expires=timezone.now() - timedelta(seconds=1))
    page = client.get(created.path)
    assert page.status_code == 410
    assert "has expired" in page.content.decode()
    assert signup(client, created.path, "carol").status_code == 410
    assert not User.objects.exists()


def test_an_invite_used_while_the_form_was_open_is_refused(
    client: Client, settings: Any, db: None
) -> None:
    settings.DARKROOM_SIGNUP = "invite"
    created = invites.invite_create(created_by=None)
    client.get(created.path)
    Invite.objects.update(used=timezone.now())
    assert signup(client, created.path, "carol").status_code == 410
    assert not User.objects.exists()


def test_an_unknown_invite_token_is_not_found(client: Client, settings: Any, db: None) -> None:
    settings.DARKROOM_SIGNUP = "invite"
    invites.invite_create(created_by=None)
    page = client.get("/accounts/signup/invite/not-a-real-token/")
    assert page.status_code == 404
    assert "not valid" in page.content.decode()


def test_only_a_hash_of_the_token_is_stored(db: None) -> None:
    created = invites.invite_create(created_by=None)
    stored = Invite.objects.get()
    assert created.token not in stored.token_hash
    assert stored.token_hash == invites.token_hash(created.token)


def test_the_cli_prints_a_link_that_works(client: Client, settings: Any, db: None) -> None:
    settings.DARKROOM_SIGNUP = "invite"
    settings.DARKROOM_SITE_URL = "https://darkroom.example.com"
    out = StringIO()
    call_command("invite", "create", "--expires-days", "2", stdout=out, stderr=StringIO())
    link = out.getvalue().strip()
    assert re.fullmatch(r"https://darkroom\.example\.com/accounts/signup/invite/[\w-]+/", link)
    invite = Invite.objects.get()
    assert abs(invite.expires - (timezone.now() + timedelta(days=2))) < timedelta(minutes=1)
    path = urlsplit(link).path
    assert signup(client, path, "carol").status_code == 302
    assert User.objects.filter(username="carol").exists()


def test_the_cli_refuses_a_nonsense_expiry(db: None) -> None:
    with pytest.raises(CommandError, match="--expires-days"):
        call_command("invite", "create", "--expires-days", "0", stdout=StringIO())
    assert not Invite.objects.exists()


def test_staff_create_an_invite_in_the_admin_and_see_its_link_once(settings: Any, db: None) -> None:
    settings.DARKROOM_SIGNUP = "invite"
    staff = User.objects.create_superuser("root", "root@example.com", "correct horse battery")
    client = Client()
    client.force_login(staff)
    response = client.post(
        "/admin/editor/invite/add/", {"note": "for Dana", "expires_days": "3"}, follow=True
    )
    assert response.status_code == 200
    body = response.content.decode()
    match = re.search(r"http://testserver(/accounts/signup/invite/[\w-]+/)", body)
    assert match, body
    invite = Invite.objects.get()
    assert invite.note == "for Dana" and invite.created_by == staff
    assert signup(Client(), match.group(1), "dana").status_code == 302
    # The change page never shows the link again.
    page = client.get(f"/admin/editor/invite/{invite.pk}/change/").content.decode()
    assert match.group(1) not in page


def test_with_verification_the_account_waits_for_the_mailed_link(
    client: Client, settings: Any, db: None
) -> None:
    settings.DARKROOM_SIGNUP_VERIFY_EMAIL = True
    response = signup(client, "/accounts/signup/", "carol", "carol@example.com")
    assert response.status_code == 200
    assert "Check your e-mail" in response.content.decode()
    carol = User.objects.get(username="carol")
    assert not carol.is_active
    assert (
        client.post("/accounts/login/", {"username": "carol", "password": PASSWORD}).status_code
        == 200
    )  # refused: inactive
    [message] = mail.outbox
    assert message.to == ["carol@example.com"]
    link = re.search(r"http://testserver(/accounts/confirm-email/\S+/)", message.body)
    assert link
    assert client.get(link.group(1)).status_code == 200
    carol.refresh_from_db()
    assert carol.is_active
    assert (
        client.post("/accounts/login/", {"username": "carol", "password": PASSWORD}).status_code
        == 302
    )


def test_with_verification_an_address_is_required(client: Client, settings: Any, db: None) -> None:
    settings.DARKROOM_SIGNUP_VERIFY_EMAIL = True
    assert signup(client, "/accounts/signup/", "carol", "").status_code == 200
    assert not User.objects.exists()


def test_a_tampered_confirmation_link_is_refused(client: Client, alice: Any) -> None:
    from editor import accounts

    token = accounts.email_link_token(user=alice, email="new@example.com")
    page = client.get(f"/accounts/confirm-email/{token}x/")
    assert page.status_code == 400
    assert "does not work" in page.content.decode()
    alice.refresh_from_db()
    assert alice.email == "alice@example.com"
