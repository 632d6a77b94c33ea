from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django import template
from django.utils.html import format_html

from editor import compositing, job_facts, pricing, selectors
from editor.models import Job, JobImage
from webapp import timezones

register = template.Library()


@register.filter
def cover(job: Job) -> JobImage | None:
    return selectors.job_cover(job)


@register.simple_tag
def job_lineage(job: Job) -> dict[str, Any]:
    """The owner's parent and child jobs of ``job``, for the lineage links."""
    parent, children = selectors.job_lineage(job=job)
    return {"parent": parent, "children": children}


@register.simple_tag
def elapsed_counter(seconds: int) -> str:
    """Seconds so far, which static/editor/elapsed.js counts on in the browser."""
    return format_html('<span data-elapsed="{0}">{0}</span>', seconds)


@dataclass(frozen=True)
class Phase:
    label: str
    start: datetime | None
    end: datetime | None

    @property
    def seconds(self) -> float | None:
        if self.start is None or self.end is None:
            return None
        return round((self.end - self.start).total_seconds(), 3)


@register.simple_tag
def job_phases(job: Job) -> list[Phase]:
    """Time spent between each step: queued -> started -> sent -> answered -> finished."""
    return [
        Phase("Waiting in the queue", job.created, job.started),
        Phase("Preparing the request", job.started, job.sent),
        Phase("Provider at work", job.sent, job.answered),
        Phase("Downloading and storing", job.answered, job.finished),
        Phase("Total", job.created, job.finished),
    ]


@register.filter
def cost(amount: Any) -> str:
    """What one run cost: ``$0.042``, or "Free"."""
    return pricing.format_cost(amount)


@register.filter
def estimated_cost(amount: Any) -> str:
    """``≈ $0.04``: what one run was expected to cost, or "Free"."""
    return pricing.format_cost(amount, approximate=True)


@register.simple_tag
def parameter_facts(job: Job) -> list[job_facts.Fact]:
    return job_facts.parameter_facts(job.params if isinstance(job.params, dict) else {})


@register.simple_tag
def usage_facts(job: Job) -> list[job_facts.Fact]:
    return job_facts.usage_facts(job.usage if isinstance(job.usage, dict) else {})


@register.filter
def undo_job_ids(message: Any) -> list[str]:
    """The ids of the jobs a "moved to the trash" message can bring back
    (carried in its tags, see ``views._trashed_message``); [] for others."""
    tag, *ids = str(getattr(message, "extra_tags", "") or "-").split() or ["-"]
    return ids if tag == "undo-trash" else []


@register.filter
def leak_percent(share: Any) -> str:
    """A job's mask leak (0..1) as a percentage, e.g. "52.3 %"."""
    return compositing.format_leak(float(share)) if share is not None else ""


@register.filter
def when(moment: datetime | None) -> str:
    """A moment in the person's zone, with the zone: "4 Dec 2026, 09:12 CET"."""
    return timezones.when_text(moment) if moment else ""
