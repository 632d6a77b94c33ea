"""The trash: deleting moves a job there, Undo and the trash page bring it
back, "delete for good" and the periodic purge remove it with its files."""

from __future__ import annotations

import io
import re
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.conf import settings
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone

from editor import pipeline, search, selectors, services, tasks
from editor.models import ImageRole, Job, JobStatus, JobWord
from tests.factories import make_job
from tests.media_helpers import add_result, body_of


def files_of(job: Job) -> set[str]:
    return {
        name
        for image in job.images.all()
        for name in (image.file.name, image.thumbnail.name)
        if name
    }


def trash(job: Job, *, days_ago: float = 0) -> Job:
    services.jobs_trash(jobs=Job.objects.filter(pk=job.pk))
    if days_ago:
        Job.objects.filter(pk=job.pk).update(trashed=timezone.now() - timedelta(days=days_ago))
    job.refresh_from_db()
    return job


def undo_ids(body: str) -> list[str]:
    form = re.search(r'<form[^>]*class="inline undo-form".*?</form>', body, re.S)
    assert form, "no Undo button"
    return re.findall(r'name="jobs" value="([^"]+)"', form.group())


def test_deleting_a_job_moves_it_to_the_trash_and_undo_brings_it_back(
    alice: Any, alice_client: Client
) -> None:
    job = make_job(user=alice, prompt="a lighthouse at dusk")
    add_result(job)
    response = alice_client.post(f"/jobs/{job.pk}/delete/")
    assert response.status_code == 302 and response["Location"] == "/history/"
    job.refresh_from_db()
    assert job.trashed is not None
    files = files_of(job)
    assert files and all(default_storage.exists(name) for name in files)

    history = alice_client.get("/history/").content.decode()
    assert "Moved 1 job to the trash." in history
    assert f'data-job="{job.pk}"' not in history  # gone from the list
    assert undo_ids(history) == [str(job.pk)]
    assert str(job.pk) not in alice_client.get("/history/?q=lighthouse").content.decode()
    assert alice_client.get(f"/jobs/{job.pk}/").status_code == 404
    # The message (and its button) is shown once.
    assert "undo-form" not in alice_client.get("/history/").content.decode()

    response = alice_client.post("/history/trash/restore/", {"jobs": undo_ids(history)})
    assert response.status_code == 302 and response["Location"] == "/history/"
    job.refresh_from_db()
    assert job.trashed is None
    assert "Restored 1 job." in alice_client.get("/history/").content.decode()
    assert str(job.pk) in alice_client.get("/history/?q=lighthouse").content.decode()
    assert alice_client.get(f"/jobs/{job.pk}/").status_code == 200


def test_undo_of_a_selection_is_one_button_for_all_of_it(alice: Any, alice_client: Client) -> None:
    jobs = [make_job(user=alice), make_job(user=alice)]
    alice_client.post("/history/delete/", {"jobs": [str(job.pk) for job in jobs]})
    history = alice_client.get("/history/").content.decode()
    assert "Moved 2 jobs to the trash." in history
    assert sorted(undo_ids(history)) == sorted(str(job.pk) for job in jobs)
    response = alice_client.post(
        "/history/trash/restore/", {"jobs": undo_ids(history)}, HTTP_HX_REQUEST="true"
    )
    assert response["HX-Redirect"] == "/history/"
    assert Job.objects.filter(trashed=None).count() == 2


def test_the_trash_page_lists_only_the_users_trashed_jobs(
    alice: Any, bob: Any, alice_client: Client, bob_client: Client
) -> None:
    trashed = trash(make_job(user=alice, prompt="gone but not forgotten"))
    kept = make_job(user=alice, prompt="still here")
    bobs = trash(make_job(user=bob, prompt="bob's secret"))
    body = alice_client.get("/history/trash/").content.decode()
    assert "gone but not forgotten" in body and str(trashed.pk) in body
    assert str(kept.pk) not in body
    assert "bob's secret" not in body and str(bobs.pk) not in body
    assert "deleted for good" in body
    assert "gone but not forgotten" not in bob_client.get("/history/trash/").content.decode()


def test_another_user_can_neither_restore_nor_delete_nor_see_a_trashed_job(
    alice: Any,
    bob: Any,
    bob_client: Client,
    django_capture_on_commit_callbacks: Any,
) -> None:
    job = make_job(user=alice)
    add_result(job)
    job = trash(job)
    files = files_of(job)
    with django_capture_on_commit_callbacks(execute=True):
        bob_client.post("/history/trash/restore/", {"jobs": [str(job.pk)]})
        bob_client.post("/history/trash/delete/", {"jobs": [str(job.pk)]})
    job.refresh_from_db()
    assert job.trashed is not None
    assert all(default_storage.exists(name) for name in files)
    assert bob_client.get(f"/jobs/{job.pk}/").status_code == 404
    assert bob_client.get(f"/jobs/{job.pk}/row/").status_code == 404
    for image in job.images.all():
        assert bob_client.get(f"/images/{image.pk}/").status_code == 404
        assert bob_client.get(f"/images/{image.pk}/thumb/").status_code == 404


def test_the_owner_still_sees_the_pictures_of_a_trashed_job(
    alice: Any, alice_client: Client
) -> None:
    job = trash(make_job(user=alice))
    image = job.images.get(role=ImageRole.INPUT)
    assert body_of(alice_client.get(f"/images/{image.pk}/thumb/"))
    assert f"/images/{image.pk}/thumb/" in alice_client.get("/history/trash/").content.decode()


