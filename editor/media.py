"""Stored files: writing a job's images, deleting them, and serving them to
their owner only."""

from __future__ import annotations

import io
import logging
import uuid
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db.models import F
from django.db.models.fields.files import FieldFile
from django.http import FileResponse, HttpResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase

from editor import imaging
from editor.models import FINAL_STATUSES, ImageRole, Job, JobImage, image_upload_to

logger = logging.getLogger(__name__)

EXTENSIONS = {"PNG": "png", "JPEG": "jpg", "WEBP": "webp"}
# Presigned object-storage URLs never live longer than this, whatever the setting.
PRESIGNED_URL_MAX_SECONDS = 900


def image_store(
    *,
    job: Job,
    role: str,
    position: int,
    data: bytes,
    info: imaging.ImageInfo,
    thumbnail: bytes | None = None,
    orientation: int = 1,
) -> JobImage:
    """Save one image of ``job`` as given (never re-encoded here).

    ``thumbnail`` is the thumbnail when the caller already made it (from the
    decode that checked an upload). Otherwise none is made now: a result is
    stored and shown without waiting for one, and ``thumbnail_ensure`` makes
    it when it is first asked for.
    """
    image = image_file_write(
        job=job, role=role, position=position, data=data, info=info, orientation=orientation
    )
    try:
        if thumbnail is not None:
            image.thumbnail.save("thumb.webp", ContentFile(thumbnail), save=False)
            image.thumbnail_bytes = len(thumbnail)
        images_record(job_id=job.pk, images=[image])
    except BaseException:
        files_delete([image.file.name, image.thumbnail.name])
        raise
    return image


def image_file_write(
    *,
    job: Job,
    role: str,
    position: int,
    data: bytes,
    info: imaging.ImageInfo,
    orientation: int = 1,
) -> JobImage:
    """Write one image's file; returns its row, not saved yet (``images_record``)."""
    image = JobImage(
        job=job,
        role=role,
        position=position,
        width=info.width,
        height=info.height,
        format=info.format,
        bytes=info.bytes,
        sha256=info.sha256,
        orientation=orientation,
    )
    image.file.save(f"image.{EXTENSIONS.get(info.format, 'bin')}", ContentFile(data), save=False)
    return image


def images_record(*, job_id: uuid.UUID, images: Sequence[JobImage]) -> None:
    """Save the rows of files already written, and count their bytes on the job."""
    JobImage.objects.bulk_create(images)
    added = sum(image.bytes + image.thumbnail_bytes for image in images)
    Job.objects.filter(pk=job_id).update(stored_bytes=F("stored_bytes") + added)


def thumbnail_ensure(image: JobImage) -> JobImage:
    """``image`` with its thumbnail, made and stored now if it has none yet.

    Made on the first request for it rather than while the job stores its
    results, so the result reaches its page sooner. Two first requests at
    once may both make one; the conditional update keeps the first and the
    other's file is removed. An image that cannot be thumbnailed is served
    whole instead (``image_response`` falls back to the file).
    """
    if image.thumbnail:
        return image
    try:
        with image.file.open("rb") as handle:
            small = imaging.thumbnail(handle.read(), size=settings.DARKROOM_THUMBNAIL_SIZE)
    except (OSError, imaging.ImageRejectedError):
        logger.warning("Could not make a thumbnail of image %s", image.pk, exc_info=True)
        return image
    name = default_storage.save(image_upload_to(image, "thumb.webp"), ContentFile(small))
    made = JobImage.objects.filter(pk=image.pk, thumbnail="").update(
        thumbnail=name, thumbnail_bytes=len(small)
    )
    if made:
        Job.objects.filter(pk=image.job_id).update(stored_bytes=F("stored_bytes") + len(small))
    else:
        # Another request made it first, or the image is gone.
        files_delete([name])
    image.refresh_from_db(fields=["thumbnail", "thumbnail_bytes"])
    return image


def input_upright(image: JobImage, *, data: bytes) -> bytes:
    """``data``, the file of an input stored with an EXIF orientation still to
    apply (``JobImage.orientation``), turned upright and stored in its place.

    Uploads leave turning a photo to the job's worker, which calls this before
    the image is used: the upload is accepted sooner, and browsers show the
    photo upright meanwhile. Doing it twice (a redelivered job) is harmless:
    the conditional update keeps one file and removes the other.
    """
    prepared = imaging.prepare_image(data, max_pixels=settings.DARKROOM_MAX_IMAGE_PIXELS)
    info = prepared.info
    name = default_storage.save(
        image_upload_to(image, f"image.{EXTENSIONS.get(info.format, 'bin')}"),
        ContentFile(prepared.data),
    )
    try:
        turned = JobImage.objects.filter(pk=image.pk, orientation=image.orientation).update(
            file=name,
            format=info.format,
            bytes=info.bytes,
            sha256=info.sha256,
            orientation=1,
        )
    except BaseException:
        files_delete([name])
        raise
    if turned:
        Job.objects.filter(pk=image.job_id).update(
            stored_bytes=F("stored_bytes") + info.bytes - image.bytes
        )
        files_delete([image.file.name])
    else:
        files_delete([name])
    return prepared.data


