"""Invite links from the command line: `manage.py invite create [--expires-days N]`."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from editor import invites


class Command(BaseCommand):
    help = "Create a single-use sign-up link and print it."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        create = actions.add_parser("create", help="Create an invite link and print it.")
        create.add_argument(
            "--expires-days",
            type=float,
            default=invites.DEFAULT_EXPIRES_DAYS,
            help=f"Days the link works (default {invites.DEFAULT_EXPIRES_DAYS}).",
        )
        create.add_argument("--note", default="", help="Who it is for, shown in the admin.")

    def handle(self, *args: Any, **options: Any) -> None:
        days: float = options["expires_days"]
        if not 0 < days <= 365:
            raise CommandError("--expires-days must be more than 0 and at most 365.")
        created = invites.invite_create(created_by=None, expires_days=days, note=options["note"])
        self.stdout.write(settings.DARKROOM_SITE_URL + created.path)
        if settings.DARKROOM_SIGNUP != "invite":
            self.stderr.write(
                f"Note: sign-up is {settings.DARKROOM_SIGNUP!r} (DARKROOM_SIGNUP); invite links "
                "are asked for only when it is 'invite'."
            )
        self.stderr.write(
            f"Works once, until {created.invite.expires:%Y-%m-%d %H:%M %Z}. "
            "Links start with DARKROOM_SITE_URL."
        )
