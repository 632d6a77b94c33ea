"""Helpers for tests that run real services: free ports, waiting, moto's S3.

A test that needs a service it cannot find is skipped with the reason, except
under ``CI=true``, where a missing service is a failure.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Self

import pytest


def service_missing(reason: str) -> None:
    """Skip the test, or fail it under CI=true where every service must be there."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true: the services must be present)")
    pytest.skip(reason)


# A Redis database of the tests' own, on the machine's Redis, for job pushes.
EVENTS_URL = "redis://127.0.0.1:6379/5"


def push_job_changes(settings: Any) -> None:
    """Push job changes over that Redis (DARKROOM_EVENTS_URL) to waiting API
    requests and open job pages, or skip without it."""
    import redis

    try:
        redis.Redis.from_url(EVENTS_URL, socket_connect_timeout=0.5).ping()
    except redis.RedisError:
        service_missing("needs a Redis server on 127.0.0.1:6379")
    settings.DARKROOM_EVENTS_URL = EVENTS_URL
    settings.DARKROOM_PAGE_EVENTS = True


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(condition: Any, *, timeout: float, message: str, interval: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(interval)
    raise AssertionError(f"{message} (after {timeout:g}s)")


# The embedded broker's transport, as the settings choose it for filesystem://.
FILESYSTEM_TRANSPORT = "webapp.broker:Transport"


def filesystem_broker_options(folder: Path, *, polling_interval: float = 0.05) -> dict[str, Any]:
    """Transport options for a broker folder of a test's own (see webapp/settings.py)."""
    return {
        "data_folder_in": str(folder / "messages"),
        "data_folder_out": str(folder / "messages"),
        "control_folder": str(folder / "control"),
        "rejected_folder": str(folder / "rejected"),
        "store_processed": False,
        "polling_interval": polling_interval,
    }


@contextlib.contextmanager
def celery_broker(
    url: str, transport_options: dict[str, Any] | None = None, *, transport: str | None = None
) -> Iterator[str]:
    """Point this process's Celery app (enqueueing, the sweep, /readyz, a worker
    started in this process) at ``url``, and back afterwards."""
    from webapp.celery import app, ensure_queue_folders

    names = ("broker_url", "broker_transport", "broker_transport_options")
    previous = {name: app.conf.get(name) for name in names}
    app.conf.broker_url = url
    app.conf.broker_transport = transport
    app.conf.broker_transport_options = transport_options or {}
    ensure_queue_folders()
    _forget_broker_connections(app)
    try:
        yield url
    finally:
        for name, value in previous.items():
            app.conf[name] = value
        _forget_broker_connections(app)


def filesystem_broker(folder: Path, *, polling_interval: float = 0.05) -> Any:
    """``celery_broker`` on the embedded filesystem broker, in ``folder``."""
    options = filesystem_broker_options(folder, polling_interval=polling_interval)
    return celery_broker("filesystem://", options, transport=FILESYSTEM_TRANSPORT)


def _forget_broker_connections(app: Any) -> None:
    """Make the app open new connections with its current broker settings."""
    app._pool = None
    app.amqp._producer_pool = None


class Server:
    """A process a test starts and stops; ``with`` stops it even when the test fails."""

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class MotoS3(Server):
    def __init__(self, folder: Path) -> None:
        self.port = free_port()
        self.folder = folder
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        beside_python = Path(sys.executable).parent / "moto_server"
        binary = str(beside_python) if beside_python.exists() else shutil.which("moto_server")
        if binary is None:
            service_missing("needs moto_server (the moto[server] dev dependency) on PATH")
        assert binary is not None
        with (self.folder / "moto.log").open("ab") as log:
            self.process = subprocess.Popen(
                [binary, "-H", "127.0.0.1", "-p", str(self.port)], stdout=log, stderr=log
            )
        wait_until(self.answers, timeout=30, message="moto_server did not start")

    def answers(self) -> bool:
        import httpx

        try:
            return httpx.get(self.endpoint + "/", timeout=0.5).status_code < 500
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None

    def client(self) -> Any:
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )


class Gunicorn(Server):
    """Darkroom under gunicorn with its production config, on a free port, on
    a fresh SQLite data folder (tests/counting_wsgi.py: it reports what it read)."""

    def __init__(
        self,
        folder: Path,
        *,
        workers: int = 1,
        env: dict[str, str] | None = None,
        data: Path | None = None,
    ):
        self.folder = folder
        # Servers given the same data folder share the database and secret key.
        self.data = data or folder / "data"
        self.tmp = folder / "tmp"
        self.tmp.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("DATABASE_URL", "CELERY_", "DARKROOM_", "DJANGO_SETTINGS"))
        }
        self.env.update(
            {
                "DARKROOM_DATA_DIR": str(self.data),
                # Where Django and Python spool uploads.
                "TMPDIR": str(self.tmp),
                "HOST": "127.0.0.1",
                "PORT": str(self.port),
                "WEB_CONCURRENCY": str(workers),
                **(env or {}),
            }
        )
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        root = Path(__file__).resolve().parent.parent
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--verbosity", "0"],
            cwd=root,
            env=self.env,
            check=True,
        )
        with (self.folder / "gunicorn.log").open("ab") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    *("-m", "gunicorn", "-c", "webapp/gunicorn.conf.py"),
                    "tests.counting_wsgi:application",
                ],
                cwd=root,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_until(self.answers, timeout=60, message="gunicorn did not start")

    def answers(self) -> bool:
        import httpx

        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError((self.folder / "gunicorn.log").read_text())
        try:
            return httpx.get(self.url + "/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)
        self.process = None
