"""Stored files: writing a job's images, deleting them, and serving them to
their owner only."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.http import FileResponse, HttpResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase

from editor import imaging
from editor.models import Job, JobImage

logger = logging.getLogger(__name__)

EXTENSIONS = {"PNG": "png", "JPEG": "jpg", "WEBP": "webp"}


def image_store(
    *, job: Job, role: str, position: int, data: bytes, info: imaging.ImageInfo, thumbnail: bool
) -> JobImage:
    """Save one image of ``job`` as received (never re-encoded) plus its thumbnail."""
    extension = EXTENSIONS.get(info.format, "bin")
    image = JobImage(
        job=job,
        role=role,
        position=position,
        width=info.width,
        height=info.height,
        format=info.format,
        bytes=info.bytes,
        sha256=info.sha256,
    )
    try:
        image.file.save(f"image.{extension}", ContentFile(data), save=False)
        if thumbnail:
            small = imaging.thumbnail(data, size=settings.DARKROOM_THUMBNAIL_SIZE)
            image.thumbnail.save("thumb.webp", ContentFile(small), save=False)
        image.save()
    except BaseException:
        files_delete([image.file.name, image.thumbnail.name])
        raise
    return image


def files_delete(names: Iterable[str]) -> None:
    for name in names:
        if not name:
            continue
        try:
            default_storage.delete(name)
        except Exception:
            logger.exception("Could not delete stored file %s", name)


def image_response(
    image: JobImage, *, thumbnail: bool = False, download: bool = False
) -> HttpResponseBase:
    """The bytes of an image the caller has already checked the user owns.

    Local files stream from storage (or, behind nginx, are handed over with
    X-Accel-Redirect); object storage answers with a short-lived presigned URL.
    """
    field = image.thumbnail if thumbnail and image.thumbnail else image.file
    content_type = "image/webp" if field is image.thumbnail else image.content_type
    filename = f"darkroom-{image.job_id}-{image.role}-{image.position + 1}.{image.extension}"
    if settings.DARKROOM_STORAGE == "s3":
        return HttpResponseRedirect(field.storage.url(field.name))
    if settings.DARKROOM_X_ACCEL_PREFIX:
        response: HttpResponseBase = HttpResponse(content_type=content_type)
        response["X-Accel-Redirect"] = (
            settings.DARKROOM_X_ACCEL_PREFIX.rstrip("/") + "/" + field.name
        )
    else:
        response = FileResponse(field.open("rb"), content_type=content_type)
    if download:
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
    # Private: browsers may keep it, shared caches must not.
    response["Cache-Control"] = "private, max-age=3600"
    return response
