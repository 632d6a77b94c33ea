"""API tokens: made with a random secret shown once, stored as a hash.

A secret is ``drk_`` and 43 URL-safe characters (256 random bits), so a hash
without a salt is enough: nobody guesses such a secret, and a fast hash lets
every API request find its token with one indexed lookup.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth.models import User
from django.db.models import Q
from django.utils import timezone

from editor.models import ApiToken

SECRET_PREFIX = "drk_"  # noqa: S105 (a marker, not a secret)
# Enough of the secret to tell one's tokens apart, far too little to guess it.
SHOWN_PREFIX_LENGTH = len(SECRET_PREFIX) + 8
# A busy client would otherwise write its token's row on every request.
LAST_USED_EVERY = timedelta(minutes=1)


@dataclass(frozen=True)
class NewToken:
    token: ApiToken
    # The only time the secret exists outside the client: show it, then forget it.
    secret: str


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def token_create(*, user: User, name: str) -> NewToken:
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        owner=user,
        name=name.strip() or "API token",
        prefix=secret[:SHOWN_PREFIX_LENGTH],
        secret_hash=secret_hash(secret),
    )
    return NewToken(token=token, secret=secret)


def token_verify(*, secret: str) -> ApiToken | None:
    """The active token of an active user with this secret, or None."""
    if not secret.startswith(SECRET_PREFIX) or len(secret) > 200:
        return None
    token = (
        ApiToken.objects.select_related("owner")
        .filter(secret_hash=secret_hash(secret), revoked__isnull=True, owner__is_active=True)
        .first()
    )
    if token is None:
        return None
    now = timezone.now()
    if token.last_used is None or now - token.last_used >= LAST_USED_EVERY:
        # Conditional, so simultaneous requests write the row once.
        ApiToken.objects.filter(pk=token.pk).filter(
            Q(last_used__isnull=True) | Q(last_used__lte=now - LAST_USED_EVERY)
        ).update(last_used=now)
        token.last_used = now
    return token


def token_revoke(*, token: ApiToken) -> bool:
    """Revoke ``token``; False if it already was."""
    updated = ApiToken.objects.filter(pk=token.pk, revoked__isnull=True).update(
        revoked=timezone.now()
    )
    token.refresh_from_db(fields=["revoked"])
    return bool(updated)
