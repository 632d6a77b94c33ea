"""Hundreds of provider calls in flight on one worker, against a database that
allows far fewer connections: a ``celery -A webapp worker`` process on our own
Redis server, logging in to the PostgreSQL test database as a role limited to
50 connections, calling a slow fake image API that counts every call.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.db import connection

from editor.models import ImageRole, Job, JobStatus
from tests.production.conftest import CountingImageAPI
from tests.production.test_kill import make_jobs, settle
from tests.services import wait_until

pytestmark = [pytest.mark.worker, pytest.mark.services]

CONNECTION_LIMIT = 50


@pytest.fixture
def limited_database(postgres: str, worker_env: dict[str, str]) -> Iterator[str]:
    """Point this test's workers at the test database as a role that may open
    at most CONNECTION_LIMIT connections (superusers ignore such limits)."""
    role = f"darkroom_limited_{os.getpid()}"
    with connection.cursor() as cursor:
        cursor.execute(f"DROP ROLE IF EXISTS {role}")
        cursor.execute(f"CREATE ROLE {role} LOGIN CONNECTION LIMIT {CONNECTION_LIMIT}")
        cursor.execute(f"GRANT USAGE ON SCHEMA public TO {role}")
        cursor.execute(f"GRANT ALL ON ALL TABLES IN SCHEMA public TO {role}")
        cursor.execute(f"GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO {role}")
    parts = urlsplit(postgres)
    netloc = f"{role}@{parts.hostname}:{parts.port or 5432}"
    worker_env["DATABASE_URL"] = urlunsplit(parts._replace(netloc=netloc))
    try:
        yield role
    finally:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s",
                [role],
            )
            cursor.execute(f"DROP OWNED BY {role}")
            cursor.execute(f"DROP ROLE {role}")


def connections_of(role: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE usename = %s", [role])
        return int(cursor.fetchone()[0])


def test_no_connection_is_held_while_the_provider_works(
    alice: Any,
    paid_model: Any,
    image_api: CountingImageAPI,
    workers: Any,
    limited_database: str,
) -> None:
    workers("patient", pool="threads", concurrency=30)
    image_api.hold()
    jobs = make_jobs(alice, paid_model, 30, "patient")
    wait_until(
        lambda: image_api.in_flight == 30, timeout=60, message="the calls are not all in flight"
    )
    # The stage written as each request went out has had time to finish.
    time.sleep(0.5)
    held = []
    for _ in range(10):
        held.append(connections_of(limited_database))
        time.sleep(0.15)
    image_api.release()
    jobs = settle(jobs, timeout=60, sweep=False)
    assert all(job.status == JobStatus.SUCCEEDED for job in jobs)
    # 30 calls waiting; at most the shared heartbeat's connection in use.
    assert max(held) <= 1, held


@pytest.mark.parametrize("pool_size", ["", "20"], ids=["connect-per-write", "pool-of-20"])
def test_300_slow_calls_at_once_through_50_connections_all_finish_once(
    alice: Any,
    paid_model: Any,
    image_api: CountingImageAPI,
    workers: Any,
    worker_env: dict[str, str],
    limited_database: str,
    pool_size: str,
) -> None:
    worker_env["DATABASE_POOL_MAX_SIZE"] = pool_size
    image_api.delay = 3.0
    image_api.hold()
    worker = workers("crowd", pool="threads", concurrency=300)
    jobs = make_jobs(alice, paid_model, 300, "crowd")
    wait_until(
        lambda: image_api.in_flight >= 250,
        timeout=120,
        message="the calls did not go out together",
    )
    image_api.release()
    jobs = settle(jobs, timeout=180, sweep=False)
    calls = image_api.prompts()
    unfinished = [(job.prompt, job.status, job.error) for job in jobs if job.status != "succeeded"]
    assert not unfinished, unfinished[:5]
    assert all(calls[job.prompt] == 1 for job in jobs), calls.most_common(3)
    assert sum(calls.values()) == 300
    assert all(job.deliveries == 1 for job in jobs)
    assert Job.objects.filter(images__role=ImageRole.RESULT).count() == 300
    assert image_api.most_in_flight >= 250
    if pool_size:
        # The pool queues the threads: the database never refused one.
        assert "too many connections" not in worker.output()
