"""Drop the results' base64 from the answers of jobs that finished before
Darkroom slimmed saved answers (see editor.saved_answers)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from editor.saved_answers import finished_answers_slim


class Command(BaseCommand):
    help = (
        "Slim the saved provider answers of finished jobs: drop the base64 of images their "
        "stored results hold byte for byte. Safe to run on a live site, and to run again."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--batch-size", type=int, default=100, help="Jobs examined per batch (default 100)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        examined = slimmed = 0
        after = None
        while True:
            batch = finished_answers_slim(after=after, batch_size=options["batch_size"])
            examined += batch.examined
            slimmed += batch.slimmed
            if batch.next_after is None:
                break
            after = batch.next_after
            if options["verbosity"] > 1:
                self.stderr.write(f"{examined} jobs examined, {slimmed} answers slimmed")
        self.stdout.write(f"{slimmed} saved answers slimmed, of {examined} finished jobs.")
