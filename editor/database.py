"""Database connections for work that mostly waits on something else.

A job spends seconds or minutes waiting on a provider and a few milliseconds
writing its row. Holding a connection for the whole wait capped a worker's
concurrency at the database's connection limit; so the pipeline gives its
connection back before each wait (``release_connection``) and takes one
again, lazily, for the next write. When the database has no connection to
spare at that moment (its limit reached, a pool exhausted, a restart), the
write is retried with backoff (``with_database_retry``) until a deadline;
past it the error goes up, and the job is left running for the recovery
sweep, which settles it by the usual rules.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import psycopg
from django.conf import settings
from django.db import OperationalError, connection

logger = logging.getLogger(__name__)

T = TypeVar("T")

FIRST_PAUSE_SECONDS = 0.05
LONGEST_PAUSE_SECONDS = 2.0

# Tests replace this to run without real pauses.
sleep: Callable[[float], None] = time.sleep


def release_connection() -> None:
    """Give this thread's connection back (to the pool, or close it).

    A connection inside a transaction is kept: the transaction needs it, and
    closing it would roll back work the caller has not committed.
    """
    if connection.in_atomic_block:
        return
    connection.close()


def with_database_retry(
    write: Callable[[], T], *, what: str, deadline_seconds: float | None = None
) -> T:
    """``write()``, retried while the database refuses a connection.

    Only ``OperationalError`` is retried (no connection to be had, a server
    restarting); the caller's writes are conditional updates, safe to repeat.
    After ``deadline_seconds`` (``DARKROOM_DATABASE_RETRY_SECONDS``) the last
    error is raised.
    """
    seconds = (
        settings.DARKROOM_DATABASE_RETRY_SECONDS if deadline_seconds is None else deadline_seconds
    )
    deadline = time.monotonic() + seconds
    pause = FIRST_PAUSE_SECONDS
    attempt = 0
    while True:
        attempt += 1
        try:
            return write()
        except OperationalError as error:
            # A broken connection must not be reused by the next attempt.
            if not connection.in_atomic_block:
                connection.close()
            remaining = deadline - time.monotonic()
            if remaining <= 0 or connection.in_atomic_block:
                logger.warning("Gave up on %s after %d attempts: %s", what, attempt, error)
                raise
            if attempt == 1:
                logger.info("Retrying %s: %s", what, error)
            # Full jitter, so hundreds of waiting jobs do not come back at once.
            sleep(min(remaining, pause / 2 + random.random() * pause / 2))
            pause = min(pause * 2, LONGEST_PAUSE_SECONDS)


def execute_bound(sql: str, params: Sequence[Any]) -> int:
    """Run one PostgreSQL statement with its parameters sent apart from its
    text; returns the rows it changed.

    Django's psycopg cursors bind on the client: each value is quoted into
    the statement, which PostgreSQL then reads back character by character.
    For a value of megabytes (a provider's answer) that doubled the time of
    the write (~30 ms against ~15 ms for 4 MB). The statement still runs on
    Django's connection, in its transaction if there is one.
    """
    connection.ensure_connection()
    # Errors as Django's (OperationalError for a lost connection), which
    # with_database_retry and the callers expect.
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount
