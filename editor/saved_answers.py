"""A provider's saved answer: its images in file storage, the rest on the job.

The answer is saved the moment it arrives: until the results are stored it
is the only copy of what was paid for. Its images, base64 of megabytes, go
to file storage as the job's ``answer`` images, and the answer saved on the
row names them instead (a note with the image's id and SHA-256): writing
4 MB of base64 into the jobs table took 20-60 ms of PostgreSQL's
write-ahead log on the way to the user, and kept 4 MB per job for good.
Storing the results then turns each answer image into the result (or raw
output) that holds its bytes, so a result is written once.

An image that does not look like one from its header, or that storage
would not take, stays in the answer as base64, as do answers saved before
images were kept apart (``slim_answers`` slims those once their results are
stored). Every other field of the answer (usage, revised prompts, URLs)
stays as it came.
"""

from __future__ import annotations

import binascii
import hashlib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pybase64
from django.db import connection
from django.db.models import Func, IntegerField

from editor.models import ImageRole, Job, JobStatus
from editor.providers.results import b64_bytes

# Finished jobs whose saved answer is shorter than this hold no image worth
# dropping: a 1-pixel PNG is ~90 bytes of base64, a real result megabytes.
_SMALLEST_SLIMMED_ANSWER = 2048
# The keys of an images answer's ``data`` items that hold an image as base64.
_BASE64_KEYS = ("b64_json", "b64_ephemeral")


@dataclass(frozen=True)
class AnswerImage:
    """An image an answer holds as base64."""

    # The index of its item in the answer's ``data``.
    position: int
    data: bytes
    # The base64 it was decoded from.
    encoded: str


def answer_images(answer: Mapping[str, Any]) -> list[AnswerImage]:
    """The images ``answer`` holds as base64 (not those it gives URLs of)."""
    found: list[AnswerImage] = []
    for position, item in enumerate(_items(answer)):
        field = _base64_field(item)
        if field is None:
            continue
        try:
            data = b64_bytes(item[field])
        except (binascii.Error, ValueError):
            continue
        found.append(AnswerImage(position=position, data=data, encoded=item[field]))
    return found


def answer_noted(
    answer: Mapping[str, Any], *, stored: Mapping[int, tuple[str, str]]
) -> dict[str, Any]:
    """``answer`` with the base64 of the item at each position of ``stored``
    replaced by a note naming the stored image: position -> (id, SHA-256)."""
    items = [
        _noted(item, *stored[position]) if position in stored and isinstance(item, dict) else item
        for position, item in enumerate(_items(answer))
    ]
    return {**answer, "data": items}


def answer_whole(*, job: Job, answer: Mapping[str, Any]) -> dict[str, Any]:
    """``answer`` with the base64 of the images its notes name put back, read
    from storage: the answer as it came, for a delivery that builds its
    results from it. Raises ``LookupError`` for an image that is gone."""
    noted = {
        str(item["darkroom_stored"]["image"]): item
        for item in _items(answer)
        if isinstance(item, dict) and isinstance(item.get("darkroom_stored"), dict)
    }
    if not noted:
        return dict(answer)
    images = {str(image.pk): image for image in job.images.filter(pk__in=list(noted))}
    whole: dict[str, dict[str, Any]] = {}
    for image_id, item in noted.items():
        image = images.get(image_id)
        if image is None:
            raise LookupError(f"image {image_id} of the saved answer is gone")
        with image.file.open("rb") as handle:
            encoded = pybase64.b64encode(handle.read()).decode("ascii")
        placeholder = _placeholder(image_id)
        field = next((key for key, value in item.items() if value == placeholder), "b64_json")
        if field == "url":
            encoded = f"data:{image.content_type};base64,{encoded}"
        restored = {**item, field: encoded}
        del restored["darkroom_stored"]
        whole[image_id] = restored
    items = [
        whole[str(item["darkroom_stored"]["image"])]
        if isinstance(item, dict) and isinstance(item.get("darkroom_stored"), dict)
        else item
        for item in _items(answer)
    ]
    return {**answer, "data": items}


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
        if isinstance(item, dict) and item.get("darkroom_stored") is None:
            item = _item_slimmed(item, stored_by_sha256)
            changed = changed or item.get("darkroom_stored") is not None
        slimmed.append(item)
    return {**answer, "data": slimmed} if changed else None


def _item_slimmed(item: dict[str, Any], stored_by_sha256: Mapping[str, str]) -> dict[str, Any]:
    field = _base64_field(item)
    if field is None:
        return item
    digest = _sha256_of(item[field])
    if digest is None or digest not in stored_by_sha256:
        return item
    return _noted(item, stored_by_sha256[digest], digest)


def _items(answer: Mapping[str, Any]) -> list[Any]:
    items = answer.get("data")
    return items if isinstance(items, list) else []


def _base64_field(item: Any) -> str | None:
    """The key of ``item`` that holds its image as base64 (or a data URL)."""
    if not isinstance(item, dict) or item.get("darkroom_stored") is not None:
        return None
    for key in (*_BASE64_KEYS, "url"):
        value = item.get(key)
        if not isinstance(value, str) or not value:
            continue
        if key == "url" and not value.startswith("data:"):
            continue
        return key
    return None


def _noted(item: dict[str, Any], image_id: str, digest: str) -> dict[str, Any]:
    field = _base64_field(item)
    if field is None:
        return item
    return {
        **item,
        field: _placeholder(image_id),
        "darkroom_stored": {"image": image_id, "sha256": digest},
    }


def _placeholder(image_id: str) -> str:
    return f"[stored as image {image_id}]"


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
    if not any(
        isinstance(item, dict) and item.get("darkroom_stored") is None and _base64_field(item)
        for item in _items(answer)
    ):
        # Every image was kept apart when the answer came (the rule): nothing
        # to look up, and no query while the job's waiter reads its results.
        return False
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
