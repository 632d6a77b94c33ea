"""Upload limits enforced while the request is read, not after.

Django reads a whole multipart body (spooling file parts to disk) before any
form can look at a file's size: ``DATA_UPLOAD_MAX_MEMORY_SIZE`` does not count
file parts and ``FILE_UPLOAD_MAX_MEMORY_SIZE`` only chooses memory or disk.
This handler, first in ``FILE_UPLOAD_HANDLERS``, stops reading the request as
soon as one file passes ``DARKROOM_MAX_UPLOAD_BYTES``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.http import HttpRequest
from django.template.defaultfilters import filesizeformat


@dataclass(frozen=True)
class RefusedUpload:
    """A file that passed the per-file limit; its request was read no further."""

    file_name: str
    limit: int

    def __str__(self) -> str:
        return (
            f"“{self.file_name}” is larger than {filesizeformat(self.limit)}, the most "
            "Darkroom takes for one image, so it was not read further and nothing was saved. "
            "Choose a smaller file (or save it as JPEG or WebP) and send the form again."
        )


def refused_upload(request: HttpRequest) -> RefusedUpload | None:
    """The file that stopped this request's upload, if one did."""
    return getattr(request, "refused_upload", None)


class FileSizeLimitUploadHandler(FileUploadHandler):
    """Stops the upload the moment one file passes the per-file limit.

    The request is read no further (``connection_reset``: nothing after the
    file is read or spooled, and gunicorn drops the connection instead of
    draining the rest); the fields read before the file are kept, and
    ``request.refused_upload`` tells the view what happened.
    """

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        super().new_file(*args, **kwargs)
        self.received = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        self.received += len(raw_data)
        limit = settings.DARKROOM_MAX_UPLOAD_BYTES
        if self.received > limit:
            self.request.refused_upload = RefusedUpload(  # type: ignore[union-attr]
                file_name=self.file_name or "file", limit=limit
            )
            raise StopUpload(connection_reset=True)
        return raw_data

    def file_complete(self, file_size: int) -> None:
        # The next handlers (memory or temporary file) build the file.
        return None
