"""What the load balancer and the browser see: health endpoints, security
headers and static files."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.db import OperationalError
from django.test import Client

from tests.production.conftest import REPO
from tests.services import celery_broker, free_port, service_missing


def test_healthz_answers_without_a_login_or_the_database(
    db: None, django_assert_num_queries: Any
) -> None:
    with django_assert_num_queries(0):
        response = Client().get("/healthz")
    assert response.status_code == 200
    assert response.content == b"ok\n"
    assert "no-cache" in response["Cache-Control"]


def test_readyz_is_ok_when_database_broker_and_storage_answer(db: None) -> None:
    response = Client().get("/readyz")
    assert response.status_code == 200, response.json()
    assert response.json() == {
        "status": "ok",
        "failed": [],
        "checks": {"database": "ok", "broker": "ok", "storage": "ok"},
    }


def readyz_with_broker(url: str) -> Any:
    with celery_broker(url):
        return Client().get("/readyz")


def test_readyz_reaches_rabbitmq_as_the_broker(db: None) -> None:
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", 5672)) != 0:
            service_missing("needs RabbitMQ on 127.0.0.1:5672")
    response = readyz_with_broker("amqp://guest:guest@127.0.0.1:5672//")
    assert response.status_code == 200, response.json()


def test_readyz_names_an_unreachable_broker(db: None) -> None:
    response = readyz_with_broker(f"redis://127.0.0.1:{free_port()}/0")
    assert response.status_code == 503
    assert response.json()["failed"] == ["broker"]
    assert response.json()["checks"]["broker"].startswith("failed: ")
    # Only the kind of error: never a URL or a password.
    assert "127.0.0.1" not in response.content.decode()


def local_media_at(settings: Any, location: Path) -> None:
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": location},
        },
    }


def test_readyz_names_media_storage_that_cannot_be_written(
    db: None, settings: Any, tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    local_media_at(settings, blocker / "media")
    response = Client().get("/readyz")
    assert response.status_code == 503
    assert response.json()["failed"] == ["storage"]


def test_a_fresh_install_without_a_media_folder_yet_is_ready(
    db: None, settings: Any, tmp_path: Path
) -> None:
    local_media_at(settings, tmp_path / "var" / "media")
    assert Client().get("/readyz").status_code == 200


def test_readyz_names_an_unreachable_database(db: None, monkeypatch: Any) -> None:
    class Unreachable:
        def cursor(self) -> Any:
            raise OperationalError("connection refused")

    monkeypatch.setattr("editor.health.connection", Unreachable())
    response = Client().get("/readyz")
    assert response.status_code == 503
    assert response.json()["failed"] == ["database"]


def test_health_endpoints_are_not_redirected_to_https(db: None, settings: Any) -> None:
    settings.SECURE_SSL_REDIRECT = True
    client = Client()
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200
    assert client.get("/accounts/login/").status_code == 301


def test_pages_carry_a_content_security_policy_without_inline_scripts(db: None) -> None:
    response = Client().get("/accounts/login/")
    policy = response["Content-Security-Policy"]
    assert "script-src 'self';" in policy
    assert "'unsafe-eval'" not in policy
    assert "frame-ancestors 'none'" in policy
    assert "object-src 'none'" in policy


def test_no_template_has_an_inline_script_the_policy_would_block() -> None:
    inline_script = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
    event_handler = re.compile(r"\son[a-z]+\s*=\s*[\"']", re.IGNORECASE)
    offenders = []
    for template in (REPO / "templates").rglob("*.html"):
        text = template.read_text()
        if inline_script.search(text) or event_handler.search(text) or "hx-on" in text:
            offenders.append(str(template.relative_to(REPO)))
    assert offenders == []


@pytest.fixture
def collected_static(tmp_path: Path) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DJANGO_ALLOW_ASYNC_UNSAFE", "DEBUG")
    }
    env.update(DJANGO_SETTINGS_MODULE="webapp.settings", DARKROOM_DATA_DIR=str(tmp_path))
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "--verbosity", "0"],
        cwd=REPO,
        env=env,
        check=True,
    )
    return env


def test_collected_static_files_are_hashed_and_compressed(
    collected_static: dict[str, str], tmp_path: Path
) -> None:
    code = (
        "import django; django.setup();"
        "from django.templatetags.static import static;"
        "print(static('editor/darkroom.css'))"
    )
    url = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        env=collected_static,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert re.fullmatch(r"/static/editor/darkroom\.[0-9a-f]{12}\.css", url), url
    collected = tmp_path / "static" / url.removeprefix("/static/")
    assert collected.exists()
    assert collected.with_name(collected.name + ".gz").exists()


def test_static_files_are_served_before_collectstatic(db: None, tmp_path: Path) -> None:
    from webapp.staticfiles import StaticFilesStorage

    # No manifest in an empty STATIC_ROOT: plain names, served from the app folders.
    url = StaticFilesStorage(location=tmp_path).url("editor/darkroom.css")
    assert url == "/static/editor/darkroom.css"
    response = Client().get(url)
    assert response.status_code == 200
    assert b"".join(response.streaming_content)  # type: ignore[attr-defined]