def final_inputs_upright(*, limit: int = 20) -> int:
    """Turn upright the phone photos of jobs that ended before a worker
    turned them (canceled while queued, failed before running); returns how
    many were turned.

    A job's worker turns its inputs when it runs (``input_upright``); these
    jobs never will, and their downloads, ZIPs and API answers would hand out
    the file as received, upright only where the viewer reads its EXIF tag.
    The recovery sweep calls this each minute, a few images at a time.
    """
    to_turn = JobImage.objects.filter(
        role=ImageRole.INPUT, orientation__gt=1, job__status__in=FINAL_STATUSES
    ).order_by("created")[:limit]
    turned = 0
    for image in to_turn:
        try:
            with image.file.open("rb") as handle:
                input_upright(image, data=handle.read())
        except imaging.ImageRejectedError:
            # Damaged since it was checked: nothing can be turned, so it is
            # not tried again each minute.
            logger.warning("Input image %s could not be read to turn it upright", image.pk)
            JobImage.objects.filter(pk=image.pk, orientation=image.orientation).update(
                orientation=1
            )
        except Exception:
            # Storage out of reach: the next sweep tries again.
            logger.warning("Could not turn input image %s upright", image.pk, exc_info=True)
        else:
            turned += 1
    return turned


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
    disposition = f'attachment; filename="{filename}"' if download else "inline"
    if settings.DARKROOM_STORAGE == "s3":
        response: HttpResponseBase = HttpResponseRedirect(
            presigned_url(field, content_type=content_type, disposition=disposition)
        )
        # The URL expires soon; nobody may keep the redirect longer than it lives.
        response["Cache-Control"] = "private, no-store"
        return response
    if settings.DARKROOM_X_ACCEL_PREFIX:
        response = HttpResponse(content_type=content_type)
        response["X-Accel-Redirect"] = (
            settings.DARKROOM_X_ACCEL_PREFIX.rstrip("/") + "/" + field.name
        )
    else:
        response = FileResponse(field.open("rb"), content_type=content_type)
    if download:
        response["Content-Disposition"] = disposition
    # Nobody keeps a copy: not shared caches, nor the browser of someone who
    # logged out of a shared computer.
    response["Cache-Control"] = "private, no-store"
    return response


def presigned_url(field: FieldFile, *, content_type: str, disposition: str) -> str:
    """A presigned GET for object storage, alive at most PRESIGNED_URL_MAX_SECONDS."""
    configured = getattr(field.storage, "querystring_expire", PRESIGNED_URL_MAX_SECONDS)
    expire = max(1, min(int(configured), PRESIGNED_URL_MAX_SECONDS))
    parameters = {"ResponseContentDisposition": disposition, "ResponseContentType": content_type}
    # S3Storage.url takes these; the base Storage signature does not know them.
    url: Any = field.storage.url
    return str(url(field.name, parameters=parameters, expire=expire))


# --- ZIP downloads -------------------------------------------------------------


class _ChunkBuffer(io.RawIOBase):
    """A write-only sink that ``zipfile`` writes into and the generator drains.

    It has no ``tell``/``seek``, so zipfile writes a streamable archive (sizes
    in data descriptors after each member) and never goes back.
    """

    def __init__(self) -> None:
        self._chunks: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        chunk = bytes(data)
        self._chunks.append(chunk)
        return len(chunk)

    def drain(self) -> bytes:
        data = b"".join(self._chunks)
        self._chunks.clear()
        return data


@dataclass(frozen=True)
class ZipMember:
    name: str
    image: JobImage


def zip_stream(members: Iterable[ZipMember], *, chunk_size: int = 64 * 1024) -> Iterator[bytes]:
    """The bytes of a ZIP of ``members``, produced piece by piece.

    Images are already compressed, so members are STORED; at most one chunk of
    one file is held in memory at a time, whatever the size of the archive.
    """
    sink = _ChunkBuffer()
    with zipfile.ZipFile(sink, mode="w", compression=zipfile.ZIP_STORED) as archive:
        for member in members:
            info = zipfile.ZipInfo(member.name, date_time=_zip_time(member.image))
            info.compress_type = zipfile.ZIP_STORED
            info.file_size = member.image.bytes
            with archive.open(info, mode="w") as target:
                for chunk in _file_chunks(member.image.file, chunk_size):
                    target.write(chunk)
                    if data := sink.drain():
                        yield data
            if data := sink.drain():
                yield data
    if data := sink.drain():
        yield data


def _file_chunks(field: FieldFile, chunk_size: int) -> Iterator[bytes]:
    assert field.name, "a stored image always has a file"
    with field.storage.open(field.name, "rb") as source:
        s3_object = getattr(source, "obj", None)
        if s3_object is not None:
            # django-storages' S3File downloads the whole object into memory on
            # the first read; the object's body streams instead.
            body = s3_object.get()["Body"]
            try:
                yield from body.iter_chunks(chunk_size)
            finally:
                body.close()
            return
        while chunk := source.read(chunk_size):
            yield chunk


def _zip_time(image: JobImage) -> tuple[int, int, int, int, int, int]:
    moment = image.created
    return (moment.year, moment.month, moment.day, moment.hour, moment.minute, moment.second)
