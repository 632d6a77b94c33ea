"""API tokens: made on the account page or the command line, shown once,
stored as a hash, listed, revoked; the admin revokes any."""

from __future__ import annotations

import hashlib
import io
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from editor.api import tokens
from editor.models import ApiToken


def test_a_token_made_on_the_page_is_shown_once_and_stored_as_a_hash(
    alice_client: Client, alice: User
) -> None:
    made = alice_client.post("/accounts/tokens/", {"name": "Open WebUI"})
    assert made.status_code == 302
    page = alice_client.get("/accounts/tokens/").content.decode()
    token = ApiToken.objects.get(owner=alice)
    secret = page.split('id="new-token-secret">', 1)[1].split("<", 1)[0]

    assert secret.startswith("drk_") and len(secret) > 40
    assert token.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert token.prefix == secret[:12] and "Open WebUI" in page
    assert tokens.token_verify(secret=secret) == token
    again = alice_client.get("/accounts/tokens/").content.decode()
    assert secret not in again  # shown once
    assert f"{token.prefix}…" in again


def test_a_token_without_a_name_is_refused_with_a_message(alice_client: Client) -> None:
    refused = alice_client.post("/accounts/tokens/", {"name": ""})

    assert refused.status_code == 400
    assert "This field is required." in refused.content.decode()
    assert not ApiToken.objects.exists()


def test_revoking_stops_the_token(alice_client: Client, alice: User) -> None:
    made = tokens.token_create(user=alice, name="laptop")

    revoked = alice_client.post(f"/accounts/tokens/{made.token.pk}/revoke/")

    assert revoked.status_code == 302
    assert tokens.token_verify(secret=made.secret) is None
    assert "revoked" in alice_client.get("/accounts/tokens/").content.decode()


def test_another_user_can_neither_see_nor_revoke_a_token(alice: User, bob_client: Client) -> None:
    made = tokens.token_create(user=alice, name="alice's laptop")

    assert bob_client.post(f"/accounts/tokens/{made.token.pk}/revoke/").status_code == 404
    assert "alice's laptop" not in bob_client.get("/accounts/tokens/").content.decode()
    assert tokens.token_verify(secret=made.secret) == made.token


def test_the_page_needs_a_login(db: None) -> None:
    assert Client().get("/accounts/tokens/").status_code == 302


def test_an_inactive_user_s_token_is_refused(alice: User) -> None:
    made = tokens.token_create(user=alice, name="x")
    alice.is_active = False
    alice.save()

    assert tokens.token_verify(secret=made.secret) is None


def test_last_used_is_written_at_most_once_a_minute(
    alice: User, django_assert_num_queries: Any
) -> None:
    made = tokens.token_create(user=alice, name="x")
    tokens.token_verify(secret=made.secret)
    first = ApiToken.objects.get().last_used
    assert first is not None

    with django_assert_num_queries(1):  # the lookup, no write
        tokens.token_verify(secret=made.secret)
    assert ApiToken.objects.get().last_used == first


def test_the_command_creates_lists_and_revokes(alice: User) -> None:
    out = io.StringIO()
    call_command(
        "apitoken", "create", "--user", "alice", "--name", "cron", stdout=out, stderr=io.StringIO()
    )
    secret = out.getvalue().strip()
    token = tokens.token_verify(secret=secret)
    assert token is not None and token.name == "cron"

    listing = io.StringIO()
    call_command("apitoken", "list", "--user", "alice", stdout=listing)
    assert "cron" in listing.getvalue() and secret not in listing.getvalue()

    call_command("apitoken", "revoke", token.prefix, stdout=io.StringIO())
    assert tokens.token_verify(secret=secret) is None
    with pytest.raises(CommandError, match="no user named"):
        call_command("apitoken", "create", "--user", "nobody", "--name", "x")


def test_the_admin_lists_tokens_and_revokes_them(alice: User, admin_client: Client) -> None:
    made = tokens.token_create(user=alice, name="alice's script")

    listing = admin_client.get("/admin/editor/apitoken/").content.decode()
    assert "alice&#x27;s script" in listing and made.secret not in listing
    admin_client.post(
        "/admin/editor/apitoken/",
        {"action": "revoke_tokens", "_selected_action": [made.token.pk]},
    )
    assert tokens.token_verify(secret=made.secret) is None
