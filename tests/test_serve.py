"""`manage.py serve` on a fresh data dir, used over real HTTP like a new user would."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.images import image_bytes, open_bytes
from tests.services import free_port

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


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[str], Path]]:
    port = free_port()
    data_dir = tmp_path / "data"
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DATABASE_URL", "CELERY_", "DARKROOM_", "DJANGO_SETTINGS"))
    }
    env["DARKROOM_DATA_DIR"] = str(data_dir)
    process = subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "serve",
            "--port",
            str(port),
            "--concurrency",
            "2",
            "--web-workers",
            "1",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{url}/accounts/login/", timeout=1)
            break
        except httpx.HTTPError:
            if process.poll() is not None:
                raise AssertionError(
                    process.stdout.read() if process.stdout else "exited"
                ) from None
            time.sleep(0.2)
    try:
        yield url, process, data_dir
    finally:
        if process.poll() is None:
            process.kill()
        for pid in processes_using(data_dir):
            os.kill(pid, signal.SIGKILL)


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
    server: tuple[str, subprocess.Popen[str], Path],
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
