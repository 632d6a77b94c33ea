"""Thin Celery wrappers: take a primary key, call the pipeline."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from celery import shared_task
from django.conf import settings

from editor import catalog, media, pipeline, usage

BROKER_TIMEOUT_SECONDS = 5


@shared_task(name="editor.run_job", ignore_result=True)
def run_job(job_id: str) -> None:
    pipeline.run_job(job_id=job_id)


def bulk_queue() -> str:
    """The queue of jobs whose owner has others in flight: the job queue's
    name with "-bulk" (workers consume both, see CELERY_TASK_QUEUES)."""
    return f"{run_job.app.conf.task_default_queue}-bulk"


def enqueue_job(job_id: str, *, bulk: bool = False) -> None:
    """Send a job's message: to the bulk queue when its owner has jobs in flight."""
    if bulk:
        run_job.apply_async((job_id,), queue=bulk_queue())
    else:
        run_job.delay(job_id)


def waiting_messages() -> int:
    """How many messages wait in the job queues (not those workers hold).

    The queue is declared as the workers declare it rather than passively:
    Redis keeps no empty lists, so a passive declare reports an empty queue
    as missing. Every broker answers with the number of ready messages.
    """
    app = run_job.app
    waiting = 0
    with app.connection_for_read() as connection:
        connection.ensure_connection(
            max_retries=1, interval_start=0, timeout=BROKER_TIMEOUT_SECONDS
        )
        with connection.channel() as channel:
            for name in (app.conf.task_default_queue, bulk_queue()):
                # kombu's stubs type the reply as the queue's name.
                declared: Any = app.amqp.queues[name].bind(channel).queue_declare()
                waiting += int(declared.message_count)
    return waiting


@shared_task(name="editor.recover_jobs", ignore_result=True)
def recover_jobs() -> dict[str, int]:
    """The periodic sweep (Celery beat): settle jobs of dead workers and lost
    messages, and turn upright the photos of jobs that ended without running."""
    counts = dict(pipeline.jobs_recover(enqueue=enqueue_job, waiting_messages=waiting_messages))
    counts["inputs_turned"] = media.final_inputs_upright()
    return counts


@shared_task(name="editor.sync_providers", ignore_result=True)
def sync_providers() -> list[str]:
    """Refresh every provider's models from its listing (periodically, from beat)."""
    return [report.summary() for report in catalog.providers_sync_all()]


@shared_task(name="editor.purge_trash", ignore_result=True)
def purge_trash() -> int:
    """Delete for good the jobs trashed more than DARKROOM_TRASH_DAYS ago (from beat)."""
    # Imported here: services imports this module to enqueue jobs.
    from editor import services

    return services.trash_purge(older_than=timedelta(days=settings.DARKROOM_TRASH_DAYS))


@shared_task(name="editor.roll_up_usage", ignore_result=True)
def roll_up_usage() -> int:
    """Bring the daily usage totals up to date (periodically, from beat)."""
    return len(usage.roll_up())
