"""Thin Celery wrappers: take a primary key, call the pipeline."""

from __future__ import annotations

from celery import shared_task

from editor import pipeline


@shared_task(name="editor.run_job", ignore_result=True)
def run_job(job_id: str) -> None:
    pipeline.run_job(job_id=job_id)


def enqueue_job(job_id: str) -> None:
    run_job.delay(job_id)


@shared_task(name="editor.recover_jobs", ignore_result=True)
def recover_jobs() -> dict[str, int]:
    """The periodic sweep (Celery beat): settle jobs of dead workers and lost messages."""
    return dict(pipeline.jobs_recover(enqueue=enqueue_job))
