"""Benchmark the job pipeline against the project's own fake provider.

    uv run python bench/pipeline.py [--database-url URL] [--broker-url URL]
                                    [--only e2e,inflight,watch,upload] [--jobs 500]
                                    [--latency 10] [--watchers 50,500]

Runs, side by side in one run, each figure with its floor and the ratio:

* e2e: end-to-end time of a job (created -> result stored) against the direct
  HTTP call it makes, at 1 s provider latency with a 1024x1024 PNG result;
* inflight: ``--jobs`` jobs at ``--latency`` seconds each on one worker
  process (``--pool threads`` and ``gevent``, concurrency = jobs): the most
  calls in flight at once and jobs per second, against a bare Celery + httpx
  worker doing the same calls on the same broker;
* watch: for 50 and 500 open job pages, how long a change takes to reach them
  (server-sent events through gunicorn with gevent workers) and the server's
  answer time for an idle status poll (304) under that load;
* upload: an edit of 16 12-megapixel JPEGs posted to the editor on gunicorn
  (the production configuration, one process): the time until it is
  accepted and the web process's peak memory, against the floor of
  receiving the same request and decoding the 16 photos.

By default everything is embedded (SQLite and the filesystem queue in a new
temporary folder); --database-url (an empty PostgreSQL database made for it)
and --broker-url (Redis) run it on production services. The machine's load
average is printed: other work on the machine skews every figure.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default="", help="Default: SQLite in a temp folder.")
    parser.add_argument("--broker-url", default="", help="Default: the filesystem queue.")
    parser.add_argument("--only", default="e2e,inflight,watch,upload")
    parser.add_argument("--jobs", type=int, default=500)
    parser.add_argument("--latency", type=float, default=10.0)
    parser.add_argument("--pools", default="threads,gevent")
    parser.add_argument("--watchers", default="50,500")
    parser.add_argument("--e2e-jobs", type=int, default=8)
    parser.add_argument("--photos", type=int, default=16, help="12 MP JPEGs in the upload.")
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="darkroom-bench-pipeline-"))
    env = {
        "DARKROOM_DATA_DIR": str(data_dir),
        "DARKROOM_MEDIA_ROOT": str(data_dir / "media"),
        "DATABASE_URL": args.database_url or f"sqlite:///{data_dir / 'bench.sqlite3'}",
        "CELERY_BROKER_URL": args.broker_url or "filesystem://",
        "DJANGO_SETTINGS_MODULE": "webapp.settings",
        "ALLOWED_HOSTS": "testserver,localhost,127.0.0.1",
        "SECRET_KEY": "bench-" + "x" * 50,
        "LOG_LEVEL": "WARNING",
    }
    if args.database_url:
        env["DATABASE_POOL_MAX_SIZE"] = "20"
    if args.broker_url:
        # Production's Redis roles: push, and sessions and users from a cache.
        env["DARKROOM_EVENTS_URL"] = args.broker_url
        env["DARKROOM_PAGE_EVENTS"] = "true"
        env["CACHE_URL"] = args.broker_url
    os.environ.update(env)
    os.environ["BENCH_BARE_BROKER"] = env["CELERY_BROKER_URL"]
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    load = os.getloadavg()
    print(
        f"# Darkroom pipeline bench: {env['DATABASE_URL'].split(':')[0]}, "
        f"{env['CELERY_BROKER_URL'].split(':')[0]}; load average {load[0]:.1f} {load[1]:.1f}"
    )
    only = set(args.only.split(","))
    if "e2e" in only:
        bench_end_to_end(env, jobs=args.e2e_jobs)
    if "inflight" in only:
        bench_in_flight(env, jobs=args.jobs, latency=args.latency, pools=args.pools.split(","))
    if "watch" in only:
        bench_idle_poll()
        for count in (int(n) for n in args.watchers.split(",")):
            bench_watchers(env, watchers=count)
    if "upload" in only:
        bench_upload(env, photos=args.photos)
    load = os.getloadavg()
    print(f"# load average at the end {load[0]:.1f} {load[1]:.1f}")


# --- The fake provider ----------------------------------------------------------


def png_of_size(side: int) -> bytes:
    from PIL import Image

    image = Image.effect_noise((side, side), 64).convert("RGB")
    out = io.BytesIO()
    image.save(out, "PNG", compress_level=1)
    return out.getvalue()


def make_fake(*, latency: float, result: bytes) -> Any:
    from tests.fakes.server import FakeProvider, RecordedRequest, Reply

    body = json.dumps(
        {"created": 1, "data": [{"b64_json": base64.b64encode(result).decode()}]}
    ).encode()

    class SlowImageAPI(FakeProvider):
        def __init__(self) -> None:
            super().__init__()
            self.in_flight = 0
            self.most_in_flight = 0
            self.answered: list[float] = []

        def handle(self, request: RecordedRequest) -> Reply:
            if request.path.endswith("/models"):
                return Reply(body=b'{"data": [{"id": "gpt-image-1"}]}')
            with self.lock:
                self.in_flight += 1
                self.most_in_flight = max(self.most_in_flight, self.in_flight)
            try:
                time.sleep(latency)
            finally:
                with self.lock:
                    self.in_flight -= 1
                    self.answered.append(time.monotonic())
            return Reply(body=body, headers={"Content-Type": "application/json"})

    return SlowImageAPI()


def paid_model(base_url: str) -> Any:
    from editor import catalog
    from editor.models import ImageModel, Provider

    name = f"bench-{int(time.time() * 1000)}"
    Provider.objects.filter(name__startswith="bench-").update(enabled=False)
    catalog.provider_create(
        name=name, kind="openai", base_url=base_url + "/v1", api_key="sk-bench",
        model_ids=["gpt-image-1"],
    )  # fmt: skip
    return ImageModel.objects.get(provider__name=name, model_id="gpt-image-1")


def bench_user() -> Any:
    from django.contrib.auth.models import User

    user, _ = User.objects.get_or_create(username="bench", defaults={"email": "bench@example.com"})
    return user


def create_jobs(model: Any, count: int, label: str) -> list[Any]:
    from editor import services

    user = bench_user()
    return [
        services.job_create(
            user=user, image_model=model, prompt=f"{label} {index}", params={"n": 1}, images=[]
        )
        for index in range(count)
    ]


def wait_final(job_ids: list[Any], *, timeout: float) -> None:
    from editor.models import FINAL_STATUSES, Job

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not Job.objects.filter(pk__in=job_ids).exclude(status__in=FINAL_STATUSES).exists():
            return
        time.sleep(0.2)
    raise SystemExit(f"jobs still not final after {timeout:g} s")


@contextmanager
def process(
    command: list[str], env: dict[str, str], *, ready: str, log: Path, keep_pid: bool = False
) -> Iterator[Any]:
    with log.open("wb") as out:
        child = subprocess.Popen(
            command, cwd=ROOT, env={**os.environ, **env}, stdout=out, stderr=out,
            start_new_session=True,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while ready not in log.read_text(errors="replace"):
            if child.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"{command[:4]} did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.1)
        yield child.pid if keep_pid else None
    finally:
        os.killpg(child.pid, signal.SIGTERM)
        try:
            child.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()


def worker(env: dict[str, str], *, pool: str, concurrency: int, app: str = "webapp") -> Any:
    command = [
        sys.executable, "-m", "celery", "-A", app, "worker", "--pool", pool,
        "--concurrency", str(concurrency), "--loglevel", "INFO",
        "--without-gossip", "--without-mingle", "--without-heartbeat",
    ]  # fmt: skip
    log = Path(env["DARKROOM_DATA_DIR"]) / f"worker-{app}-{pool}.log"
    return process(command, env, ready=" ready.", log=log)


def ratio_line(name: str, value: float, floor: float, unit: str, *, higher: bool = False) -> None:
    ratio = (value / floor) if floor else float("nan")
    kind = "of the anchor" if higher else "× the floor"
    print(f"{name:<58} {value:9.3f} {unit:<6} floor {floor:9.3f}  ratio {ratio:5.2f} {kind}")


# --- End to end vs the direct call ----------------------------------------------


def bench_end_to_end(env: dict[str, str], *, jobs: int) -> None:
    import httpx

    from editor.models import Job

    fake = make_fake(latency=1.0, result=png_of_size(1024))
    with fake.running(), worker(env, pool="threads", concurrency=4):
        model = paid_model(fake.base_url)
        direct = []
        for _ in range(jobs):
            started = time.monotonic()
            httpx.post(fake.base_url + "/v1/images/generations", json={"prompt": "x"}, timeout=30)
            direct.append(time.monotonic() - started)
        whole = []
        for index in range(jobs):
            started = time.monotonic()
            (job,) = create_jobs(model, 1, f"e2e {index}")
            while Job.objects.filter(pk=job.pk, status="succeeded").count() == 0:
                if Job.objects.filter(pk=job.pk, status="failed").exists():
                    raise SystemExit(f"job failed: {Job.objects.get(pk=job.pk).error_message}")
                time.sleep(0.005)
            whole.append(time.monotonic() - started)
    print(f"## End to end, 1 s provider, 1024² PNG result, {jobs} jobs one after another")
    ratio_line("direct call (median s)", statistics.median(direct), 1.0, "s")
    ratio_line("job created -> result stored (median s)", statistics.median(whole),
               statistics.median(direct), "s")  # fmt: skip


# --- Calls in flight on one worker ----------------------------------------------


def bench_in_flight(env: dict[str, str], *, jobs: int, latency: float, pools: list[str]) -> None:
    from django.db.models import Max, Min
    from django.utils import timezone

    from editor.models import Job

    print(f"## {jobs} jobs, {latency:g} s provider, one worker process, concurrency {jobs}")
    print(f"floor: all in flight at once, {jobs / latency:.1f} jobs/s")
    for pool in pools:
        fake = make_fake(latency=latency, result=png_of_size(64))
        with fake.running():
            model = paid_model(fake.base_url)
            # Queued first, so the figure is the worker's, not how fast jobs are made.
            created = create_jobs(model, jobs, f"inflight {pool}")
            with worker(env, pool=pool, concurrency=jobs):
                ready = timezone.now()
                wait_final([job.pk for job in created], timeout=latency * 10 + 120)
            window = Job.objects.filter(pk__in=[job.pk for job in created]).aggregate(
                first=Min("started"), last=Max("finished")
            )
            seconds = (window["last"] - ready).total_seconds()
            failed = Job.objects.filter(pk__in=[job.pk for job in created]).exclude(
                status="succeeded"
            )
            print(f"darkroom --pool {pool}: most in flight {fake.most_in_flight}, "
                  f"{jobs / seconds:.1f} jobs/s ({seconds:.1f} s from the worker's start to "
                  f"the last result), not succeeded {failed.count()}")  # fmt: skip
        bare = make_fake(latency=latency, result=png_of_size(64))
        with bare.running():
            from bench.bare_worker import app as bare_app
            from bench.bare_worker import call

            for _ in range(jobs):
                call.delay(bare.base_url + "/v1/images/generations")
            with worker(env, pool=pool, concurrency=jobs, app="bench.bare_worker"):
                started = time.monotonic()
                deadline = time.monotonic() + latency * 10 + 120
                while len(bare.answered) < jobs and time.monotonic() < deadline:
                    time.sleep(0.2)
                seconds = max(bare.answered) - started if bare.answered else float("nan")
                bare_app.close()
            print(f"bare celery + httpx --pool {pool}: most in flight {bare.most_in_flight}, "
                  f"{len(bare.answered) / seconds:.1f} jobs/s ({seconds:.1f} s)")  # fmt: skip


# --- Open job pages -------------------------------------------------------------


def bench_idle_poll(repeat: int = 300) -> None:
    """Server time and queries of one idle status poll (304), in-process."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    fake = make_fake(latency=0.1, result=png_of_size(8))
    with fake.running():
        model = paid_model(fake.base_url)
    (job,) = create_jobs(model, 1, "polled")
    client = Client()
    client.force_login(bench_user())
    etag = client.get(f"/jobs/{job.pk}/status/")["ETag"]
    client.get(f"/jobs/{job.pk}/status/", HTTP_IF_NONE_MATCH=etag)
    # As gunicorn's workers do (webapp/gunicorn.conf.py): what is loaded by
    # now stays out of the collector's full passes.
    from webapp.memory import freeze_loaded_objects

    freeze_loaded_objects()
    times = []
    with CaptureQueriesContext(connection) as queries:
        for _ in range(repeat):
            started = time.perf_counter()
            answer = client.get(f"/jobs/{job.pk}/status/", HTTP_IF_NONE_MATCH=etag)
            times.append(time.perf_counter() - started)
            assert answer.status_code == 304, answer.status_code
    times.sort()
    print(f"## Idle status poll, in-process (Django test client), {repeat} polls")
    print(f"server time p50 {statistics.median(times) * 1000:.2f} ms, p95 "
          f"{times[int(repeat * 0.95) - 1] * 1000:.2f} ms (goal ≤ 5 ms); "
          f"{len(queries) / repeat:.1f} queries per poll (goal ≤ 2)")  # fmt: skip


