"""Media on S3-compatible storage (moto's standalone server on loopback)."""

from __future__ import annotations

import hashlib
from typing import Any

import httpx
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import Client

from editor import pipeline
from editor.models import ImageRole, JobStatus
from tests.factories import make_job

BUCKET = "darkroom-test"


def test_a_job_stores_its_files_in_the_bucket(alice: Any, s3_media: Any) -> None:
    job = make_job(user=alice)
    pipeline.run_job(job_id=str(job.pk))
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.error
    keys = {
        item["Key"] for item in s3_media.client().list_objects_v2(Bucket=BUCKET).get("Contents", [])
    }
    # Thumbnails are made on first view, not while the job runs.
    stored = {
        name
        for image in job.images.all()
        for name in (image.file.name, image.thumbnail.name)
        if name
    }
    assert stored and stored <= keys


def test_the_owner_is_redirected_to_a_presigned_url_and_others_get_404(
    alice: Any, alice_client: Client, bob_client: Client, s3_media: Any
) -> None:
    job = make_job(user=alice)
    pipeline.run_job(job_id=str(job.pk))
    result = job.images.get(role=ImageRole.RESULT)
    response = alice_client.get(f"/images/{result.pk}/")
    assert response.status_code == 302
    url = response["Location"]
    assert url.startswith(s3_media.endpoint)
    assert "X-Amz-Signature=" in url and "X-Amz-Expires=" in url
    fetched = httpx.get(url)
    assert fetched.status_code == 200
    assert hashlib.sha256(fetched.content).hexdigest() == result.sha256
    assert bob_client.get(f"/images/{result.pk}/").status_code == 404


def test_objects_are_private_and_never_overwritten(s3_media: Any) -> None:
    first = default_storage.save("jobs/x/image.png", ContentFile(b"first"))
    second = default_storage.save("jobs/x/image.png", ContentFile(b"second"))
    assert first != second
    with default_storage.open(first) as handle:
        assert handle.read() == b"first"
    grants = s3_media.client().get_object_acl(Bucket=BUCKET, Key=first)["Grants"]
    assert all(
        grant["Grantee"].get("URI", "").rsplit("/", 1)[-1] not in {"AllUsers", "AuthenticatedUsers"}
        for grant in grants
    )


def test_readyz_checks_the_bucket(db: None, s3_media: Any) -> None:
    assert Client().get("/readyz").json()["checks"]["storage"] == "ok"
    s3_media.stop()
    response = Client().get("/readyz")
    assert response.status_code == 503
    assert response.json()["failed"] == ["storage"]
