"""Run the recovery sweep once (the worker's embedded beat runs it every minute)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from editor import pipeline, tasks


class Command(BaseCommand):
    help = (
        "Settle jobs whose worker died (requeue, finish from the saved answer, or fail "
        "when the provider may have charged) and re-enqueue jobs whose message was lost."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        counts = pipeline.jobs_recover(
            enqueue=tasks.enqueue_job, waiting_messages=tasks.waiting_messages
        )
        if not counts:
            self.stdout.write("No job needed recovery.")
            return
        for outcome, count in sorted(counts.items()):
            self.stdout.write(f"{outcome}: {count}")
