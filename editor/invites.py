"""Invite links: who may sign up when sign-up is by invitation.

A link carries a random token; the database keeps only its SHA-256, so a
copy of the database (a backup, a leaked dump) gives nobody a way in. A
link works once and until it expires; redeeming it is a conditional UPDATE,
so two people racing with one link make one account.
"""

from __future__ import annotations

import enum
import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth.models import User
from django.urls import reverse
from django.utils import timezone

from editor.models import Invite

DEFAULT_EXPIRES_DAYS = 7


class InviteState(enum.Enum):
    VALID = "valid"
    UNKNOWN = "unknown"
    USED = "used"
    EXPIRED = "expired"


@dataclass(frozen=True)
class NewInvite:
    invite: Invite
    token: str

    @property
    def path(self) -> str:
        return invite_path(self.token)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def invite_path(token: str) -> str:
    return reverse("signup-invite", kwargs={"token": token})


def invite_create(
    *, created_by: User | None, expires_days: float = DEFAULT_EXPIRES_DAYS, note: str = ""
) -> NewInvite:
    """A new invite; its token is returned this once and never stored."""
    token = secrets.token_urlsafe(24)
    invite = Invite.objects.create(
        token_hash=token_hash(token),
        note=note,
        created_by=created_by,
        expires=timezone.now() + timedelta(days=expires_days),
    )
    return NewInvite(invite=invite, token=token)


def invite_state(*, token: str) -> InviteState:
    invite = Invite.objects.filter(token_hash=token_hash(token)).first()
    if invite is None:
        return InviteState.UNKNOWN
    if invite.used is not None:
        return InviteState.USED
    if invite.expires <= timezone.now():
        return InviteState.EXPIRED
    return InviteState.VALID


def invite_redeem(*, token: str, user: User) -> bool:
    """Mark the invite used by ``user``; False if it was used or expired meanwhile.

    Call it in the transaction that creates the user, and roll back on False.
    """
    now = timezone.now()
    redeemed = Invite.objects.filter(
        token_hash=token_hash(token), used__isnull=True, expires__gt=now
    ).update(used=now, used_by=user)
    return redeemed == 1


STATE_MESSAGES = {
    InviteState.UNKNOWN: "This invite link is not valid. Check that it was copied whole, or ask "
    "for a new one.",
    InviteState.USED: "This invite link was already used: each link makes one account. Ask the "
    "person who sent it for a new one, or log in if the account is yours.",
    InviteState.EXPIRED: "This invite link has expired. Ask the person who sent it for a new one.",
}