def bench_watchers(env: dict[str, str], *, watchers: int) -> None:
    import httpx

    from editor import events
    from editor.models import Job
    from tests.services import free_port

    cookies = session_cookies()
    fake = make_fake(latency=0.1, result=png_of_size(8))
    with fake.running():
        model = paid_model(fake.base_url)
    # Queued jobs nobody runs: the bench changes them itself.
    jobs = create_jobs(model, watchers, f"watched {watchers}")
    port = free_port()
    web_env = {**env, "WEB_WORKER_CLASS": "gevent", "WEB_CONCURRENCY": "2", "PORT": str(port),
               "HOST": "127.0.0.1"}  # fmt: skip
    command = [sys.executable, "-m", "gunicorn", "-c", "webapp/gunicorn.conf.py", "webapp.wsgi"]
    log = Path(env["DARKROOM_DATA_DIR"]) / f"web-{watchers}.log"
    base = f"http://127.0.0.1:{port}"
    with process(command, web_env, ready="Booting worker", log=log):
        # Both web processes answer (each loads Django on its first request).
        deadline = time.monotonic() + 120
        answered = 0
        while answered < 20 and time.monotonic() < deadline:
            try:
                httpx.get(base + "/healthz", timeout=10)
                answered += 1
            except httpx.HTTPError:
                time.sleep(0.2)
        polls: list[float] = []
        poll_statuses: list[int] = []

        # Idle polls under load: watchers poll once a second with their ETag.
        def poller(job: Any, stop: threading.Event) -> None:
            try:
                poll_until(job, stop)
            except Exception as error:
                print("poller failed:", repr(error))

        def poll_until(job: Any, stop: threading.Event) -> None:
            with httpx.Client(base_url=base, cookies=cookies, timeout=30) as client:
                etag = client.get(f"/jobs/{job.pk}/status/").headers.get("ETag", "")
                while not stop.is_set():
                    started = time.monotonic()
                    answer = client.get(f"/jobs/{job.pk}/status/",
                                        headers={"If-None-Match": etag})  # fmt: skip
                    polls.append(time.monotonic() - started)
                    poll_statuses.append(answer.status_code)
                    stop.wait(1.0)

        stop = threading.Event()
        threads = [threading.Thread(target=poller, args=(job, stop)) for job in jobs]
        for thread in threads:
            thread.start()
        time.sleep(8)
        stop.set()
        for thread in threads:
            thread.join()
        seen: dict[Any, float] = {}
        changed: dict[Any, float] = {}
        if not events.enabled():
            jobs = []
        opened = threading.Barrier(len(jobs) + 1, timeout=120)

        def watcher(job: Any) -> None:
            with httpx.Client(base_url=base, cookies=cookies, timeout=60) as client, \
                    client.stream("GET", f"/jobs/{job.pk}/events/") as stream:  # fmt: skip
                first = True
                for line in stream.iter_lines():
                    if not line.startswith("data: "):
                        continue
                    if first:
                        first = False
                        opened.wait()
                        continue
                    if json.loads(line[6:])["final"]:
                        seen[job.pk] = time.monotonic()
                        return

        threads = [threading.Thread(target=watcher, args=(job,)) for job in jobs]
        for thread in threads:
            thread.start()
        opened.wait()
        for job in jobs:
            Job.objects.filter(pk=job.pk).update(status="succeeded", stage="done")
            changed[job.pk] = time.monotonic()
            events.job_changed(job.pk)
        for thread in threads:
            thread.join(timeout=60)
    latencies = sorted(seen[pk] - changed[pk] for pk in seen)
    print(f"## {watchers} open job pages (gunicorn, 2 gevent workers)")
    if latencies:
        p95 = latencies[int(len(latencies) * 0.95) - 1]
        print(f"push: change seen by {len(latencies)}/{watchers} pages, p50 "
              f"{statistics.median(latencies) * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms "
              "(floor 0; goal ≤ 100 ms)")  # fmt: skip
    elif events.enabled():
        print("push: no page saw the change")
    else:
        print("push: off without Redis (--broker-url); pages poll")
    polls.sort()
    not_modified = sum(1 for status in poll_statuses if status == 304)
    print(f"idle poll answered in p50 {statistics.median(polls) * 1000:.1f} ms, p95 "
          f"{polls[int(len(polls) * 0.95) - 1] * 1000:.1f} ms over {len(polls)} polls "
          f"({not_modified} were 304), seen from the client")  # fmt: skip


