"""Reading stored images back the way a browser would, on any storage."""

from __future__ import annotations

from typing import Any

import httpx

from editor import imaging, media
from editor.models import ImageRole, Job, JobImage
from tests.images import image_bytes


def add_result(job: Job, data: bytes | None = None) -> JobImage:
    """Store a result for ``job`` as the pipeline does (file, sizes), with the
    thumbnail its first view makes."""
    data = data or image_bytes(32, 24, colour=(10, 200, 10))
    info = imaging.inspect_image(data, max_pixels=10_000_000)
    position = job.images.filter(role=ImageRole.RESULT).count()
    image = media.image_store(
        job=job, role=ImageRole.RESULT, position=position, data=data, info=info
    )
    return media.thumbnail_ensure(image)


def is_presigned_redirect(response: Any) -> bool:
    """An answer sending the browser to object storage (DARKROOM_STORAGE=s3)."""
    return response.status_code == 302 and response["Location"].startswith("http")


def body_of(response: Any) -> bytes:
    """The bytes a browser ends up with: streamed, or fetched from a presigned URL."""
    if is_presigned_redirect(response):
        fetched = httpx.get(response["Location"], timeout=10)
        fetched.raise_for_status()
        return fetched.content
    if response.streaming:
        return b"".join(response.streaming_content)
    return bytes(response.content)


def stored(image: JobImage) -> bytes:
    with image.file.open("rb") as handle:
        return bytes(handle.read())
