"""Benchmark the image API's own overhead on the production setup.

    uv run python bench/api.py [--requests 20] [--latency 1.0] [--result-side 1024]
        [--database-url postgres://postgres@127.0.0.1:5432/darkroom_bench_api]
        [--broker-url redis://127.0.0.1:6379/6]

Starts a fake OpenAI provider that answers after ``--latency`` seconds with a
``--result-side``² PNG (noise, so it does not compress away), then Darkroom as
the README's Production section runs it: gunicorn (webapp/gunicorn.conf.py)
and a Celery thread-pool worker, on PostgreSQL and Redis, in a data folder of
its own. The same openai SDK call, ``images.generate``, is then timed
alternately against the fake directly and through Darkroom's /v1/ (token,
job row, queue, worker, provider call, answer saved, result decoded,
checked and stored, the waiting request answering with the image), and the ratio of
the medians is printed. The database must be empty or the bench's own (it
refuses one with other accounts); it is created if missing.
"""

from __future__ import annotations

import argparse
import io
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=20, help="Timed calls each way.")
    parser.add_argument("--latency", type=float, default=1.0, help="Provider seconds per call.")
    parser.add_argument("--result-side", type=int, default=1024, help="Result image side.")
    parser.add_argument(
        "--database-url", default="postgres://postgres@127.0.0.1:5432/darkroom_bench_api"
    )
    parser.add_argument("--broker-url", default="redis://127.0.0.1:6379/6")
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="darkroom-bench-api-"))
    create_database(args.database_url)
    env = {
        **os.environ,
        "DARKROOM_DATA_DIR": str(data_dir),
        "DATABASE_URL": args.database_url,
        "DATABASE_CONN_MAX_AGE": "60",
        # As "Production" asks: without a pool, each job's worker reconnects
        # after every stage it gives its connection back at.
        "DATABASE_POOL_MAX_SIZE": "10",
        "CELERY_BROKER_URL": args.broker_url,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DJANGO_SETTINGS_MODULE": "webapp.settings",
        "SECRET_KEY": "bench-" + "x" * 50,
        "LOG_LEVEL": "WARNING",
    }
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    run(args, env, data_dir)


def create_database(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as connection:
        exists = connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [name]
        ).fetchone()
        if not exists:
            connection.execute(f'CREATE DATABASE "{name}"')


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def run(args: argparse.Namespace, env: dict[str, str], data_dir: Path) -> None:
    import openai
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from PIL import Image

    from editor import catalog
    from editor.api import tokens
    from editor.models import Provider
    from tests.fakes.common import API_KEY, b64, json_reply
    from tests.fakes.openai import OpenAIFake
    from tests.fakes.server import RecordedRequest, Reply

    call_command("migrate", verbosity=0)
    if User.objects.exclude(username="bench").exists():
        raise SystemExit("This database has other accounts; give the bench a database of its own.")
    user, _ = User.objects.get_or_create(username="bench")
    buffer = io.BytesIO()
    side = args.result_side
    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(buffer, format="PNG")
    result = b64(buffer.getvalue())

    class SlowFake(OpenAIFake):
        """The strict fake's checks, then the latency, then a real-sized image."""

        def serve(self, request: RecordedRequest) -> Reply:
            reply: Reply = super().serve(request)
            if request.method == "POST":
                time.sleep(args.latency)
                return json_reply({"created": 1, "data": [{"b64_json": result}]})
            return reply

    fake = SlowFake()
    processes: list[subprocess.Popen[bytes]] = []
    with fake.running():
        Provider.objects.filter(name="bench-openai").delete()
        catalog.provider_create(
            name="bench-openai",
            kind="openai",
            base_url=fake.base_url + "/v1",
            api_key=API_KEY,
            model_ids=["gpt-image-1"],
        )
        secret = tokens.token_create(user=user, name="bench").secret
        port = free_port()
        web_env = {**env, "PORT": str(port), "HOST": "127.0.0.1", "WEB_CONCURRENCY": "2"}
        try:
            processes.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "gunicorn",
                        "-c",
                        "webapp/gunicorn.conf.py",
                        "webapp.wsgi",
                    ],
                    cwd=ROOT,
                    env=web_env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
            processes.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "celery",
                        "-A",
                        "webapp",
                        "worker",
                        "--pool",
                        "threads",
                        "--concurrency",
                        "4",
                        "--loglevel",
                        "WARNING",
                    ],
                    cwd=ROOT,
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
            darkroom = openai.OpenAI(
                base_url=f"http://127.0.0.1:{port}/v1", api_key=secret, max_retries=0, timeout=120
            )
            direct = openai.OpenAI(
                base_url=fake.base_url + "/v1", api_key=API_KEY, max_retries=0, timeout=120
            )
            wait_until_ready(darkroom)
            measure(args, darkroom=darkroom, direct=direct, data_dir=data_dir)
        finally:
            for process in processes:
                process.send_signal(signal.SIGTERM)
            for process in processes:
                try:
                    process.wait(30)
                except subprocess.TimeoutExpired:
                    process.kill()