# --- A big upload -----------------------------------------------------------------


def photo_jpegs(count: int, *, orientation: int) -> list[bytes]:
    """``count`` different 4000x3000 JPEGs with a phone photo's detail and size,
    and its EXIF orientation (6: the sensor's pixels sideways, as phones
    write photos taken upright)."""
    from PIL import Image, ImageChops

    side = Image.linear_gradient("L").resize((4000, 3000))
    scene = Image.merge("RGB", (side, side.transpose(Image.Transpose.ROTATE_180),
                                Image.radial_gradient("L").resize((4000, 3000))))  # fmt: skip
    grain = Image.effect_noise((4000, 3000), 24).convert("RGB")
    base = ImageChops.add(scene, grain, scale=1.6)
    exif = Image.Exif()
    exif[0x0112] = orientation
    photos = []
    for index in range(count):
        variant = base.copy()
        variant.paste((index * 15 % 256, 90, 160), (index * 200, 100, index * 200 + 180, 280))
        out = io.BytesIO()
        variant.save(out, "JPEG", quality=92, exif=exif.tobytes())
        photos.append(out.getvalue())
    return photos


def peak_rss_mb(pid: int) -> float:
    """The highest resident memory of the process so far (VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def web_worker_pids(master: int) -> list[int]:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return [int(child) for child in children]


# Each upload, and each part of its floor, is timed this many times.
UPLOAD_RUNS = 3


def bench_upload(env: dict[str, str], *, photos: int) -> None:
    fake = make_fake(latency=0.1, result=png_of_size(8))
    with fake.running():
        model = paid_model(fake.base_url)
    for orientation, label in ((1, "upright"), (6, "sideways with EXIF orientation 6")):
        files = photo_jpegs(photos, orientation=orientation)
        upload_once(env, files=files, model=model, label=label)


def upload_once(env: dict[str, str], *, files: list[bytes], model: Any, label: str) -> None:
    import httpx

    from editor.models import Job
    from tests.services import free_port

    megabytes = sum(len(data) for data in files) / 2**20
    parts = [("images", (f"photo-{index}.jpg", data, "image/jpeg"))
             for index, data in enumerate(files)]  # fmt: skip

    # The floor: receiving the same request, and decoding every photo in full.
    # Each figure is the median of UPLOAD_RUNS, as the upload's own is.
    receives = []
    sink = BodySink()
    with sink.running():
        for _ in range(UPLOAD_RUNS):
            started = time.monotonic()
            httpx.post(sink.url, files=parts, data={"prompt": "x"}, timeout=120)
            receives.append(time.monotonic() - started)
    decode = decode_floor(files)
    receive = statistics.median(receives)

    port = free_port()
    web_env = {**env, "WEB_CONCURRENCY": "1", "PORT": str(port), "HOST": "127.0.0.1"}
    command = [sys.executable, "-m", "gunicorn", "-c", "webapp/gunicorn.conf.py", "webapp.wsgi"]
    log = Path(env["DARKROOM_DATA_DIR"]) / "web-upload.log"
    base = f"http://127.0.0.1:{port}"
    cookies = session_cookies()
    with process(command, web_env, ready="Booting worker", log=log, keep_pid=True) as master, \
            httpx.Client(base_url=base, cookies=cookies, timeout=120) as client:  # fmt: skip
        deadline = time.monotonic() + 60
        while client.get("/").status_code != 200:
            if time.monotonic() > deadline:
                raise SystemExit("the editor did not answer")
            time.sleep(0.2)
        (worker_pid,) = web_worker_pids(master)
        before = peak_rss_mb(worker_pid)
        form = {"prompt": "warmer light", "image_model": str(model.pk), "n": "1"}
        times = []
        for _ in range(UPLOAD_RUNS):
            started = time.monotonic()
            answer = client.post("/", files=parts, data=form,
                                 headers={"X-CSRFToken": client.cookies["csrftoken"]})  # fmt: skip
            times.append(time.monotonic() - started)
            if answer.status_code != 302:
                raise SystemExit(
                    f"the upload was not accepted ({answer.status_code}): {answer.text[:500]}"
                )
        accepted = statistics.median(times)
        peak = peak_rss_mb(worker_pid)
    job_id = answer.headers["Location"].strip("/").split("/")[-1]
    inputs = Job.objects.get(pk=job_id).images.filter(role="input").count()
    floor = receive + decode
    print(f"## Upload: {len(files)} JPEGs of 12 MP, {label} ({megabytes:.0f} MB), to the "
          f"editor on gunicorn with one process; {inputs} inputs stored")  # fmt: skip
    print(f"floor: receive {receive:.2f} s + decode in full {decode:.2f} s "
          f"(medians of {UPLOAD_RUNS})")  # fmt: skip
    ratio_line(f"accepted (s), median of {UPLOAD_RUNS}", accepted, floor, "s")
    print(f"web process peak memory {peak:.0f} MB (before the upload {before:.0f} MB; "
          "goal ≤ 300 MB)")  # fmt: skip
    turn_later_line(job_id)


def turn_later_line(job_id: str) -> None:
    """How long the job's worker takes to turn the photos the upload left sideways."""
    from editor.media import input_upright
    from editor.models import JobImage

    sideways = list(JobImage.objects.filter(job_id=job_id, role="input").exclude(orientation=1))
    if not sideways:
        return
    started = time.monotonic()
    for image in sideways:
        with image.file.open("rb") as handle:
            input_upright(image, data=handle.read())
    each = (time.monotonic() - started) / len(sideways) * 1000
    print(f"left to the job's worker: turning each photo upright and storing it, {each:.0f} ms")


