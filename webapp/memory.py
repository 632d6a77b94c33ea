"""The garbage collector, set for long-lived web processes."""

from __future__ import annotations

import gc

from django.urls import get_resolver


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
