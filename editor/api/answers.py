"""Answers of the image API in OpenAI's shape, and the signed result URLs.

A result URL is a capability, like a presigned S3 URL: whoever holds it may
read that one result for an hour, without a token or a session (image
clients such as Open WebUI fetch it without headers). Its signature covers
the image and its owner, so it cannot be turned into another file's URL.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pybase64
from django.core import signing
from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpRequest, HttpResponse
from django.urls import reverse

from editor.models import ImageRole, Job, JobImage, JobStatus

URL_LIFETIME_SECONDS = 60 * 60
_SALT = "darkroom.api.result-url"
# Token usage as OpenAI reports it; other providers' usage has another shape.
_USAGE_KEYS = ("input_tokens", "output_tokens", "total_tokens")


def _signer() -> signing.TimestampSigner:
    return signing.TimestampSigner(salt=_SALT)


def result_url(request: HttpRequest, image: JobImage, *, owner_id: int) -> str:
    value = _signer().sign_object({"i": str(image.pk), "o": owner_id}, compress=False)
    return request.build_absolute_uri(reverse("api:result", args=[value]))


def signed_image(value: str) -> tuple[str, int] | None:
    """(image id, owner id) of a signed value still valid, else None."""
    try:
        payload = _signer().unsign_object(value, max_age=URL_LIFETIME_SECONDS)
    except (signing.BadSignature, ValueError):
        return None
    if not isinstance(payload, dict):
        return None
    image_id, owner_id = payload.get("i"), payload.get("o")
    if not isinstance(image_id, str) or not isinstance(owner_id, int):
        return None
    return image_id, owner_id


def image_id_from_url(url: str) -> str | None:
    """The image a Darkroom result URL (still valid) points to, else None."""
    path = urlsplit(url).path
    prefix = reverse("api:result", args=["x"])[:-2]
    if not path.startswith(prefix):
        return None
    signed = signed_image(path[len(prefix) :].strip("/"))
    return signed[0] if signed else None


@dataclass(frozen=True)
class Base64Image:
    """An image to go into a JSON answer as base64 (see ``json_response``)."""

    data: bytes


def json_response(answer: Mapping[str, Any], *, status: int = 200) -> HttpResponse:
    """``answer`` as a JSON response, its ``Base64Image`` values spliced in as bytes.

    Through ``json.dumps`` each image's base64 would be made a str, scanned
    for characters to escape (base64 has none) and encoded back to bytes:
    ~15 ms for a 3 MB result, between the stored result and the client. Each
    image is written as a random marker instead, and the marker is replaced by
    the base64 bytes; a marker cannot be guessed, so no other text in the
    answer can stand for one.
    """
    images: list[bytes] = []
    marker = f"darkroom-image-{secrets.token_hex(16)}"

    def encode(value: Any) -> Any:
        if isinstance(value, Base64Image):
            images.append(pybase64.b64encode(value.data))
            return marker
        return DjangoJSONEncoder().default(value)

    pieces = json.dumps(answer, default=encode).encode().split(json.dumps(marker).encode())
    body = [pieces[0]]
    for image, after in zip(images, pieces[1:], strict=True):
        body.extend((b'"', image, b'"', after))
    return HttpResponse(b"".join(body), status=status, content_type="application/json")


def images_answer(request: HttpRequest, job: Job, *, response_format: str) -> dict[str, Any]:
    """``{created, data: [{b64_json}|{url}], usage}`` for a succeeded job.

    Images asked for as ``b64_json`` are ``Base64Image``s: answer with
    ``json_response``."""
    results = sorted(
        (image for image in job.images.all() if image.role == ImageRole.RESULT),
        key=lambda image: image.position,
    )
    data: list[dict[str, str | Base64Image]] = []
    for image in results:
        if response_format == "url":
            data.append({"url": result_url(request, image, owner_id=job.owner_id)})
        else:
            with image.file.open("rb") as handle:
                data.append({"b64_json": Base64Image(handle.read())})
    answer: dict[str, Any] = {"created": int(job.created.timestamp()), "data": data}
    first = results[0] if results else None
    if first is not None:
        answer["output_format"] = first.extension.replace("jpg", "jpeg")
        answer["size"] = f"{first.width}x{first.height}"
    for name in ("quality", "background"):
        if job.params.get(name):
            answer[name] = job.params[name]
    usage = job.usage if isinstance(job.usage, dict) else {}
    if any(key in usage for key in _USAGE_KEYS):
        answer["usage"] = usage
    answer["darkroom"] = job_summary(request, job)
    return answer


def job_summary(request: HttpRequest, job: Job) -> dict[str, Any]:
    """Darkroom's own view of the job (an extension field): id, status, cost."""
    summary: dict[str, Any] = {
        "id": str(job.pk),
        "object": "image.job",
        "status": job.status,
        "created": int(job.created.timestamp()),
        "model": f"{job.provider_name}/{job.image_model.model_id}"
        if job.image_model
        else job.model_label,
        "url": request.build_absolute_uri(reverse("api:job", args=[job.pk])),
        "page": request.build_absolute_uri(reverse("editor:job", args=[job.pk])),
        "notices": job.notices,
    }
    if job.cost is not None:
        summary["cost_usd"] = str(job.cost)
    if job.status == JobStatus.FAILED or job.status == JobStatus.CANCELED:
        summary["error"] = {"code": job.error_code, "message": job.error_message}
    return summary


def accepted_answer(request: HttpRequest, job: Job) -> dict[str, Any]:
    """The 202 answer of a job still running: where to ask for it."""
    return {
        **job_summary(request, job),
        "message": "The job is running; GET its url for the result.",
        "poll_after_seconds": 1,
    }