def decode_floor(files: list[bytes]) -> float:
    """Seconds to decode every photo in full, the median of UPLOAD_RUNS passes,
    in a new process as the web process is: decoding in this one ran up to a
    third faster after an earlier upload's photos, its memory already mapped."""
    with tempfile.TemporaryDirectory() as folder:
        paths = []
        for index, data in enumerate(files):
            path = Path(folder) / f"{index}.jpg"
            path.write_bytes(data)
            paths.append(str(path))
        answer = subprocess.run(
            [sys.executable, "-c", _DECODE_FLOOR, str(UPLOAD_RUNS), *paths],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
    return float(answer.stdout)


_DECODE_FLOOR = """
import io, statistics, sys, time
from pathlib import Path
from PIL import Image
runs, paths = int(sys.argv[1]), sys.argv[2:]
files = [Path(path).read_bytes() for path in paths]
passes = []
for _ in range(runs):
    started = time.monotonic()
    for data in files:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
    passes.append(time.monotonic() - started)
print(statistics.median(passes))
"""


def session_cookies() -> dict[str, str]:
    """A logged-in session for the bench user, as the browser holds it."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.cached_db import SessionStore

    user = bench_user()
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return {settings.SESSION_COOKIE_NAME: session.session_key or ""}


class BodySink:
    """An HTTP server that reads each request's body and answers 204."""

    def __init__(self) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                left = int(self.headers["Content-Length"])
                while left:
                    left -= len(self.rfile.read(min(left, 1 << 20)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"

    @contextmanager
    def running(self) -> Iterator[None]:
        thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        thread.start()
        try:
            yield
        finally:
            self.server.shutdown()
            self.server.server_close()


if __name__ == "__main__":
    main()
