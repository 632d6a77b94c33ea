"""Real services for the production tests: a Redis server, moto's S3, Celery
worker processes and a fake image API that counts calls.

A test that needs a service it cannot find is skipped with the reason, except
under ``CI=true``, where a missing service is a failure.
"""

from __future__ import annotations

import base64
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection

from tests.fakes.server import FakeProvider, RecordedRequest, Reply
from tests.images import image_bytes
from tests.services import (
    MotoS3,
    Server,
    celery_broker,
    free_port,
    service_missing,
    wait_until,
)

REPO = Path(__file__).resolve().parents[2]


# --- PostgreSQL ------------------------------------------------------------------


@pytest.fixture
def postgres(transactional_db: None) -> str:
    """The test database's URL, for worker processes; PostgreSQL only.

    Workers in other processes cannot see an in-memory SQLite test database,
    so these tests run in the PostgreSQL pass (DATABASE_URL set).
    """
    if connection.vendor != "postgresql":
        pytest.skip("needs DATABASE_URL pointing at PostgreSQL (the services pass of .ci/run)")
    params = connection.settings_dict
    auth = quote(params["USER"] or "")
    if params.get("PASSWORD"):
        auth += ":" + quote(params["PASSWORD"])
    host = params.get("HOST") or "127.0.0.1"
    port = params.get("PORT") or 5432
    return f"postgres://{auth}@{host}:{port}/{params['NAME']}"


# --- Redis -------------------------------------------------------------------------


class RedisServer(Server):
    """A redis-server of our own on a free port, so it may be stopped at will."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            service_missing("needs redis-server on PATH")
        assert binary is not None
        # The queue survives a restart like a production Redis with an AOF.
        self.process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--dir",
                str(self.folder),
                "--logfile",
                str(self.folder / "redis.log"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(self.ping, timeout=10, message="redis-server did not start")

    def ping(self) -> bool:
        import redis

        try:
            return bool(redis.Redis(port=self.port, socket_connect_timeout=0.5).ping())
        except redis.RedisError:
            return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    folder = tmp_path / "redis"
    folder.mkdir()
    with RedisServer(folder) as server:
        yield server


@pytest.fixture
def broker(redis_server: RedisServer) -> Iterator[str]:
    with celery_broker(redis_server.url, {"visibility_timeout": 3600}) as url:
        yield url


# --- Celery worker processes -------------------------------------------------------


class Worker:
    """``celery -A webapp worker`` as a child process, in its own process group."""

    def __init__(self, *, name: str, env: dict[str, str], log: Path) -> None:
        self.name = name
        self.env = env
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, *, pool: str = "threads", concurrency: int = 2, beat: bool = False) -> Worker:
        command = [
            sys.executable, "-m", "celery", "-A", "webapp", "worker",
            "--pool", pool, "--concurrency", str(concurrency),
            "--hostname", f"{self.name}@%h", "--loglevel", "INFO",
            "--without-gossip", "--without-mingle",
        ]  # fmt: skip
        if beat:
            # As `serve` runs it: the recovery sweep on the worker's own beat.
            schedule = self.log.with_name(f"{self.name}-beat-schedule")
            command += ["--beat", "--schedule", str(schedule)]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                command, cwd=REPO, env=self.env, stdout=log, stderr=log, start_new_session=True
            )
        wait_until(
            lambda: " ready." in self.output() or self.process.poll() is not None,  # type: ignore[union-attr]
            timeout=60,
            message=f"worker {self.name} did not start",
        )
        assert self.process.poll() is None, self.output()
        return self

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def children(self) -> list[int]:
        assert self.process is not None
        pid = self.process.pid
        path = Path(f"/proc/{pid}/task/{pid}/children")
        return [int(child) for child in path.read_text().split()] if path.exists() else []

    def kill(self) -> None:
        """SIGKILL the whole worker: main process and pool children at once."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        # Warm shutdown, then nothing left behind whatever happened.
        self.process.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=20)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)


@pytest.fixture
def worker_env(postgres: str, broker: str, media_dir: Path, tmp_path: Path) -> dict[str, str]:
    """The environment of a worker that shares this test's database, broker and media."""
    data = tmp_path / "worker-data"
    data.mkdir()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "webapp.settings",
        "DATABASE_URL": postgres,
        "CELERY_BROKER_URL": broker,
        "SECRET_KEY": settings.SECRET_KEY,
        "DARKROOM_ENCRYPTION_KEYS": ",".join(settings.DARKROOM_ENCRYPTION_KEYS),
        "DARKROOM_DATA_DIR": str(data),
        "DARKROOM_MEDIA_ROOT": str(media_dir),
        # Quick recovery, for the sweep of a worker started with beat=True.
        "DARKROOM_HEARTBEAT_SECONDS": "0.5",
        "DARKROOM_STALE_AFTER_SECONDS": "3",
        "DARKROOM_LOST_AFTER_SECONDS": "3",
        "DARKROOM_REQUEUE_AFTER_SECONDS": "5",
        "DARKROOM_SWEEP_SECONDS": "1",
        "CI": os.environ.get("CI", ""),
    }
    return env


