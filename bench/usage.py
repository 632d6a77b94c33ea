"""Benchmark the usage pages at scale, server-side.

    uv run python bench/usage.py --database-url postgres://.../darkroom_bench_usage
                                 [--count 1000000] [--users 200] [--repeat 100] [--explain]

Seeds ``--count`` jobs over ``--users`` users (``usage-0`` ...) across twelve
months, in a database of its own (it refuses one with other accounts; by
default a fresh SQLite file in a temporary folder), with COPY on PostgreSQL.
Then it requests, round-robin through Django's test Client:

- the operator's usage page (the last 30 days, and a whole year) and its CSV
  export of the 30 days, as a staff user;
- the account page of the busiest user;

first with every day summed from the jobs (no roll-up yet), then after the
daily roll-up, and prints p50/p95 times, SQL time and query counts.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

MODELS = [
    ("openai", "gpt-image-1", 0.04),
    ("openai", "gpt-image-1-mini", 0.011),
    ("openai", "dall-e-2", 0.02),
    ("router", "flux-kontext-pro", 0.04),
    ("router", "seedream-3", 0.03),
    ("router", "sdxl-inpaint", 0.002),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--database-url", default="", help="Default: SQLite in a temp folder.")
    parser.add_argument("--data-dir", default="", help="Default: a new temporary folder.")
    parser.add_argument("--repeat", type=int, default=100, help="Requests per page.")
    parser.add_argument("--explain", action="store_true", help="Print the query plans.")
    parser.add_argument(
        "--rolled-up-only",
        action="store_true",
        help="Measure only after the roll-up, keeping one a previous run made.",
    )
    args = parser.parse_args()

    data_dir = Path(args.data_dir or tempfile.mkdtemp(prefix="darkroom-bench-usage-"))
    data_dir.mkdir(parents=True, exist_ok=True)
    os.environ["DARKROOM_DATA_DIR"] = str(data_dir)
    os.environ["DARKROOM_MEDIA_ROOT"] = str(data_dir / "media")
    os.environ["DATABASE_URL"] = args.database_url or f"sqlite:///{data_dir / 'bench.sqlite3'}"
    os.environ.setdefault("DATABASE_CONN_MAX_AGE", "60")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")
    os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost")

    import django

    django.setup()
    from webapp.memory import freeze_loaded_objects

    # As each production web process does once it has loaded the app.
    freeze_loaded_objects()
    run(args, data_dir)


def run(args: argparse.Namespace, data_dir: Path) -> None:
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from history import SqlCapture, SqlTimer, explain

    from editor import usage
    from editor.models import DailyUsage, Job, UsageRollup

    print(f"Database: {connection.vendor} ({connection.settings_dict['NAME']}); data in {data_dir}")
    call_command("migrate", verbosity=0)
    if User.objects.exclude(username__startswith="usage-").exists():
        raise SystemExit("This database has other accounts; give the bench a database of its own.")
    if Job.objects.count() != args.count:
        started = time.monotonic()
        Job.objects.all().delete()
        User.objects.all().delete()
        seed(count=args.count, users=args.users)
        print(f"Seeded {args.count} jobs in {time.monotonic() - started:.0f} s")
    staff = User.objects.get(username="usage-0")
    busiest = User.objects.get(username="usage-1")
    _vacuum(connection)

    pages = {
        "operator: last 30 days": ("/operator/usage/", staff),
        "operator: a year": (f"/operator/usage/?{_year_range()}", staff),
        "operator: CSV, last 30 days": ("/operator/usage/export.csv", staff),
        "account page (busiest user)": ("/accounts/", busiest),
    }
    clients = {}
    for user in (staff, busiest):
        client = Client()
        client.force_login(user)
        clients[user.pk] = client

    phases = ["summed from jobs (no roll-up)", "after the daily roll-up"]
    for phase in phases[1:] if args.rolled_up_only else phases:
        if phase.startswith("after") and args.rolled_up_only and usage.complete_through():
            repeat = args.repeat
        elif phase.startswith("after"):
            started = time.monotonic()
            usage.roll_up()
            print(
                f"\nFirst roll-up: {DailyUsage.objects.count()} daily rows "
                f"in {time.monotonic() - started:.1f} s"
            )
            _vacuum(connection)
            repeat = args.repeat
        else:
            DailyUsage.objects.all().delete()
            UsageRollup.objects.all().delete()
            # Summing a year of raw jobs takes seconds a request: fewer rounds.
            repeat = max(5, args.repeat // 5)
        measure(args, repeat, pages, clients, phase, SqlCapture, SqlTimer, explain)


def _vacuum(connection: Any) -> None:
    """Fresh statistics and, on PostgreSQL, a visibility map, as autovacuum
    keeps them on a long-lived database: without it no index-only scan."""
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")


def measure(
    args: argparse.Namespace,
    repeat: int,
    pages: dict[str, tuple[str, Any]],
    clients: dict[int, Any],
    phase: str,
    capture: Any,
    timer: Any,
    explain: Any,
) -> None:
    from django.db import connection

    def get(label: str) -> Any:
        url, user = pages[label]
        response = clients[user.pk].get(url)
        if response.streaming:
            b"".join(response.streaming_content)
        assert response.status_code == 200, (url, response.status_code)
        return response

    plans: dict[str, list[Any]] = {}
    for label in pages:
        for _ in range(3):
            get(label)
        captured: list[Any] = []
        with connection.execute_wrapper(capture(captured)):
            get(label)
        plans[label] = captured
    timings: dict[str, list[float]] = {label: [] for label in pages}
    sql: dict[str, list[float]] = {label: [] for label in pages}
    load_before = os.getloadavg()[0]
    for _ in range(repeat):
        for label in pages:
            with connection.execute_wrapper(timer(sql[label])):
                start = time.perf_counter()
                get(label)
                timings[label].append((time.perf_counter() - start) * 1000)
    load_after = os.getloadavg()[0]
    print(
        f"\n### {phase}: {args.count} jobs, {args.users} users, {repeat} requests per page, "
        f"load average {load_before:.1f} -> {load_after:.1f} on {os.cpu_count()} CPUs\n"
    )
    print("| Page | p50 ms | p95 ms | SQL ms (mean) | SQL queries |")
    print("|---|---:|---:|---:|---:|")
    for label in pages:
        p50 = statistics.median(timings[label])
        p95 = statistics.quantiles(timings[label], n=20)[-1]
        sql_ms = sum(sql[label]) / repeat
        print(f"| {label} | {p50:.1f} | {p95:.1f} | {sql_ms:.1f} | {len(plans[label])} |")
    if args.explain:
        explain(plans, connection.vendor)


def _year_range() -> str:
    from django.utils import timezone

    today = timezone.localdate()
    return f"date_from={(today - timedelta(days=365)).isoformat()}&date_to={today.isoformat()}"


def seed(*, count: int, users: int) -> None:
    """``count`` jobs over ``users`` users and twelve months, a few users busier
    than the rest (a Zipf-like spread, as real teams are)."""
    from django.contrib.auth.models import User
    from django.db import connection
    from django.utils import timezone

    from editor.models import Job

    rng = random.Random(1)
    accounts = [User(username=f"usage-{index}") for index in range(users)]
    for account in accounts:
        account.set_unusable_password()
    accounts[0].is_staff = True
    User.objects.bulk_create(accounts)
    ids = list(User.objects.order_by("pk").values_list("pk", flat=True))
    # usage-1 is the busiest; usage-0 (staff) runs jobs too.
    weights = [1 / (rank + 1) ** 0.8 for rank in range(users)]
    weights[0], weights[1] = weights[1], weights[0]
    end = timezone.now()
    span = timedelta(days=365).total_seconds()
    fields = [field for field in Job._meta.concrete_fields]
    columns = [field.column for field in fields]
    batch = 50_000
    done = 0
    while done < count:
        size = min(batch, count - done)
        owners = rng.choices(ids, weights, k=size)
        rows = [
            _job_row(rng, owner, end - timedelta(seconds=span * rng.random())) for owner in owners
        ]
        values = [
            [
                field.get_db_prep_save(row.get(field.attname, field.get_default()), connection)
                for field in fields
            ]
            for row in rows
        ]
        _write(connection, Job._meta.db_table, columns, values)
        done += size
        print(f"\r{done}/{count} jobs", end="", flush=True)
    print()


def _job_row(rng: random.Random, owner: int, created: Any) -> dict[str, Any]:
    from decimal import Decimal

    provider, model, price = rng.choice(MODELS)
    roll = rng.random()
    status = "succeeded" if roll < 0.85 else "failed" if roll < 0.95 else "canceled"
    sent = created + timedelta(seconds=rng.uniform(0.05, 2))
    answered = sent + timedelta(seconds=rng.uniform(2, 40)) if status != "canceled" else None
    return {
        "id": uuid.UUID(int=rng.getrandbits(128), version=4),
        "owner_id": owner,
        "kind": "edit",
        "model_label": model,
        "provider_name": provider,
        "prompt": "a usage benchmark job",
        "status": status,
        "stage": "done",
        "created": created,
        "started": created,
        "sent": sent,
        "answered": answered,
        "finished": answered,
        "cost": Decimal(str(round(price * rng.uniform(0.8, 1.2), 6)))
        if status == "succeeded"
        else None,
        "error_code": "timeout" if status == "failed" else "",
    }


def _write(connection: Any, table: str, columns: list[str], values: list[list[Any]]) -> None:
    quote = connection.ops.quote_name
    if connection.vendor == "postgresql":
        # COPY: about ten times faster than INSERTs for a million rows.
        names = ", ".join(quote(column) for column in columns)
        with (
            connection.cursor() as cursor,
            cursor.cursor.copy(f"COPY {quote(table)} ({names}) FROM STDIN") as copy,
        ):
            for row in values:
                copy.write_row(row)
        return
    sql = "INSERT INTO {} ({}) VALUES ({})".format(
        quote(table),
        ", ".join(quote(column) for column in columns),
        ", ".join(["%s"] * len(columns)),
    )
    with connection.cursor() as cursor:
        cursor.executemany(sql, values)


if __name__ == "__main__":
    main()
