"""ZIP downloads of results: one job or a selection, streamed, owner only."""

from __future__ import annotations

import io
import os
import tracemalloc
import zipfile
from typing import Any

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import Client

from editor import media
from editor.models import ImageRole, Job, JobImage
from tests.factories import make_job
from tests.images import image_bytes
from tests.media_helpers import add_result


def archive(response: Any) -> zipfile.ZipFile:
    assert response.streaming, "the archive must be streamed, not built in memory"
    return zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))


def test_a_job_zip_holds_every_result_byte_for_byte(alice: Any, alice_client: Client) -> None:
    job = make_job(user=alice)
    first = image_bytes(40, 30, colour=(1, 2, 3))
    second = image_bytes(30, 40, image_format="JPEG", colour=(200, 100, 0))
    add_result(job, first)
    add_result(job, second)
    response = alice_client.get(f"/jobs/{job.pk}/download/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"] == f'attachment; filename="darkroom-{job.pk}.zip"'
    with archive(response) as zipped:
        assert zipped.testzip() is None
        assert zipped.namelist() == ["result-1.png", "result-2.jpg"]
        assert zipped.read("result-1.png") == first
        assert zipped.read("result-2.jpg") == second
        # Images are compressed already: stored, not deflated again.
        assert {info.compress_type for info in zipped.infolist()} == {zipfile.ZIP_STORED}


def test_a_selection_zip_has_a_folder_per_job_and_only_the_users_jobs(
    alice: Any, bob: Any, alice_client: Client
) -> None:
    jobs = [make_job(user=alice, prompt=f"job {index}") for index in range(2)]
    for job in jobs:
        add_result(job)
    without_results = make_job(user=alice)
    bobs = make_job(user=bob)
    add_result(bobs)
    selection = [str(job.pk) for job in [*jobs, without_results, bobs]]
    response = alice_client.post("/history/download/", {"jobs": selection})
    assert response.status_code == 200
    with archive(response) as zipped:
        names = zipped.namelist()
    assert len(names) == 2
    for job in jobs:
        assert any(
            name.startswith(f"{job.created:%Y%m%d-%H%M%S}-{str(job.pk)[:8]}/result-1")
            for name in names
        )
    assert not any(str(bobs.pk)[:8] in name for name in names)


def test_another_user_gets_nothing(alice: Any, bob_client: Client) -> None:
    job = make_job(user=alice)
    add_result(job)
    assert bob_client.get(f"/jobs/{job.pk}/download/").status_code == 404
    response = bob_client.post("/history/download/", {"jobs": [str(job.pk)]})
    assert response.status_code == 404
    assert b"None of the selected jobs has results" in response.content


def test_anonymous_visitors_are_sent_to_log_in(alice: Any, client: Client) -> None:
    job = make_job(user=alice)
    add_result(job)
    for response in (
        client.get(f"/jobs/{job.pk}/download/"),
        client.post("/history/download/", {"jobs": [str(job.pk)]}),
    ):
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")


def test_a_bad_selection_is_rejected_with_a_message(alice: Any, alice_client: Client) -> None:
    response = alice_client.post("/history/download/", {"jobs": ["nope"]})
    assert response.status_code == 400
    assert b"not a job" in response.content


def big_result(job: Job, size: int) -> JobImage:
    """A result file of ``size`` incompressible bytes (the archive only copies it)."""
    name = default_storage.save(f"jobs/{job.pk}/big.png", ContentFile(os.urandom(size)))
    return JobImage.objects.create(
        job=job,
        role=ImageRole.RESULT,
        position=0,
        file=name,
        width=1,
        height=1,
        format="PNG",
        bytes=size,
        sha256="",
    )


def test_the_archive_is_produced_in_small_pieces(alice: Any) -> None:
    job = make_job(user=alice)
    size = 8 * 1024 * 1024
    image = big_result(job, size)
    pieces = media.zip_stream([media.ZipMember(name="big.png", image=image)], chunk_size=65536)
    # Storage clients load their setup once (boto3 reads megabytes of service
    # models): do it before counting.
    assert image.file.storage.exists(image.file.name)
    tracemalloc.start()
    try:
        total = 0
        largest = 0
        count = 0
        for piece in pieces:
            total += len(piece)
            largest = max(largest, len(piece))
            count += 1
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total > size and count > 100
    assert largest <= 65536 + 1024
    # Never the whole archive (8 MB) in memory: a few chunks at most.
    assert peak < 1024 * 1024


def test_a_streamed_archive_of_a_big_file_is_valid(alice: Any, alice_client: Client) -> None:
    job = make_job(user=alice)
    image = big_result(job, 3 * 1024 * 1024 + 7)
    response = alice_client.get(f"/jobs/{job.pk}/download/")
    with archive(response) as zipped, image.file.open("rb") as original:
        assert zipped.read("result-1.png") == original.read()
