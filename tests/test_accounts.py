from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.core import mail
from django.test import Client


def test_a_visitor_can_sign_up_and_lands_in_the_editor(client: Client, db: None) -> None:
    response = client.post(
        "/accounts/signup/",
        {
            "username": "carol",
            "email": "carol@example.com",
            "password1": "a long passphrase 42",
            "password2": "a long passphrase 42",
        },
    )
    assert response.status_code == 302 and response["Location"] == "/"
    assert User.objects.filter(username="carol").exists()
    assert client.get("/").status_code == 200


def test_signup_rejects_mismatched_passwords(client: Client, db: None) -> None:
    response = client.post(
        "/accounts/signup/",
        {
            "username": "carol",
            "password1": "a long passphrase 42",
            "password2": "something else 42",
        },
    )
    assert response.status_code == 200
    assert "didn’t match" in response.content.decode()
    assert not User.objects.filter(username="carol").exists()


def test_login_and_logout(client: Client, alice: Any) -> None:
    response = client.post(
        "/accounts/login/", {"username": "alice", "password": "correct horse battery"}
    )
    assert response.status_code == 302
    assert client.get("/history/").status_code == 200
    assert client.get("/accounts/logout/").status_code == 405
    assert client.post("/accounts/logout/").status_code == 302
    assert client.get("/history/").status_code == 302


def test_password_reset_sends_an_email(client: Client, alice: Any) -> None:
    response = client.post("/accounts/password_reset/", {"email": "alice@example.com"})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    assert "/accounts/reset/" in mail.outbox[0].body


def test_password_change(alice_client: Client, alice: Any) -> None:
    response = alice_client.post(
        "/accounts/password_change/",
        {
            "old_password": "correct horse battery",
            "new_password1": "another long phrase 7",
            "new_password2": "another long phrase 7",
        },
    )
    assert response.status_code == 302
    alice.refresh_from_db()
    assert alice.check_password("another long phrase 7")


def test_the_editor_offers_the_offline_model(alice_client: Client) -> None:
    body = alice_client.get("/").content.decode()
    assert "Offline demo (no AI)" in body
    assert 'name="images"' in body and 'name="mask"' in body and 'name="prompt"' in body
    assert "/static/django_htmx/htmx-2.min.js" in body
