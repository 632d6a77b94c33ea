"""The job page's live part: cheap polls (ETag, 304, 286) and the cached user."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from editor.models import Job, JobStage, JobStatus
from tests.factories import make_job


@pytest.fixture(autouse=True)
def sessions_in_a_cache(settings: Any, tmp_path: Path) -> None:
    """Sessions and users cached outside the database, as with CACHE_URL."""
    settings.CACHES = {
        **settings.CACHES,
        "sessions": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(tmp_path / "sessions-cache"),
        },
    }


def status_url(job: Job) -> str:
    return f"/jobs/{job.pk}/status/"


def test_an_idle_poll_answers_304_from_at_most_two_queries(
    alice: Any, alice_client: Client, django_assert_max_num_queries: Any
) -> None:
    job = make_job(user=alice)
    first = alice_client.get(status_url(job), HTTP_HX_REQUEST="true")
    assert first.status_code == 200
    etag = first["ETag"]
    with django_assert_max_num_queries(2):
        idle = alice_client.get(status_url(job), HTTP_HX_REQUEST="true", HTTP_IF_NONE_MATCH=etag)
    assert idle.status_code == 304
    assert idle.content == b""
    assert idle["ETag"] == etag


def test_a_change_the_page_shows_is_sent_in_full(alice: Any, alice_client: Client) -> None:
    job = make_job(user=alice)
    etag = alice_client.get(status_url(job))["ETag"]
    Job.objects.filter(pk=job.pk).update(status=JobStatus.RUNNING, stage=JobStage.WAITING)
    changed = alice_client.get(status_url(job), HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200
    assert changed["ETag"] != etag
    assert 'data-stage="waiting"' in changed.content.decode()


def test_the_queue_position_is_part_of_the_version(alice: Any, alice_client: Client) -> None:
    first = make_job(user=alice, prompt="first")
    second = make_job(user=alice, prompt="second")
    etag = alice_client.get(status_url(second))["ETag"]
    Job.objects.filter(pk=first.pk).update(status=JobStatus.RUNNING)
    moved = alice_client.get(status_url(second), HTTP_IF_NONE_MATCH=etag)
    assert moved.status_code == 200


def test_a_final_job_stops_the_polling_even_when_unchanged(
    alice: Any, alice_client: Client
) -> None:
    job = make_job(user=alice)
    Job.objects.filter(pk=job.pk).update(status=JobStatus.FAILED, stage=JobStage.DONE)
    etag = alice_client.get(status_url(job))["ETag"]
    final = alice_client.get(status_url(job), HTTP_IF_NONE_MATCH=etag)
    assert final.status_code == 286


def test_another_users_job_is_404_with_or_without_a_tag(
    alice: Any, alice_client: Client, bob_client: Client
) -> None:
    job = make_job(user=alice)
    etag = alice_client.get(status_url(job))["ETag"]
    assert bob_client.get(status_url(job)).status_code == 404
    assert bob_client.get(status_url(job), HTTP_IF_NONE_MATCH=etag).status_code == 404


def test_a_malformed_tag_gets_the_full_status(alice: Any, alice_client: Client) -> None:
    job = make_job(user=alice)
    response = alice_client.get(status_url(job), HTTP_IF_NONE_MATCH='"\x00<script>"')
    assert response.status_code == 200


def test_a_changed_password_ends_the_cached_session(alice: Any, alice_client: Client) -> None:
    job = make_job(user=alice)
    assert alice_client.get(status_url(job)).status_code == 200
    alice.set_password("another horse battery staple")
    alice.save()
    assert alice_client.get(status_url(job)).status_code == 302


def test_a_deactivated_account_is_logged_out_at_once(alice: Any, alice_client: Client) -> None:
    job = make_job(user=alice)
    assert alice_client.get(status_url(job)).status_code == 200
    alice.is_active = False
    alice.save()
    assert alice_client.get(status_url(job)).status_code == 302


def test_the_session_and_user_are_read_from_the_cache_after_the_first_request(
    alice: Any, alice_client: Client
) -> None:
    alice_client.get("/history/storage/")
    with CaptureQueriesContext(connection) as queries:
        assert alice_client.get("/history/storage/").status_code == 200
    tables = " ".join(query["sql"] for query in queries.captured_queries)
    assert "auth_user" not in tables
    assert "django_session" not in tables
