"""The Celery app. Configuration comes from Django settings (``CELERY_*``)."""

from __future__ import annotations

import gc
import logging
import os
from pathlib import Path

from celery import Celery
from celery.signals import worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")

logger = logging.getLogger(__name__)

app = Celery("darkroom")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def ensure_queue_folders() -> None:
    """The filesystem broker expects its folders to exist on both ends."""
    options = app.conf.broker_transport_options or {}
    for key in ("data_folder_in", "data_folder_out", "control_folder", "rejected_folder"):
        if folder := options.get(key):
            Path(folder).mkdir(parents=True, exist_ok=True)


@app.on_after_configure.connect
def _on_after_configure(**kwargs: object) -> None:
    ensure_queue_folders()


@worker_ready.connect
def _keep_loaded_objects_out_of_full_passes(**kwargs: object) -> None:
    """A worker keeps Django, the apps and the jobs' code for its whole life,
    as a web process does: frozen, they are not walked by the collector's
    full passes, which otherwise held a running job for 55-67 ms each time
    one fell inside it (bench/api.py's p95). Sent by ``celery worker`` only,
    not by the test suite's in-process workers."""
    from webapp.memory import freeze_loaded_objects

    freeze_loaded_objects()
    logger.info(
        "Worker ready: %d loaded objects kept out of the collector's full passes.",
        gc.get_freeze_count(),
    )
