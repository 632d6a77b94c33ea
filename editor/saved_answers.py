"""A provider's saved answer once its results are stored: without the
base64 of the images that storage now holds byte for byte.

The answer is saved on the job, whole, the moment it arrives: until the
results are stored it is the only copy of what was paid for. After that its
base64 is a second copy of stored files, ~4 MB of a 1024² result in the
jobs table for good (400 GB for 100 000 such jobs, in every backup). Each
image is replaced by a note naming the stored image and its SHA-256, and
only when a stored image of the job has exactly those bytes: a result
Darkroom had to convert, or could not read, keeps its base64. Every other
field of the answer (usage, revised prompts, URLs) stays as it came.
"""

from __future__ import annotations

import binascii
import hashlib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import Func, IntegerField

from editor.models import ImageRole, Job, JobStatus
from editor.providers.results import b64_bytes

# Finished jobs whose saved answer is shorter than this hold no image worth
# dropping: a 1-pixel PNG is ~90 bytes of base64, a real result megabytes.
_SMALLEST_SLIMMED_ANSWER = 2048
# The keys of an images answer's ``data`` items that hold an image as base64.
_BASE64_KEYS = ("b64_json", "b64_ephemeral")


def answer_slimmed(
    answer: Mapping[str, Any], *, stored_by_sha256: Mapping[str, str]
) -> dict[str, Any] | None:
    """``answer`` without the base64 of images stored byte for byte (their
    SHA-256 -> the stored image's id), or None when none of it can go."""
    items = answer.get("data")
    if not isinstance(items, list):
        return None
    slimmed: list[Any] = []
    changed = False
    for item in items:
        if isinstance(item, dict):
            item = _item_slimmed(item, stored_by_sha256)
            changed = changed or item.get("darkroom_stored") is not None
        slimmed.append(item)
    return {**answer, "data": slimmed} if changed else None


def _item_slimmed(item: dict[str, Any], stored_by_sha256: Mapping[str, str]) -> dict[str, Any]:
    for key in (*_BASE64_KEYS, "url"):
        value = item.get(key)
        if not isinstance(value, str) or not value:
            continue
        if key == "url" and not value.startswith("data:"):
            continue
        digest = _sha256_of(value)
        if digest is None or digest not in stored_by_sha256:
            continue
        return {
            **item,
            key: f"[stored as image {stored_by_sha256[digest]}]",
            "darkroom_stored": {"image": stored_by_sha256[digest], "sha256": digest},
        }
    return item


def _sha256_of(value: str) -> str | None:
    """The SHA-256 of the bytes ``value`` holds as base64 (or a data URL)."""
    try:
        data = b64_bytes(value)
    except (binascii.Error, ValueError):
        return None
    return hashlib.sha256(data).hexdigest()


def job_answer_slim(*, job: Job, answer: Mapping[str, Any]) -> bool:
    """Save ``answer`` slimmed on ``job`` (this delivery's, once its results
    are stored); False when nothing could go."""
    stored = job.images.filter(role__in=[ImageRole.RESULT, ImageRole.RAW])
    slimmed = answer_slimmed(
        answer,
        stored_by_sha256={digest: str(pk) for digest, pk in stored.values_list("sha256", "pk")},
    )
    if slimmed is None:
        return False
    return bool(
        Job.objects.filter(pk=job.pk, deliveries=job.deliveries).update(provider_response=slimmed)
    )


@dataclass(frozen=True)
class SlimmedBatch:
    examined: int
    slimmed: int
    # Where the next batch starts; None after the last job.
    next_after: uuid.UUID | None


def finished_answers_slim(*, after: uuid.UUID | None = None, batch_size: int = 100) -> SlimmedBatch:
    """Slim the saved answers of up to ``batch_size`` finished jobs, in id
    order after ``after``: for answers saved before Darkroom slimmed them.

    Only succeeded and canceled jobs (whose results are stored); only
    answers long enough to hold an image, measured without reading them.
    """
    jobs = Job.objects.filter(status__in=[JobStatus.SUCCEEDED, JobStatus.CANCELED]).order_by("pk")
    if after is not None:
        jobs = jobs.filter(pk__gt=after)
    page = list(jobs.values_list("pk", flat=True)[:batch_size])
    if not page:
        return SlimmedBatch(examined=0, slimmed=0, next_after=None)
    # PostgreSQL tells a stored value's size from its header; length()
    # would read every megabyte of it.
    size = "OCTET_LENGTH" if connection.vendor == "postgresql" else "LENGTH"
    big = (
        Job.objects.filter(pk__in=page)
        .annotate(answer_size=Func("provider_response", function=size, output_field=IntegerField()))
        .filter(answer_size__gte=_SMALLEST_SLIMMED_ANSWER)
        .only("pk", "deliveries", "provider_response")
    )
    slimmed = sum(job_answer_slim(job=job, answer=job.provider_response) for job in big.iterator())
    return SlimmedBatch(examined=len(page), slimmed=slimmed, next_after=page[-1])
