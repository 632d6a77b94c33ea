"""Thin Celery wrappers: take a primary key, call the pipeline."""

from __future__ import annotations

from celery import shared_task

from editor import pipeline


@shared_task(name="editor.run_job", ignore_result=True)
def run_job(job_id: str) -> None:
    pipeline.run_job(job_id=job_id)
