"""Result thumbnails are made on their first request, then kept; only for their owner."""

from __future__ import annotations

from typing import Any

from django.core.files.storage import default_storage
from django.test import Client

from editor import pipeline
from editor.models import ImageRole, Job, JobImage
from tests.factories import make_job
from tests.images import open_bytes
from tests.media_helpers import body_of, is_presigned_redirect


def stored_result(user: Any) -> JobImage:
    job = make_job(user=user)
    pipeline.run_job(job_id=str(job.pk))
    return JobImage.objects.get(job=job, role=ImageRole.RESULT)


def test_a_result_is_stored_without_a_thumbnail_and_gets_one_when_first_asked(
    alice: Any, alice_client: Client
) -> None:
    result = stored_result(alice)
    assert not result.thumbnail
    before = Job.objects.get(pk=result.job_id).stored_bytes
    response = alice_client.get(f"/images/{result.pk}/thumb/")
    assert response.status_code == 200 or is_presigned_redirect(response)
    small = open_bytes(body_of(response))
    assert small.format == "WEBP"
    result.refresh_from_db()
    assert result.thumbnail and default_storage.exists(result.thumbnail.name)
    assert result.thumbnail_bytes == result.thumbnail.size
    # The job's storage counts the new file.
    assert Job.objects.get(pk=result.job_id).stored_bytes == before + result.thumbnail_bytes
    # Kept: the second request serves the same file.
    name = result.thumbnail.name
    again = alice_client.get(f"/images/{result.pk}/thumb/")
    assert again.status_code == 200 or is_presigned_redirect(again)
    result.refresh_from_db()
    assert result.thumbnail.name == name


def test_another_user_gets_404_and_makes_no_thumbnail(alice: Any, bob_client: Client) -> None:
    result = stored_result(alice)
    assert bob_client.get(f"/images/{result.pk}/thumb/").status_code == 404
    result.refresh_from_db()
    assert not result.thumbnail


def test_an_unreadable_file_is_served_whole_instead(alice: Any, alice_client: Client) -> None:
    result = stored_result(alice)
    with default_storage.open(result.file.name, "wb") as handle:
        handle.write(b"not an image any more")
    response = alice_client.get(f"/images/{result.pk}/thumb/")
    assert body_of(response) == b"not an image any more"
