"""Measure queue fairness: a burst from one user, then one job from another.

    uv run python bench/fairness.py [--burst 200] [--concurrency 4] [--database-url URL]

In a data folder and database of its own (a fresh SQLite file by default),
with a real Celery worker (threads) on the embedded filesystem broker, user
``alice`` submits ``--burst`` jobs of the offline demo model at once, then
``bob`` submits one. It prints how many of Alice's jobs finished before Bob's
started, and how long Bob waited, with Darkroom's interactive/bulk routing
and, for comparison, with every job in one queue (the routing switched off).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--burst", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=4, help="Worker threads.")
    parser.add_argument("--database-url", default="", help="Default: SQLite in a temp folder.")
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="darkroom-fairness-"))
    os.environ["DARKROOM_DATA_DIR"] = str(data_dir)
    os.environ["DARKROOM_MEDIA_ROOT"] = str(data_dir / "media")
    os.environ["DATABASE_URL"] = args.database_url or f"sqlite:///{data_dir / 'bench.sqlite3'}"
    os.environ["CELERY_BROKER_URL"] = "filesystem://"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")
    sys.path.insert(0, str(ROOT))

    import django

    django.setup()
    run(args, data_dir)


def run(args: argparse.Namespace, data_dir: Path) -> None:
    from celery.contrib.testing.worker import start_worker
    from django.conf import settings
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.db import connection, transaction

    from editor import services
    from editor.models import ImageModel, Job, JobStatus
    from webapp.celery import app

    print(f"Database: {connection.vendor}; data in {data_dir}")
    call_command("migrate", verbosity=0)
    if User.objects.exclude(username__in=["alice", "bob"]).exists():
        raise SystemExit("This database has other accounts; give the bench a database of its own.")
    alice, _ = User.objects.get_or_create(username="alice")
    bob, _ = User.objects.get_or_create(username="bob")
    model = ImageModel.objects.get(provider__kind="offline")

    def submit(user: User) -> Job:
        return services.job_create(
            user=user, image_model=model, prompt="sepia", params={"n": 1}, images=[]
        )

    def burst_then_one(label: str) -> None:
        Job.objects.all().delete()
        with transaction.atomic():
            for _ in range(args.burst):
                submit(alice)
        bobs = submit(bob)
        while bobs.started is None:
            time.sleep(0.02)
            bobs.refresh_from_db()
        done = Job.objects.filter(
            owner=alice, status=JobStatus.SUCCEEDED, finished__lte=bobs.started
        ).count()
        waited = (bobs.started - bobs.created).total_seconds()
        while Job.objects.filter(status__in=[JobStatus.QUEUED, JobStatus.RUNNING]).exists():
            time.sleep(0.1)
        total = Job.objects.order_by("-finished").values_list("finished", flat=True).first()
        first = Job.objects.order_by("created").values_list("created", flat=True).first()
        assert total is not None and first is not None
        print(
            f"| {label} | {done} of {args.burst} | {waited:.1f} s | "
            f"{(total - first).total_seconds():.1f} s |"
        )

    with start_worker(app, pool="threads", concurrency=args.concurrency, perform_ping_check=False):
        print(
            f"\n{args.burst} jobs from alice, then 1 from bob; {args.concurrency} worker threads\n"
        )
        print("| Routing | Alice's jobs done before Bob's started | Bob waited | All done in |")
        print("|---|---:|---:|---:|")
        burst_then_one(f"interactive + bulk (first {settings.DARKROOM_INTERACTIVE_JOBS})")
        settings.DARKROOM_INTERACTIVE_JOBS = 10**9
        burst_then_one("one queue (routing off)")


if __name__ == "__main__":
    main()
