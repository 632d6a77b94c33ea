"""The production web process (gunicorn with webapp/gunicorn.conf.py)."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.services import Gunicorn


def test_a_web_process_keeps_the_loaded_app_out_of_the_collectors_full_passes(
    tmp_path: Path,
) -> None:
    with Gunicorn(tmp_path) as server:
        answer = httpx.get(server.url + "/accounts/login/", timeout=10)
    assert answer.status_code == 200
    # Django, the apps, the URL conf and the views: tens of thousands of
    # objects, frozen before the first request (webapp/memory.py).
    assert int(answer.headers["X-Test-Gc-Frozen"]) > 50_000
