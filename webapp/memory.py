"""The garbage collector, set for long-lived web processes."""

from __future__ import annotations

import gc
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.urls import get_resolver

from webapp.middleware import declared_length

# A request body this big is an upload of images (a job's form fields are a
# few kilobytes).
BIG_BODY_BYTES = 1024 * 1024


def freeze_loaded_objects() -> None:
    """Exempt everything loaded so far from the collector's full passes.

    A web process loads Django, the apps, the URL conf and the views once and
    keeps them for its whole life. Left in the collector's oldest generation,
    those ~100 000 objects are walked on every full pass, which held a usage
    page for 60-75 ms each time one fell inside it (bench/usage.py: p95
    114 ms against a median of 56 ms). Frozen, a full pass walks only what
    requests made. Called by gunicorn once a worker has loaded the app
    (webapp/gunicorn.conf.py), and by the benchmarks to measure the same.
    """
    get_resolver().url_patterns  # noqa: B018 - imports the URL conf and every view
    gc.freeze()


class CollectAfterBigBodiesMiddleware:
    """Frees what a big upload read when its request ends.

    Django's requests and forms are reference cycles (a form's bound fields
    point back at it), so they are freed by the collector's full passes only,
    not when the view returns, and with them every image the form read:
    ~86 MB for 16 phone photos. A few requests seldom set off a full pass, so
    a gunicorn process grew by that much with each such upload (205, 292,
    378, 464 MB after one to four; bench/pipeline.py --only upload). A full
    pass costs a few milliseconds once the loaded app is frozen
    (``freeze_loaded_objects``), against seconds for the upload itself.
    Outermost in MIDDLEWARE, so the view and every other middleware are done.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        # After RequestSizeLimitMiddleware, a chunked body's length is set too.
        if declared_length(request) >= BIG_BODY_BYTES:
            gc.collect()
        return response