@pytest.fixture
def workers(worker_env: dict[str, str], tmp_path: Path) -> Iterator[Any]:
    """Start workers with ``workers(name)``; all are stopped after the test."""
    started: list[Worker] = []

    def start(name: str, **options: Any) -> Worker:
        worker = Worker(name=name, env=worker_env, log=tmp_path / f"{name}.log")
        started.append(worker)
        return worker.start(**options)

    try:
        yield start
    finally:
        for worker in started:
            worker.stop()
            # Shown by pytest when the test failed.
            print(f"--- worker {worker.name} ---\n{worker.output()[-20000:]}")


# --- A fake image API that counts calls ----------------------------------------------

# The smallest result that passes every check on a result image.
TINY_PNG_B64 = base64.b64encode(image_bytes(8, 8, colour=(10, 20, 30))).decode()


class CountingImageAPI(FakeProvider):
    """A minimal OpenAI-style images API (``/v1/images/generations``).

    Counts calls per prompt; ``hold()`` keeps calls in flight until
    ``release()``, so a test can kill a worker in the middle of one.
    """

    def __init__(self) -> None:
        super().__init__()
        self.released = threading.Event()
        self.released.set()
        self.delay = 0.0
        # Calls being answered now, and the most at once so far.
        self.in_flight = 0
        self.most_in_flight = 0

    def hold(self) -> None:
        self.released.clear()

    def release(self) -> None:
        self.released.set()

    def handle(self, request: RecordedRequest) -> Reply:
        import json

        if request.method == "GET" and request.path == "/v1/models":
            body = {"object": "list", "data": [{"id": "gpt-image-1", "object": "model"}]}
            return Reply(body=json.dumps(body).encode(), headers=_JSON)
        if request.method == "POST" and request.path == "/v1/images/generations":
            with self.lock:
                self.in_flight += 1
                self.most_in_flight = max(self.most_in_flight, self.in_flight)
            try:
                self.released.wait(timeout=120)
                if self.delay:
                    time.sleep(self.delay)
            finally:
                with self.lock:
                    self.in_flight -= 1
            body = {
                "created": 1,
                "data": [{"b64_json": TINY_PNG_B64}],
                "usage": {"input_tokens": 5, "output_tokens": 10, "total_tokens": 15},
            }
            return Reply(body=json.dumps(body).encode(), headers=_JSON)
        return Reply(status=404, body=b'{"error": {"message": "not found"}}', headers=_JSON)

    def prompts(self) -> Counter[str]:
        import json

        return Counter(
            json.loads(call.body)["prompt"] for call in self.calls("/v1/images/generations")
        )


_JSON = {"Content-Type": "application/json"}


@pytest.fixture
def image_api() -> Iterator[CountingImageAPI]:
    fake = CountingImageAPI()
    with fake.running():
        try:
            yield fake
        finally:
            fake.release()


@pytest.fixture
def paid_model(image_api: CountingImageAPI, transactional_db: None) -> Any:
    """An ``openai`` provider at the fake API, with its gpt-image-1 model."""
    from editor import catalog

    provider = catalog.provider_create(
        name="paid",
        kind="openai",
        base_url=image_api.base_url + "/v1",
        api_key="sk-test-key",
        model_ids=["gpt-image-1"],
    )
    return provider.models.get(model_id="gpt-image-1")


# --- S3 (moto's standalone server) ----------------------------------------------------


@pytest.fixture
def moto_s3(tmp_path: Path) -> Iterator[MotoS3]:
    with MotoS3(tmp_path) as server:
        yield server


@pytest.fixture
def s3_media(moto_s3: MotoS3, settings: Any) -> Any:
    """This test's media in a private bucket on moto, configured as in production."""
    moto_s3.client().create_bucket(Bucket="darkroom-test")
    settings.DARKROOM_STORAGE = "s3"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "webapp.object_storage.S3Storage",
            "OPTIONS": {
                "bucket_name": "darkroom-test",
                "endpoint_url": moto_s3.endpoint,
                "region_name": "us-east-1",
                "access_key": "testing",
                "secret_key": "testing",
                "default_acl": "private",
                "file_overwrite": False,
                "querystring_auth": True,
                "querystring_expire": 300,
                "signature_version": "s3v4",
            },
        },
    }
    return moto_s3
