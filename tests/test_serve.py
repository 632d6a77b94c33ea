"""`manage.py serve` on a fresh data dir, used over real HTTP like a new user would."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from editor.management.commands.serve import RAN_WELL_SECONDS, Child
from tests.fakes.server import FakeProvider, RecordedRequest, Reply
from tests.images import image_bytes, open_bytes
from tests.services import free_port, wait_until

pytestmark = pytest.mark.worker

ROOT = Path(__file__).resolve().parent.parent


def processes_using(data_dir: Path) -> list[int]:
    """Pids whose environment points at this data dir (the server and its children)."""
    marker = f"DARKROOM_DATA_DIR={data_dir}".encode()
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if marker in (entry / "environ").read_bytes().split(b"\0"):
                pids.append(int(entry.name))
        except OSError:
            continue
    return pids


class Serve:
    """``manage.py serve`` on a fresh data dir, its output in a log file."""

    def __init__(self, tmp_path: Path, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.data_dir = tmp_path / "data"
        self.log = tmp_path / "serve.log"
        self.env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(
                ("DATABASE_URL", "CELERY_", "DARKROOM_", "DJANGO_SETTINGS", "OPENAI_")
            )
        }
        self.env.update(DARKROOM_DATA_DIR=str(self.data_dir), PYTHONUNBUFFERED="1", **env)
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Serve:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable, "manage.py", "serve",
                    "--port", str(self.port), "--concurrency", "2", "--web-workers", "1",
                ],
                cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{self.url}/accounts/login/", timeout=1)
                return self
            except httpx.HTTPError:
                if self.process.poll() is not None:
                    raise AssertionError(self.output()) from None
                time.sleep(0.2)
        raise AssertionError(f"serve did not answer within 60 s:\n{self.output()}")

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def child(self, word: str) -> int:
        """The pid of serve's child whose command line has ``word``."""
        assert self.process is not None
        pid = self.process.pid
        for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
            if word.encode() in Path(f"/proc/{child}/cmdline").read_bytes():
                return int(child)
        raise AssertionError(f"serve has no {word} child")

    def processes(self, word: str) -> list[int]:
        """Live processes of this data dir whose command line has ``word``."""
        found = []
        for pid in processes_using(self.data_dir):
            try:
                if word.encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                    found.append(pid)
            except OSError:
                continue
        return found

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
        for pid in processes_using(self.data_dir):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


@pytest.fixture
def start_serve(tmp_path: Path) -> Iterator[Callable[..., Serve]]:
    started: list[Serve] = []

    def start(**env: str) -> Serve:
        serve = Serve(tmp_path, **env)
        started.append(serve)
        return serve.start()

    try:
        yield start
    finally:
        for serve in started:
            serve.stop()
            # Shown by pytest when the test failed.
            print(f"--- serve ---\n{serve.output()[-20000:]}")


@pytest.fixture
def server(start_serve: Callable[..., Serve]) -> tuple[str, subprocess.Popen[bytes], Path]:
    serve = start_serve()
    assert serve.process is not None
    return serve.url, serve.process, serve.data_dir


