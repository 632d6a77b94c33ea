"""The embedded broker: kombu's filesystem transport, made safe to share a folder.

kombu's own filesystem transport writes a message file in place under its
final name, so a worker polling the folder can read it half-written; the
JSON error that follows stops the worker (kombu issue 1551). This transport
changes two things and keeps the rest (file names, order, folders, options):

* a message is written under a temporary name that no reader picks up, then
  renamed into place with ``os.replace()``: a reader sees the whole file or
  nothing;
* a message that still cannot be read (truncated, not JSON, not a message:
  a disk that filled up, a power cut, a hand-edited file) is logged with its
  file name and moved to the ``rejected_folder``; the worker goes on with the
  next one. Its job stays queued on its row, and the recovery sweep sends it
  a new message (see ``editor.pipeline.jobs_recover``).

Settings select it with ``CELERY_BROKER_TRANSPORT`` when the broker URL is
``filesystem://``; kombu takes an explicit transport class over the URL's
scheme.
"""

from __future__ import annotations

import logging
import os
import uuid
from pathlib import Path
from queue import Empty
from time import monotonic
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.json import dumps, loads

logger = logging.getLogger(__name__)

# kombu's reader takes a file when the part of its name after the first dot
# is "<queue>.msg"; a leading dot makes that part "<name>.partial" instead.
PARTIAL_PREFIX = "."
PARTIAL_SUFFIX = ".partial"


class MalformedMessageError(ValueError):
    pass


class Channel(filesystem.Channel):
    def __init__(self, connection: Any, **kwargs: Any) -> None:
        super().__init__(connection, **kwargs)
        # Files that could be neither read nor moved aside: skipped, so they
        # are logged once rather than at every polling interval.
        self._unmovable: set[str] = set()

    # The stubs of kombu's filesystem and virtual channels name the message
    # argument differently; no signature matches both.
    def _put(self, queue: str, payload: dict[str, Any], **kwargs: Any) -> None:  # type: ignore[override]
        """Write the message whole under a hidden name, then rename it into place.

        No fsync: a worker killed at any point leaves either no message or a
        whole one. Only a power cut can leave an empty file behind, which the
        reader sets aside like any other unreadable message.
        """
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        folder = Path(self.data_folder_out)
        partial = folder / f"{PARTIAL_PREFIX}{name}{PARTIAL_SUFFIX}"
        try:
            with partial.open("xb") as handle:
                handle.write(dumps(payload).encode())
            os.replace(partial, folder / name)
        except OSError as exc:
            partial.unlink(missing_ok=True)
            raise ChannelError(f"Cannot add file {name!r} to {folder}") from exc

    def _get(self, queue: str, timeout: float | None = None) -> dict[str, Any]:
        """Take the oldest readable message of ``queue``, setting aside broken ones.

        Several workers may poll the same folder: a message is theirs once
        they have read it and removed its file. Whoever finds the file gone
        lets it be (another worker took it) and goes on.
        """
        folder = Path(self.data_folder_in)
        wanted = f"{queue}.msg"
        for name in sorted(os.listdir(folder)):
            if name.partition(".")[2] != wanted or name in self._unmovable:
                continue
            path = folder / name
            try:
                payload = self._message_from(path.read_bytes())
            except FileNotFoundError:
                continue
            except (OSError, ValueError) as exc:
                self._set_aside(path, reason=str(exc) or type(exc).__name__)
                continue
            try:
                if self.store_processed:
                    os.replace(path, Path(self.processed_folder) / name)
                else:
                    path.unlink()
            except FileNotFoundError:
                continue
            return payload
        raise Empty()

    def _set_aside(self, path: Path, *, reason: str) -> None:
        rejected = self.rejected_folder
        try:
            rejected.mkdir(parents=True, exist_ok=True)
            os.replace(path, rejected / path.name)
        except FileNotFoundError:
            # Another worker read it first and set it aside (or, for a
            # message it could read, took it).
            return
        except OSError:
            # Never read it again from this process: one log line, not one
            # per polling interval.
            self._unmovable.add(path.name)
            logger.exception(
                "Could not read the queue message %s (%s), nor move it to %s; skipping it.",
                path.name,
                reason,
                rejected,
            )
            return
        logger.error(
            "Set aside the unreadable queue message %s (%s) in %s. A job left without "
            "its message is sent again by the recovery sweep.",
            path.name,
            reason,
            rejected,
        )

    @property
    def rejected_folder(self) -> Path:
        folder = self.transport_options.get("rejected_folder")
        return Path(folder) if folder else Path(self.data_folder_in).parent / "rejected"

    def _message_from(self, data: bytes) -> dict[str, Any]:
        """The payload, if kombu can make a message of it; MalformedMessageError if not.

        JSON and UTF-8 errors are ValueErrors too. Building the message here
        is what the worker would do next, where an error stops the worker.
        """
        if not data:
            raise MalformedMessageError("an empty file")
        payload = loads(data.decode())
        try:
            self.Message(payload, channel=self)
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise MalformedMessageError(f"not a message: {exc!r}") from exc
        return payload  # type: ignore[no-any-return]


class Transport(filesystem.Transport):
    Channel = Channel
