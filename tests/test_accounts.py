from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.db import IntegrityError, connection, transaction
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


# --- One account per e-mail address -----------------------------------------------------


def signup(client: Client, username: str, email: str) -> Any:
    return client.post(
        "/accounts/signup/",
        {
            "username": username,
            "email": email,
            "password1": "a long passphrase 42",
            "password2": "a long passphrase 42",
        },
    )


def test_signup_refuses_an_address_another_account_uses(client: Client, alice: Any) -> None:
    response = signup(client, "mallory", "ALICE@Example.com")
    assert response.status_code == 200
    assert "Another account already uses this e-mail address." in response.content.decode()
    assert not User.objects.filter(username="mallory").exists()


def test_accounts_without_an_address_are_still_allowed(client: Client, db: None) -> None:
    assert signup(client, "carol", "").status_code == 302
    assert signup(Client(), "dave", "").status_code == 302
    assert User.objects.filter(email="").count() == 2


def test_the_database_refuses_a_second_account_with_an_address(alice: Any) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create_user("mallory", "Alice@EXAMPLE.com", "x")
    bob = User.objects.create_user("bob", "bob@example.com", "x")
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.filter(pk=bob.pk).update(email="alice@example.com")
    # Accounts without an address do not collide.
    User.objects.create_user("carol", "", "x")
    User.objects.create_user("dave", "", "x")


def test_password_reset_mails_the_one_account(client: Client, alice: Any, bob: Any) -> None:
    client.post("/accounts/password_reset/", {"email": "Alice@Example.com"})
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["alice@example.com"]
    assert "alice" in mail.outbox[0].body


def test_the_admin_refuses_an_address_another_account_uses(alice: Any, bob: Any) -> None:
    staff = User.objects.create_superuser("root", "root@example.com", "correct horse battery")
    client = Client()
    client.force_login(staff)
    page = client.get(f"/admin/auth/user/{bob.pk}/change/")
    data = {
        field: value
        for field, value in page.context["adminform"].form.initial.items()
        if value is not None and not isinstance(value, list | tuple)
    }
    data.update(
        {"email": "ALICE@example.com", "date_joined_0": "2026-01-01", "date_joined_1": "00:00:00"}
    )
    response = client.post(f"/admin/auth/user/{bob.pk}/change/", data)
    assert response.status_code == 200
    assert "Another account already uses this e-mail address." in response.content.decode()
    bob.refresh_from_db()
    assert bob.email == "bob@example.com"


@pytest.mark.django_db(transaction=True)
def test_the_migration_keeps_an_address_on_the_account_used_last() -> None:
    from django.db.migrations.executor import MigrationExecutor
    from django.utils import timezone

    executor = MigrationExecutor(connection)
    executor.migrate([("editor", "0003_shared_cache_table")])
    try:
        now = timezone.now()
        old = User.objects.create_user("old", "same@example.com", "x", last_login=now)
        recent = User.objects.create_user(
            "recent", "SAME@example.com", "x", last_login=now + timedelta(days=1)
        )
        never = User.objects.create_user("never", "Same@Example.com", "x")
        other = User.objects.create_user("other", "other@example.com", "x")
    finally:
        executor.loader.build_graph()
        executor.migrate([("editor", "0004_unique_user_email")])
    try:
        emails = dict(User.objects.values_list("username", "email"))
        assert emails == {
            "old": "",
            "recent": "SAME@example.com",
            "never": "",
            "other": "other@example.com",
        }
        assert {old.pk, recent.pk, never.pk, other.pk} == set(
            User.objects.values_list("pk", flat=True)
        )
        with pytest.raises(IntegrityError), transaction.atomic():
            User.objects.create_user("late", "same@example.com", "x")
    finally:
        # Leave the database at the newest schema for the tests that follow.
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())
