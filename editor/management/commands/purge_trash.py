"""Delete for good, now, the jobs trashed longer ago than DARKROOM_TRASH_DAYS
(beat does it every hour)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from editor import services


class Command(BaseCommand):
    help = (
        "Delete for good, with their files, the jobs in the trash for longer than "
        "DARKROOM_TRASH_DAYS (or --days)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--days",
            type=float,
            default=None,
            help="Purge jobs trashed more than this many days ago (0: the whole trash).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        days = options["days"] if options["days"] is not None else settings.DARKROOM_TRASH_DAYS
        if days < 0:
            raise CommandError("--days cannot be negative.")
        purged = services.trash_purge(older_than=timedelta(days=days))
        self.stdout.write(f"Deleted {purged} job{'' if purged == 1 else 's'} from the trash.")
