"""Writes that wait for a connection, and connections given back before a wait."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import OperationalError, connection, transaction

from editor import database


@pytest.fixture(autouse=True)
def no_pauses(monkeypatch: Any) -> list[float]:
    pauses: list[float] = []
    monkeypatch.setattr(database, "sleep", pauses.append)
    return pauses


def test_a_refused_write_is_retried_until_it_goes_through(no_pauses: list[float]) -> None:
    attempts: list[int] = []

    def write() -> str:
        attempts.append(1)
        if len(attempts) < 4:
            raise OperationalError("too many connections for role")
        return "written"

    assert database.with_database_retry(write, what="a test write") == "written"
    assert len(attempts) == 4
    # Backoff grows between attempts.
    assert len(no_pauses) == 3 and no_pauses[0] < no_pauses[2]


def test_past_the_deadline_the_error_goes_up() -> None:
    def write() -> None:
        raise OperationalError("too many connections for role")

    with pytest.raises(OperationalError):
        database.with_database_retry(write, what="a test write", deadline_seconds=0)


def test_other_errors_are_not_retried() -> None:
    attempts: list[int] = []

    def write() -> None:
        attempts.append(1)
        raise ValueError("a bug")

    with pytest.raises(ValueError):
        database.with_database_retry(write, what="a test write")
    assert len(attempts) == 1


def test_releasing_closes_the_connection_outside_a_transaction(transactional_db: None) -> None:
    connection.ensure_connection()
    database.release_connection()
    assert connection.connection is None
    with transaction.atomic():
        connection.ensure_connection()
        database.release_connection()
        # A transaction keeps the connection it needs.
        assert connection.connection is not None


def test_provider_answers_are_stored_as_uncompressed_text_on_postgresql(alice: Any) -> None:
    """Base64 images do not compress; trying cost ~90 ms per 4 MB answer saved,
    and parsing it as jsonb ~40 ms more."""
    if connection.vendor != "postgresql":
        pytest.skip("storage settings are PostgreSQL's; CI's second pass runs this")
    from editor.models import Job
    from tests.factories import make_job

    job = make_job(user=alice)
    answer = {"data": [{"b64_json": "QUJD" * 200_000}]}
    Job.objects.filter(pk=job.pk).update(provider_response=answer)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_column_size(provider_response), octet_length(provider_response::text), "
            "pg_typeof(provider_response)::text FROM editor_job WHERE id = %s",
            [job.pk],
        )
        stored, text, column_type = cursor.fetchone()
    assert column_type == "text"
    # Highly repetitive text: compressed it would take a few kB.
    assert stored >= text * 0.95


def test_a_saved_answer_reads_back_as_it_was_saved(alice: Any) -> None:
    from editor.models import Job
    from tests.factories import make_job

    job = make_job(user=alice)
    assert Job.objects.get(pk=job.pk).provider_response == {}
    assert Job.objects.filter(pk=job.pk, provider_response={}).exists()
    answer = {"created": 1, "data": [{"b64_json": "QUJD", "revised_prompt": "a “quoted” lamp"}]}
    Job.objects.filter(pk=job.pk).update(provider_response=answer)
    assert Job.objects.get(pk=job.pk).provider_response == answer
    assert Job.objects.values_list("provider_response", flat=True).get(pk=job.pk) == answer
    assert not Job.objects.filter(pk=job.pk, provider_response={}).exists()


def test_a_bound_write_fails_as_django_errors_do(transactional_db: None) -> None:
    """with_database_retry retries Django's OperationalError; a bound write
    must raise it too, not psycopg's own."""
    if connection.vendor != "postgresql":
        pytest.skip("bound writes are PostgreSQL's; CI's second pass runs this")
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    import psycopg

    parameters = connection.get_connection_params()
    parameters.pop("cursor_factory", None)
    parameters.pop("context", None)
    with psycopg.connect(**parameters, autocommit=True) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])
    try:
        with pytest.raises(OperationalError):
            database.execute_bound("SELECT 1 WHERE %s = 1", [1])
    finally:
        connection.close()


def test_an_answer_orjson_cannot_write_is_saved_all_the_same(alice: Any) -> None:
    from editor.models import Job
    from tests.factories import make_job

    job = make_job(user=alice)
    Job.objects.filter(pk=job.pk).update(provider_response={"data": [], 7: "seven"})
    assert Job.objects.get(pk=job.pk).provider_response == {"data": [], "7": "seven"}
