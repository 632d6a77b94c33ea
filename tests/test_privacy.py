"""Every URL of a job or file, as its owner, as another user, and anonymously."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.core.files.storage import default_storage
from django.test import Client

from editor import pipeline
from editor.models import ImageRole, Job
from tests.factories import make_job
from tests.images import image_bytes, mask_bytes


@pytest.fixture
def finished_job(alice: Any) -> Job:
    job = make_job(user=alice, mask=mask_bytes(64, 48, box=(0, 0, 10, 10)))
    pipeline.run_job(job_id=str(job.pk))
    job.refresh_from_db()
    return job


def job_urls(job: Job) -> list[str]:
    urls = [f"/jobs/{job.pk}/", f"/jobs/{job.pk}/status/"]
    for image in job.images.all():
        urls += [
            f"/images/{image.pk}/",
            f"/images/{image.pk}/thumb/",
            f"/images/{image.pk}/download/",
        ]
    return urls


def test_the_owner_sees_every_url(alice_client: Client, finished_job: Job) -> None:
    assert set(finished_job.images.values_list("role", flat=True)) == {
        ImageRole.INPUT,
        ImageRole.MASK,
        ImageRole.RESULT,
    }
    for url in job_urls(finished_job):
        response = alice_client.get(url)
        # Object storage answers image URLs with a presigned redirect.
        presigned = settings.DARKROOM_STORAGE == "s3" and response.status_code == 302
        assert response.status_code in (200, 286) or presigned, url


def test_another_user_gets_404_everywhere(bob_client: Client, finished_job: Job) -> None:
    for url in job_urls(finished_job):
        assert bob_client.get(url).status_code == 404, url
    for url in (f"/jobs/{finished_job.pk}/cancel/", f"/jobs/{finished_job.pk}/delete/"):
        assert bob_client.post(url).status_code == 404, url
    assert Job.objects.filter(pk=finished_job.pk).exists()


def test_another_user_does_not_see_the_job_in_history(
    bob_client: Client, finished_job: Job
) -> None:
    assert str(finished_job.pk) not in bob_client.get("/history/").content.decode()


def test_anonymous_visitors_are_sent_to_log_in(client: Client, finished_job: Job) -> None:
    for url in [*job_urls(finished_job), "/", "/history/"]:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/accounts/login/"), url


def test_the_owner_history_lists_the_job(alice_client: Client, finished_job: Job) -> None:
    body = alice_client.get("/history/").content.decode()
    assert f"/jobs/{finished_job.pk}/" in body
    assert finished_job.prompt in body


def test_an_unknown_uuid_is_404(alice_client: Client, db: None) -> None:
    assert alice_client.get("/jobs/00000000-0000-0000-0000-000000000000/").status_code == 404
    assert alice_client.get("/images/00000000-0000-0000-0000-000000000000/").status_code == 404


def test_the_job_json_describes_the_job(alice_client: Client, finished_job: Job) -> None:
    data = alice_client.get(f"/jobs/{finished_job.pk}/", HTTP_ACCEPT="application/json").json()
    assert data["id"] == str(finished_job.pk)
    assert data["status"] == "succeeded"
    assert data["kind"] == "edit"
    assert data["prompt"] == finished_job.prompt
    assert data["model"] == "Offline demo (no AI)"
    assert data["parameters"] == {"n": 1}
    assert data["created"] and data["started"] and data["finished"]
    assert data["error"] is None
    [result] = data["results"]
    assert (result["width"], result["height"], result["format"]) == (64, 48, "PNG")
    image = finished_job.images.get(role=ImageRole.RESULT)
    assert result["url"].endswith(f"/images/{image.pk}/")
    assert result["bytes"] == image.bytes


def test_the_status_fragment_stops_polling_once_final(alice_client: Client, alice: Any) -> None:
    job = make_job(user=alice, images=[image_bytes()])
    running = alice_client.get(f"/jobs/{job.pk}/status/", HTTP_HX_REQUEST="true")
    assert running.status_code == 200
    assert 'hx-trigger="every 1s"' in running.content.decode()
    pipeline.run_job(job_id=str(job.pk))
    final = alice_client.get(f"/jobs/{job.pk}/status/", HTTP_HX_REQUEST="true")
    assert final.status_code == 286
    assert "Succeeded" in final.content.decode()
    # The final poll also swaps in the details rendered while the job ran.
    assert (
        'id="job-details" aria-labelledby="job-details-title" hx-swap-oob="true"'
        in final.content.decode()
    )
    assert "hx-swap-oob" not in running.content.decode()


def test_the_owner_can_trash_a_job_then_delete_it_and_its_files(
    alice_client: Client, finished_job: Job, media_dir: Any, django_capture_on_commit_callbacks: Any
) -> None:
    names = [
        name
        for image in finished_job.images.all()
        for name in (image.file.name, image.thumbnail.name)
        if name
    ]
    assert names and all(default_storage.exists(name) for name in names)
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post(f"/jobs/{finished_job.pk}/delete/")
    assert response.status_code == 302
    assert Job.objects.get(pk=finished_job.pk).trashed is not None
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post("/history/trash/delete/", {"jobs": [str(finished_job.pk)]})
    assert response.status_code == 302
    assert not Job.objects.filter(pk=finished_job.pk).exists()
    assert not any(default_storage.exists(name) for name in names)


def test_pages_do_not_load_the_saved_provider_answer(alice: Any) -> None:
    from editor import selectors

    job = make_job(user=alice)
    Job.objects.filter(pk=job.pk).update(provider_response={"data": [{"b64_json": "A" * 100_000}]})
    loaded = selectors.job_for_user(user=alice, job_id=job.pk)
    assert "provider_response" in loaded.get_deferred_fields()
