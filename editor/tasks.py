"""Thin Celery wrappers: take a primary key, call the pipeline."""

from __future__ import annotations

from celery import shared_task

from editor import catalog, pipeline


@shared_task(name="editor.run_job", ignore_result=True)
def run_job(job_id: str) -> None:
    pipeline.run_job(job_id=job_id)


def enqueue_job(job_id: str) -> None:
    run_job.delay(job_id)


@shared_task(name="editor.recover_jobs", ignore_result=True)
def recover_jobs() -> dict[str, int]:
    """The periodic sweep (Celery beat): settle jobs of dead workers and lost messages."""
    return dict(pipeline.jobs_recover(enqueue=enqueue_job))


@shared_task(name="editor.sync_providers", ignore_result=True)
def sync_providers() -> list[str]:
    """Refresh every provider's models from its listing (at worker start and periodically)."""
    return [report.summary() for report in catalog.providers_sync_all()]
