"""The production web process (gunicorn with webapp/gunicorn.conf.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.services import Gunicorn


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Gunicorn]:
    server = Gunicorn(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_a_web_process_keeps_the_loaded_app_out_of_the_collectors_full_passes(
    server: Gunicorn,
) -> None:
    answer = httpx.get(server.url + "/accounts/login/", timeout=10)
    assert answer.status_code == 200
    # Django, the apps, the URL conf and the views: tens of thousands of
    # objects, frozen before the first request (webapp/memory.py).
    assert int(answer.headers["X-Test-Gc-Frozen"]) > 50_000
