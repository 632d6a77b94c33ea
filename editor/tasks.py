"""Thin Celery wrappers: take a primary key, call the pipeline."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from editor import catalog, pipeline, usage

BROKER_TIMEOUT_SECONDS = 5


@shared_task(name="editor.run_job", ignore_result=True)
def run_job(job_id: str) -> None:
    pipeline.run_job(job_id=job_id)


def enqueue_job(job_id: str) -> None:
    run_job.delay(job_id)


def waiting_messages() -> int:
    """How many messages wait in the job queue (not those workers hold).

    The queue is declared as the workers declare it rather than passively:
    Redis keeps no empty lists, so a passive declare reports an empty queue
    as missing. Every broker answers with the number of ready messages.
    """
    app = run_job.app
    queue = app.amqp.queues[app.conf.task_default_queue]
    with app.connection_for_read() as connection:
        connection.ensure_connection(
            max_retries=1, interval_start=0, timeout=BROKER_TIMEOUT_SECONDS
        )
        with connection.channel() as channel:
            # kombu's stubs type the reply as the queue's name.
            declared: Any = queue.bind(channel).queue_declare()
    return int(declared.message_count)


@shared_task(name="editor.recover_jobs", ignore_result=True)
def recover_jobs() -> dict[str, int]:
    """The periodic sweep (Celery beat): settle jobs of dead workers and lost messages."""
    return dict(pipeline.jobs_recover(enqueue=enqueue_job, waiting_messages=waiting_messages))


@shared_task(name="editor.sync_providers", ignore_result=True)
def sync_providers() -> list[str]:
    """Refresh every provider's models from its listing (periodically, from beat)."""
    return [report.summary() for report in catalog.providers_sync_all()]


@shared_task(name="editor.roll_up_usage", ignore_result=True)
def roll_up_usage() -> int:
    """Bring the daily usage totals up to date (periodically, from beat)."""
    return len(usage.roll_up())
