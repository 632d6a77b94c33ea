"""Benchmark the history at scale, server-side.

    uv run python bench/history.py [--count 100000] [--database-url URL] [--cache-url URL]
                                   [--repeat 100] [--data-dir DIR] [--explain]

Seeds ``--count`` jobs for one user (``bench``) in a database of its own (by
default a fresh SQLite file in a temporary folder; with --database-url, an
empty database made for it: the bench refuses one with other accounts), then
requests the history and job pages through Django's test Client, round-robin,
and prints p50/p95 times, SQL time, the app's CPU time and the number of SQL
queries per page, plus the query plans (--explain). --data-dir keeps the
seeded database for the next run. --cache-url (Redis) keeps sessions and
users in the cache, as the README's production setup does.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--database-url", default="", help="Default: SQLite in a temp folder.")
    parser.add_argument("--data-dir", default="", help="Default: a new temporary folder.")
    parser.add_argument("--cache-url", default="", help="Default: the database's own cache.")
    parser.add_argument("--repeat", type=int, default=100, help="Requests per page.")
    parser.add_argument("--explain", action="store_true", help="Print the query plans.")
    args = parser.parse_args()

    data_dir = Path(args.data_dir or tempfile.mkdtemp(prefix="darkroom-bench-"))
    data_dir.mkdir(parents=True, exist_ok=True)
    # Never the user's var/: the bench has its own data folder and database.
    os.environ["DARKROOM_DATA_DIR"] = str(data_dir)
    os.environ["DARKROOM_MEDIA_ROOT"] = str(data_dir / "media")
    os.environ["DATABASE_URL"] = args.database_url or f"sqlite:///{data_dir / 'bench.sqlite3'}"
    if args.cache_url:
        os.environ["CACHE_URL"] = args.cache_url
    # Persistent connections, as the production settings recommend: without
    # them every request also pays a new database connection.
    os.environ.setdefault("DATABASE_CONN_MAX_AGE", "60")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")
    os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost")
    sys.path.insert(0, str(ROOT))

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

    from editor.models import Job
    from editor.selectors import encode_cursor

    vendor = connection.vendor
    cache = "Redis" if args.cache_url else "the database's"
    print(
        f"Database: {vendor} ({connection.settings_dict['NAME']}); cache: {cache}; "
        f"data in {data_dir}"
    )
    call_command("migrate", verbosity=0)
    if User.objects.exclude(username="bench").exists():
        # The bench replaces its user's jobs and adds demo providers: never
        # on a database people use.
        raise SystemExit("This database has other accounts; give the bench a database of its own.")
    user, _ = User.objects.get_or_create(username="bench")
    if Job.objects.filter(owner=user).count() != args.count:
        Job.objects.filter(owner=user).delete()
        call_command("seed_history", user="bench", count=args.count)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # fresh statistics, as a long-lived database has

    ordered = Job.objects.filter(owner=user).order_by("-created", "-id")
    middle = ordered[args.count // 2]
    last = ordered[max(args.count - 25, 0)]  # the page after it is the last one
    parent = (
        Job.objects.filter(owner=user, parent__isnull=False)
        .order_by("-created")
        .values_list("parent_id", flat=True)
        .first()
    )
    pages = {
        "history: first page": "/history/",
        "history: middle page": f"/history/?after={encode_cursor(middle)}",
        "history: last page": f"/history/?after={encode_cursor(last)}",
        "search: common word (first page)": "/history/?q=cat",
        "search: common word (middle page)": f"/history/?q=cat&after={encode_cursor(middle)}",
        "search: rare word": "/history/?q=kaleidoscope",
        "search: two words": "/history/?q=cat+snow",
        "search: prefix as typed ('ligh')": "/history/?q=ligh",
        "search: prefix (middle page)": f"/history/?q=ligh&after={encode_cursor(middle)}",
        "search: two letters ('ca')": "/history/?q=ca",
        "filter: failed, edits": "/history/?status=failed&kind=edit",
        "load more (htmx rows only)": f"/history/?after={encode_cursor(middle)}",
        "job detail (with lineage)": f"/jobs/{parent}/",
    }
    client = Client()
    client.force_login(user)
    requests = {label: (url, _headers(label)) for label, url in pages.items()}
    plans: dict[str, list[tuple[str, Any]]] = {}
    for label, (url, headers) in requests.items():
        for _ in range(5):  # warm caches and connections
            response = client.get(url, **headers)
            assert response.status_code == 200, (url, response.status_code)
        captured: list[tuple[str, Any]] = []
        with connection.execute_wrapper(SqlCapture(captured)):
            client.get(url, **headers)
        plans[label] = captured
    # Round-robin over the pages, so a burst of load from other processes on
    # the machine falls on every page alike rather than on one.
    timings: dict[str, list[float]] = {label: [] for label in requests}
    cpu: dict[str, float] = dict.fromkeys(requests, 0.0)
    sql: dict[str, list[float]] = {label: [] for label in requests}
    load_before = os.getloadavg()[0]
    for _ in range(args.repeat):
        for label, (url, headers) in requests.items():
            with connection.execute_wrapper(SqlTimer(sql[label])):
                start, start_cpu = time.perf_counter(), time.process_time()
                client.get(url, **headers)
                timings[label].append((time.perf_counter() - start) * 1000)
                cpu[label] += (time.process_time() - start_cpu) * 1000
    load_after = os.getloadavg()[0]
    print(
        f"\n{args.count} jobs, {args.repeat} requests per page, "
        f"load average {load_before:.1f} -> {load_after:.1f} on {os.cpu_count()} CPUs\n"
    )
    print("| Page | p50 ms | p95 ms | SQL ms (mean) | app CPU ms (mean) | SQL queries |")
    print("|---|---:|---:|---:|---:|---:|")
    for label in requests:
        p50 = statistics.median(timings[label])
        p95 = statistics.quantiles(timings[label], n=20)[-1]
        sql_ms = sum(sql[label]) / args.repeat
        cpu_ms = cpu[label] / args.repeat
        queries = len(plans[label])
        print(f"| {label} | {p50:.1f} | {p95:.1f} | {sql_ms:.2f} | {cpu_ms:.1f} | {queries} |")
    if args.explain:
        explain(plans, vendor)


def _headers(label: str) -> dict[str, str]:
    if label.startswith("load more"):
        return {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "load-more"}
    return {}


class SqlTimer:
    """Adds the time of every SQL statement to ``total`` (in milliseconds)."""

    def __init__(self, total: list[float]) -> None:
        self.total = total

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        start = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.total.append((time.perf_counter() - start) * 1000)


class SqlCapture:
    """Keeps every statement with its parameters (plans differ with bound values)."""

    def __init__(self, queries: list[tuple[str, Any]]) -> None:
        self.queries = queries

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        self.queries.append((sql, params))
        return execute(sql, params, many, context)


def explain(plans: dict[str, list[tuple[str, Any]]], vendor: str) -> None:
    """The plan of each query that reads jobs, as the database chose it."""
    from django.db import connection

    prefix = "EXPLAIN QUERY PLAN " if vendor == "sqlite" else "EXPLAIN ANALYZE "
    for label, queries in plans.items():
        print(f"\n## {label}")
        for sql, params in queries:
            if "editor_job" not in sql or "session" in sql:
                continue
            print(f"\n{sql[:300]}{'...' if len(sql) > 300 else ''}")
            with connection.cursor() as cursor:
                cursor.execute(prefix + sql, params)
                for row in cursor.fetchall():
                    print("    ", " ".join(str(part) for part in row))


if __name__ == "__main__":
    main()