def wait_until_ready(client: Any) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            client.models.list()
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def measure(args: argparse.Namespace, *, darkroom: Any, direct: Any, data_dir: Path) -> None:
    spans: list[tuple[float, float]] = []

    def call(client: Any, model: str) -> float:
        start = time.perf_counter()
        started_at = time.time()
        answer = client.images.generate(model=model, prompt="a lighthouse at dusk")
        elapsed = time.perf_counter() - start
        assert answer.data and answer.data[0].b64_json
        if client is darkroom:
            spans.append((started_at, time.time()))
        return elapsed

    # Warm-up: connections, imports, the worker's first job.
    for _ in range(2):
        call(direct, "gpt-image-1")
        call(darkroom, "bench-openai/gpt-image-1")
    spans.clear()
    timings: dict[str, list[float]] = {"direct": [], "darkroom": []}
    load_before = os.getloadavg()[0]
    for _ in range(args.requests):
        # Alternating, so load from other processes falls on both alike.
        timings["direct"].append(call(direct, "gpt-image-1"))
        timings["darkroom"].append(call(darkroom, "bench-openai/gpt-image-1"))
    load_after = os.getloadavg()[0]
    print(
        f"{args.requests} calls each way, provider latency {args.latency:.1f} s, "
        f"{args.result_side}² PNG result; data in {data_dir}"
    )
    for label, values in timings.items():
        ordered = sorted(values)
        p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
        print(
            f"  {label:9} median {statistics.median(values) * 1000:7.1f} ms   "
            f"p95 {p95 * 1000:7.1f} ms   min {ordered[0] * 1000:7.1f} ms"
        )
    ratio = statistics.median(timings["darkroom"]) / statistics.median(timings["direct"])
    overhead = statistics.median(timings["darkroom"]) - statistics.median(timings["direct"])
    print(f"Ratio of medians (Darkroom / direct): {ratio:.3f} (+{overhead * 1000:.0f} ms)")
    print(f"Load average: {load_before:.2f} before, {load_after:.2f} after")
    print_phases(spans)


def print_phases(spans: list[tuple[float, float]]) -> None:
    """Where a call through Darkroom spends its time, from the jobs' own timestamps.

    The web server and the worker run on this machine, so the jobs' times
    and the client's clock agree.
    """
    from editor.models import Job

    jobs = list(
        Job.objects.order_by("-created").values(
            "created", "started", "sent", "answered", "finished"
        )[: len(spans)]
    )
    jobs.reverse()
    phases: dict[str, list[float]] = {}
    for (begun, ended), job in zip(spans, jobs, strict=True):
        marks = [
            ("request -> job row", begun, job["created"].timestamp()),
            ("queued -> claimed", job["created"].timestamp(), job["started"].timestamp()),
            ("claimed -> sent", job["started"].timestamp(), job["sent"].timestamp()),
            ("sent -> answer saved", job["sent"].timestamp(), job["answered"].timestamp()),
            ("answer -> result stored", job["answered"].timestamp(), job["finished"].timestamp()),
            ("stored -> answer received", job["finished"].timestamp(), ended),
        ]
        for label, start, end in marks:
            phases.setdefault(label, []).append((end - start) * 1000)
    print("Through Darkroom, median of each phase (the jobs' timestamps):")
    for label, values in phases.items():
        print(f"  {label:26} {statistics.median(values):7.1f} ms")


if __name__ == "__main__":
    main()
