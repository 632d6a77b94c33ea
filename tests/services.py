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
from typing import Any

import pytest


def service_missing(reason: str) -> None:
    """Skip the test, or fail it under CI=true where every service must be there."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true: the services must be present)")
    pytest.skip(reason)


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


class MotoS3:
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
