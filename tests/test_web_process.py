"""The production web process (gunicorn with webapp/gunicorn.conf.py)."""

from __future__ import annotations

import gc
import weakref
from pathlib import Path

import httpx
from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory

from tests.services import Gunicorn
from webapp.memory import BIG_BODY_BYTES, CollectAfterBigBodiesMiddleware


def test_a_web_process_keeps_the_loaded_app_out_of_the_collectors_full_passes(
    tmp_path: Path,
) -> None:
    with Gunicorn(tmp_path) as server:
        answer = httpx.get(server.url + "/accounts/login/", timeout=10)
    assert answer.status_code == 200
    # Django, the apps, the URL conf and the views: tens of thousands of
    # objects, frozen before the first request (webapp/memory.py).
    assert int(answer.headers["X-Test-Gc-Frozen"]) > 50_000


class Node:
    """A reference cycle, as Django's forms and requests are."""

    def __init__(self) -> None:
        self.me = self


def test_what_a_big_upload_made_is_freed_when_its_request_ends(rf: RequestFactory) -> None:
    made: list[weakref.ref[Node]] = []

    def view(request: HttpRequest) -> HttpResponse:
        made.append(weakref.ref(Node()))
        return HttpResponse()

    middleware = CollectAfterBigBodiesMiddleware(view)
    automatic = gc.isenabled()
    gc.disable()  # only the middleware may collect
    try:
        middleware(rf.post("/", data=b"x" * 100, content_type="image/png"))
        assert made[-1]() is not None  # a form's few fields wait for the next pass
        middleware(rf.post("/", data=b"x" * BIG_BODY_BYTES, content_type="image/png"))
        assert made[-1]() is None
    finally:
        if automatic:
            gc.enable()
        gc.collect()
