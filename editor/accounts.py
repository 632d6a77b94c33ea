"""Accounts: sign-up with or without e-mail verification, e-mail changes,
and deleting an account with everything it stored."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import User
from django.core import signing
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.urls import reverse

from editor import services
from editor.models import Job, JobStatus

EMAIL_LINK_SALT = "darkroom.accounts.email"
EMAIL_LINK_DAYS = 3


@dataclass(frozen=True)
class EmailLink:
    user_pk: int
    email: str


def email_link_token(*, user: User, email: str) -> str:
    """A signed, expiring token saying "``user`` reads mail at ``email``"."""
    return signing.dumps({"user": user.pk, "email": email}, salt=EMAIL_LINK_SALT, compress=True)


def email_link_read(*, token: str) -> EmailLink | None:
    try:
        data = signing.loads(token, salt=EMAIL_LINK_SALT, max_age=EMAIL_LINK_DAYS * 24 * 60 * 60)
    except signing.BadSignature:  # tampered, or older than EMAIL_LINK_DAYS
        return None
    if not isinstance(data, dict) or not isinstance(data.get("user"), int):
        return None
    return EmailLink(user_pk=data["user"], email=str(data.get("email", "")))


def email_link_send(
    *, user: User, email: str, absolute_url: Callable[[str], str], purpose: str
) -> None:
    """Mail ``email`` the link that proves it reads there.

    ``absolute_url`` turns a path into a link (request.build_absolute_uri).
    """
    path = reverse("confirm-email", kwargs={"token": email_link_token(user=user, email=email)})
    link = absolute_url(path)
    send_mail(
        subject="Darkroom: confirm your e-mail address",
        message=(
            f"Hello {user.get_username()},\n\n"
            f"open this link to {purpose}:\n\n{link}\n\n"
            f"It works for {EMAIL_LINK_DAYS} days. If you did not ask for this, ignore this mail."
        ),
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=[email],
    )


def email_link_apply(*, link: EmailLink) -> User | None:
    """Activate the new account the link was sent for, or move an account to
    the address it confirms. None when the link no longer fits (the account
    is gone, or another account took the address meanwhile)."""
    user = User.objects.filter(pk=link.user_pk).first()
    if user is None:
        return None
    if not user.is_active:
        # A sign-up: the link was sent to the address the account has.
        if user.email.lower() != link.email.lower():
            return None
        user.is_active = True
        user.save(update_fields=["is_active"])
        return user
    if user.email.lower() == link.email.lower():
        return user
    try:
        with transaction.atomic():
            user.email = link.email
            user.save(update_fields=["email"])
    except IntegrityError:  # the unique index on lower(email)
        return None
    return user


def email_change(*, user: User, email: str) -> None:
    user.email = email
    user.save(update_fields=["email"])


def jobs_in_progress(*, user: User) -> int:
    """Jobs a worker may still be storing files for.

    A running job's results arrive after any cancel (services.job_cancel), so
    deleting the account under it could leave files nobody owns: the account
    waits for them (or for the recovery sweep to settle them).
    """
    return Job.objects.filter(owner=user, status__in=[JobStatus.QUEUED, JobStatus.RUNNING]).count()


def account_delete(*, user: User) -> int:
    """Delete ``user`` with every job and file; returns how many jobs went.

    The files go once the rows are surely gone (services.jobs_delete); the
    account's other rows (usage totals, sessions' owner) cascade with it.
    """
    with transaction.atomic():
        deleted = services.jobs_delete(jobs=Job.objects.filter(owner=user))
        user.delete()
    return deleted