def test_trashing_or_restoring_twice_changes_nothing(alice: Any, alice_client: Client) -> None:
    job = make_job(user=alice)
    alice_client.post(f"/jobs/{job.pk}/delete/")
    first = Job.objects.get(pk=job.pk).trashed
    # Deleting it again (an old tab) changes nothing.
    assert alice_client.post(f"/jobs/{job.pk}/delete/").status_code == 404
    assert Job.objects.get(pk=job.pk).trashed == first
    alice_client.post("/history/trash/restore/", {"jobs": [str(job.pk)]})
    alice_client.post("/history/trash/restore/", {"jobs": [str(job.pk)]})
    assert JobWord.objects.filter(job_id=job.pk).count() == len(search.terms_of(job.prompt))


def test_trashed_jobs_leave_zips_and_storage_but_still_count_as_spent(
    alice: Any, alice_client: Client
) -> None:
    kept = make_job(user=alice)
    add_result(kept)
    gone = make_job(user=alice)
    add_result(gone)
    Job.objects.filter(pk__in=[kept.pk, gone.pk]).update(cost=Decimal("0.021"))
    storage_before = selectors.storage_used(user=alice)
    gone = trash(gone)
    assert selectors.storage_used(user=alice) == storage_before - gone.stored_bytes
    assert selectors.storage_used(user=alice) == Job.objects.get(pk=kept.pk).stored_bytes
    # Money spent is spent: the month still shows both jobs.
    spend = alice_client.get("/history/storage/").content.decode()
    assert "$0.042" in spend and "(2 jobs)" in spend
    assert alice_client.get(f"/jobs/{gone.pk}/download/").status_code == 404
    response = alice_client.post("/history/download/", {"jobs": [str(gone.pk)]})
    assert response.status_code == 404
    response = alice_client.post("/history/download/", {"jobs": [str(gone.pk), str(kept.pk)]})
    names = body_of(response)
    assert str(kept.pk)[:8].encode() in names and str(gone.pk)[:8].encode() not in names


def test_a_job_trashed_while_queued_still_runs_and_keeps_its_result(alice: Any) -> None:
    job = trash(make_job(user=alice))
    pipeline.run_job(job_id=str(job.pk))
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED and job.trashed is not None
    result = job.images.get(role=ImageRole.RESULT)
    assert default_storage.exists(result.file.name)
    assert job.stored_bytes >= result.bytes
    page = selectors.history_page(user=alice)
    assert job.pk not in [row.pk for row in page.jobs]


def test_the_purge_deletes_jobs_trashed_longer_ago_than_the_setting_with_their_files(
    alice: Any, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.DARKROOM_TRASH_DAYS = 30
    old = make_job(user=alice)
    add_result(old)
    old = trash(old, days_ago=31)
    old_files = files_of(old)
    recent = trash(make_job(user=alice), days_ago=29)
    running = trash(make_job(user=alice), days_ago=40)
    Job.objects.filter(pk=running.pk).update(status=JobStatus.RUNNING)
    kept = make_job(user=alice)
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.purge_trash() == 1
    assert not Job.objects.filter(pk=old.pk).exists()
    assert old_files and not any(default_storage.exists(name) for name in old_files)
    assert set(Job.objects.values_list("pk", flat=True)) == {recent.pk, running.pk, kept.pk}
    assert all(default_storage.exists(name) for name in files_of(recent))


def test_the_purge_command_empties_the_trash_now(
    alice: Any, django_capture_on_commit_callbacks: Any
) -> None:
    job = trash(make_job(user=alice), days_ago=45)
    recent = trash(make_job(user=alice))
    out = io.StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("purge_trash", stdout=out)
    assert "Deleted 1 job from the trash." in out.getvalue()
    assert not Job.objects.filter(pk=job.pk).exists()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("purge_trash", days=0, stdout=out)
    assert not Job.objects.filter(pk=recent.pk).exists()
    with pytest.raises(CommandError, match="negative"):
        call_command("purge_trash", days=-1, stdout=out)


def test_beat_runs_the_purge() -> None:
    entry = settings.CELERY_BEAT_SCHEDULE["purge-trash"]
    assert entry["task"] == "editor.purge_trash"
    assert tasks.purge_trash.name == "editor.purge_trash"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("/history/trash/restore/", "No job was selected, so nothing was restored."),
        ("/history/trash/delete/", "No job was selected, so nothing was deleted."),
    ],
)
def test_an_empty_selection_in_the_trash_is_refused_readably(
    alice: Any, alice_client: Client, url: str, message: str
) -> None:
    trash(make_job(user=alice))
    response = alice_client.post(url, {})
    assert response.status_code == 400 and message in response.content.decode()
    assert Job.objects.filter(trashed__isnull=False).count() == 1


# --- Live rows ---------------------------------------------------------------


def test_a_running_row_polls_until_the_job_is_final(
    alice: Any, bob_client: Client, alice_client: Client
) -> None:
    job = make_job(user=alice)
    history = alice_client.get("/history/").content.decode()
    assert f'hx-get="/jobs/{job.pk}/row/"' in history
    live = alice_client.get(f"/jobs/{job.pk}/row/")
    assert live.status_code == 200 and 'data-status="queued"' in live.content.decode()
    assert f'hx-get="/jobs/{job.pk}/row/"' in live.content.decode()
    pipeline.run_job(job_id=str(job.pk))
    done = alice_client.get(f"/jobs/{job.pk}/row/")
    assert done.status_code == 286
    body = done.content.decode()
    assert 'data-status="succeeded"' in body and "hx-get" not in body
    assert "/thumb/" in body
    assert f'hx-get="/jobs/{job.pk}/row/"' not in alice_client.get("/history/").content.decode()
    assert bob_client.get(f"/jobs/{job.pk}/row/").status_code == 404
