"""Jobs with known costs and times, placed on chosen days, for usage tests."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from editor.models import Job, JobKind, JobStatus


def spent(
    *,
    user: Any,
    cost: str | None,
    at: datetime,
    model: str = "gpt-image-1",
    provider: str = "openai",
    status: str = JobStatus.SUCCEEDED,
    provider_seconds: float | None = None,
) -> Job:
    """A finished job of ``user`` created at ``at`` that cost ``cost`` dollars."""
    job = Job.objects.create(
        owner=user,
        kind=JobKind.GENERATE,
        model_label=model,
        provider_name=provider,
        prompt="a known job",
        status=status,
        cost=Decimal(cost) if cost is not None else None,
    )
    sent = at + timedelta(seconds=1)
    Job.objects.filter(pk=job.pk).update(
        created=at,
        sent=sent if provider_seconds is not None else None,
        answered=sent + timedelta(seconds=provider_seconds)
        if provider_seconds is not None
        else None,
    )
    job.refresh_from_db()
    return job
