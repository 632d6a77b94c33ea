"""Health endpoints for load balancers and orchestrators.

``/healthz`` answers as long as the process serves requests (no database,
nothing else): restart the process when it fails. ``/readyz`` checks that the
database, the broker and the media storage answer: take the process out of
rotation when it fails. Neither needs a login, and neither says more than
which dependency failed and the kind of error, so nothing secret leaks.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

from django.contrib.auth.decorators import login_not_required
from django.core.files.storage import default_storage
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

logger = logging.getLogger(__name__)

BROKER_TIMEOUT_SECONDS = 3


def check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def check_broker() -> None:
    # Imported here: the web process needs the Celery app only for this probe.
    from webapp.celery import app

    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, interval_start=0, timeout=BROKER_TIMEOUT_SECONDS)


def check_storage() -> None:
    location = getattr(default_storage, "location", None)
    if location is not None:
        # A fresh install makes its media folder on the first upload, so a
        # missing folder is fine as long as it can be made there.
        folder = Path(location)
        existing = next(path for path in (folder, *folder.parents) if path.exists())
        if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
            raise PermissionError("the media folder cannot be written")
    # One cheap read (a HEAD request on S3) that fails when the storage is
    # unreachable or refuses our credentials.
    default_storage.exists("readyz-probe")


CHECKS: dict[str, Callable[[], None]] = {
    "database": check_database,
    "broker": check_broker,
    "storage": check_storage,
}


@login_not_required
@never_cache
@require_GET
def healthz(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok\n", content_type="text/plain")


@login_not_required
@never_cache
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    results: dict[str, str] = {}
    for name, check in CHECKS.items():
        try:
            check()
        except Exception as error:
            logger.warning("Readiness check %s failed: %r", name, error)
            results[name] = f"failed: {type(error).__name__}"
        else:
            results[name] = "ok"
    failed = [name for name, result in results.items() if result != "ok"]
    return JsonResponse(
        {"status": "failed" if failed else "ok", "failed": failed, "checks": results},
        status=503 if failed else 200,
    )
