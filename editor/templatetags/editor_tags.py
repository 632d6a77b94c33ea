from __future__ import annotations

from django import template

from editor import selectors
from editor.models import Job, JobImage

register = template.Library()


@register.filter
def cover(job: Job) -> JobImage | None:
    return selectors.job_cover(job)