def sign_up(url: str, username: str) -> httpx.Client:
    client = httpx.Client(base_url=url, timeout=10)
    page = client.get("/accounts/signup/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    assert token
    response = client.post(
        "/accounts/signup/",
        data={
            "csrfmiddlewaretoken": token.group(1),
            "username": username,
            "password1": "a long passphrase 42",
            "password2": "a long passphrase 42",
        },
    )
    assert response.status_code == 302, response.text
    return client


def test_serve_runs_an_edit_end_to_end_and_stops_cleanly(
    server: tuple[str, subprocess.Popen[bytes], Path],
) -> None:
    url, process, data_dir = server
    alice = sign_up(url, "alice")
    editor = alice.get("/")
    assert "Offline demo (no AI)" in editor.text
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', editor.text)
    model = re.search(r'<option value="(\d+)"[^>]*>Offline demo', editor.text)
    assert token and model
    response = alice.post(
        "/",
        data={
            "csrfmiddlewaretoken": token.group(1),
            "prompt": "make it black and white",
            "image_model": model.group(1),
        },
        files={"images": ("photo.png", image_bytes(colour=(30, 160, 220)), "image/png")},
        headers={"Referer": url + "/"},
    )
    assert response.status_code == 302, response.text
    job_url = response.headers["Location"]

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        job = alice.get(job_url, headers={"Accept": "application/json"}).json()
        if job["status"] in ("succeeded", "failed", "canceled"):
            break
        time.sleep(0.2)
    assert job["status"] == "succeeded", job
    result_url = job["results"][0]["url"]
    r, g, b = open_bytes(alice.get(result_url).content).convert("RGB").getpixel((1, 1))
    assert r == g == b
    assert job_url in alice.get("/history/").text

    bob = sign_up(url, "bob")
    assert bob.get(job_url).status_code == 404
    assert bob.get(result_url).status_code == 404

    assert (data_dir / "db.sqlite3").exists()
    assert any((data_dir / "media").rglob("*.png"))
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0
    assert processes_using(data_dir) == []
    with pytest.raises(httpx.ConnectError):
        httpx.get(url, timeout=1)


def submit_edit(client: httpx.Client, url: str, *, model: str, prompt: str) -> str:
    """Post an edit of a small image with the model labelled ``model``; its job's URL."""
    editor = client.get("/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', editor.text)
    option = re.search(rf'<option value="(\d+)"[^>]*>[^<]*{re.escape(model)}', editor.text)
    assert token and option, editor.text
    response = client.post(
        "/",
        data={
            "csrfmiddlewaretoken": token.group(1),
            "prompt": prompt,
            "image_model": option.group(1),
        },
        files={"images": ("photo.png", image_bytes(colour=(30, 160, 220)), "image/png")},
        headers={"Referer": url + "/"},
    )
    assert response.status_code == 302, response.text
    return str(response.headers["Location"])


def final_job(client: httpx.Client, job_url: str, *, timeout: float = 60) -> dict[str, Any]:
    job: dict[str, Any] = {}

    def final() -> bool:
        nonlocal job
        job = client.get(job_url, headers={"Accept": "application/json"}).json()
        return job["status"] in ("succeeded", "failed", "canceled")

    wait_until(final, timeout=timeout, interval=0.2, message=f"job still {job.get('status')}")
    return job


class HoldingImageAPI(FakeProvider):
    """An image API whose calls hang until ``released``: a paid call in flight."""

    def __init__(self) -> None:
        super().__init__()
        self.released = threading.Event()

    def handle(self, request: RecordedRequest) -> Reply:
        if request.method == "POST":
            self.released.wait(timeout=120)
        return Reply(status=503, body=b'{"error": {"message": "gone"}}')


class Poller:
    """Asks the web server for a page every 0.1 s, recording when and what it answered."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.answers: list[tuple[float, int | str]] = []
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.run)

    def run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=5) as client:
            while not self.done.wait(0.1):
                try:
                    status: int | str = client.get("/accounts/login/").status_code
                except httpx.HTTPError as error:
                    status = type(error).__name__
                self.answers.append((time.monotonic(), status))

    def __enter__(self) -> Poller:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.done.set()
        self.thread.join()

    def between(self, start: float, end: float) -> list[int | str]:
        return [status for at, status in self.answers if start <= at <= end]


def test_serve_starts_a_killed_worker_again_while_the_web_server_keeps_answering(
    start_serve: Callable[..., Serve],
) -> None:
    api = HoldingImageAPI()
    with api.running():
        try:
            serve = start_serve(
                OPENAI_API_KEY="sk-test-key",
                OPENAI_BASE_URL=api.base_url + "/v1",
                # Quick recovery, so the new worker's sweep settles the job in seconds.
                DARKROOM_HEARTBEAT_SECONDS="0.5",
                DARKROOM_STALE_AFTER_SECONDS="2",
                DARKROOM_SWEEP_SECONDS="1",
            )
            alice = sign_up(serve.url, "alice")
            in_flight = submit_edit(alice, serve.url, model="GPT Image 1", prompt="a paid edit")
            wait_until(
                lambda: api.calls("/v1/images/edits"), timeout=60, message="no call in flight"
            )
            worker = serve.child("celery")
            wait_until(
                lambda: len(serve.processes("celery")) == 2,
                timeout=30,
                message="the worker's beat did not start",
            )
            (beat,) = set(serve.processes("celery")) - {worker}
            with Poller(serve.url) as poller:
                killed = time.monotonic()
                os.kill(worker, signal.SIGKILL)
                wait_until(
                    lambda: "Started the worker again" in serve.output(),
                    timeout=30,
                    message="serve did not start the worker again",
                )
                # The new worker's sweep: the call may have been charged, so
                # the job fails with that said, and is not sent again.
                job = final_job(alice, in_flight)
                settled = time.monotonic()
            assert job["status"] == "failed"
            assert job["error"]["code"] == "interrupted_after_sending"
            assert len(api.calls("/v1/images/edits")) == 1
        finally:
            api.released.set()

    assert "The worker exited with status -9" in serve.output()
    assert serve.child("celery") != worker
    meanwhile = poller.between(killed, settled)
    assert len(meanwhile) >= 5 and set(meanwhile) == {200}, meanwhile
    # The dead worker's beat went with it: one beat runs the sweep, not two.
    wait_until(lambda: beat not in serve.processes("celery"), timeout=10, message="beat left")
    assert len(serve.processes("celery")) == 2
    # The new worker runs new jobs.
    job = final_job(alice, submit_edit(alice, serve.url, model="Offline demo", prompt="invert"))
    assert job["status"] == "succeeded"

    assert serve.process is not None
    serve.process.send_signal(signal.SIGTERM)
    assert serve.process.wait(timeout=30) == 0
    assert processes_using(serve.data_dir) == []


def test_serve_starts_a_killed_web_server_again(start_serve: Callable[..., Serve]) -> None:
    serve = start_serve()
    web = serve.child("gunicorn")
    os.kill(web, signal.SIGKILL)
    wait_until(
        lambda: "Started the web server again" in serve.output(),
        timeout=30,
        message="serve did not start the web server again",
    )
    assert "The web server exited with status -9" in serve.output()
    wait_until(
        lambda: serve.child("gunicorn") != web and answers(serve.url + "/healthz"),
        timeout=60,
        message="the new web server does not answer",
    )
    assert "The worker exited" not in serve.output()
    assert serve.process is not None
    serve.process.send_signal(signal.SIGTERM)
    assert serve.process.wait(timeout=30) == 0
    assert processes_using(serve.data_dir) == []


def answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def test_the_embedded_worker_sets_a_truncated_message_aside_and_keeps_running(
    start_serve: Callable[..., Serve],
) -> None:
    serve = start_serve()
    messages = serve.data_dir / "queue" / "messages"
    truncated = messages / f"1_{uuid.uuid4()}.darkroom.msg"
    half = messages.parent / "half"
    half.write_bytes(b'{"body": "eyJh", "content-encoding": "utf-8", "propert')
    os.replace(half, truncated)
    wait_until(
        lambda: (serve.data_dir / "queue" / "rejected" / truncated.name).exists(),
        timeout=60,
        message="the truncated message was not set aside",
    )
    assert f"Set aside the unreadable queue message {truncated.name}" in serve.output()
    alice = sign_up(serve.url, "alice")
    job = final_job(alice, submit_edit(alice, serve.url, model="Offline demo", prompt="invert"))
    assert job["status"] == "succeeded"
    assert "The worker exited" not in serve.output()


def test_a_child_that_keeps_exiting_is_started_again_less_and_less_often() -> None:
    child = Child("worker", [sys.executable, "-c", "raise SystemExit(3)"])
    delays = []
    for _ in range(8):
        child.start()
        assert child.process is not None
        child.process.wait()
        assert child.exited() == 3
        delays.append(round(child.restart_at - time.monotonic()))
    assert delays == [1, 2, 4, 8, 16, 32, 60, 60]
    # After a good run, the next start comes soon again.
    child.start()
    assert child.process is not None
    child.process.wait()
    child.started -= RAN_WELL_SECONDS
    assert child.exited() == 3
    assert round(child.restart_at - time.monotonic()) == 1


def test_the_worker_keeps_its_loaded_code_out_of_the_collectors_full_passes(
    start_serve: Callable[..., Serve],
) -> None:
    serve = start_serve()
    frozen = re.compile(r"Worker ready: (\d+) loaded objects kept out of the collector")
    wait_until(
        lambda: frozen.search(serve.output()),
        timeout=60,
        message="the worker said nothing of its loaded objects",
    )
    found = frozen.search(serve.output())
    assert found is not None
    # Django, the apps, Celery and the jobs' code: tens of thousands of objects.
    assert int(found.group(1)) > 50_000
