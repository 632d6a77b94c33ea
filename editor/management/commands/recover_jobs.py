"""Run the recovery sweep once (the worker's embedded beat runs it every minute)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from editor import tasks


class Command(BaseCommand):
    help = (
        "Settle jobs whose worker died (requeue, finish from the saved answer, or fail "
        "when the provider may have charged), re-enqueue jobs whose message was lost, "
        "and turn upright the photos of jobs that ended without running."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        counts = {outcome: count for outcome, count in tasks.recover_jobs().items() if count}
        if not counts:
            self.stdout.write("No job needed recovery.")
            return
        for outcome, count in sorted(counts.items()):
            self.stdout.write(f"{outcome}: {count}")
