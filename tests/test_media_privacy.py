"""Private media: every URL of the app as the owner, another user and a
visitor; files served through nginx (X-Accel-Redirect) or S3 (presigned URLs)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from editor import pipeline, selectors
from editor.models import ApiToken, ImageRole, Job, JobImage
from tests.factories import make_job
from tests.images import image_bytes, mask_bytes
from tests.media_helpers import body_of, is_presigned_redirect, stored
from tests.services import MotoS3

MARKER = "zanzibar-quokka-marker"


@pytest.fixture
def alice_job(alice: Any) -> Job:
    """A finished job of Alice's with every kind of file: inputs, mask, result."""
    job = make_job(
        user=alice,
        prompt=f"make it black and white {MARKER}",
        mask=mask_bytes(64, 48, box=(0, 0, 10, 10)),
    )
    pipeline.run_job(job_id=str(job.pk))
    job.refresh_from_db()
    roles = set(job.images.values_list("role", flat=True))
    assert {ImageRole.INPUT, ImageRole.MASK, ImageRole.RESULT} <= roles
    return job


# --- Every URL of the app ----------------------------------------------------------


def app_routes() -> list[tuple[str, URLPattern]]:
    """Every route of the app (the admin is checked on its own below)."""
    routes: list[tuple[str, URLPattern]] = []

    def walk(patterns: list[Any], prefix: str) -> None:
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                if pattern.app_name != "admin":
                    walk(pattern.url_patterns, route)
            else:
                routes.append((route, pattern))

    walk(get_resolver().url_patterns, "")
    return routes


# Routes anyone may open; they must show nothing of anybody's jobs.
PUBLIC = {
    "healthz",
    "readyz",
    "accounts/signup/",
    "accounts/signup/invite/<str:token>/",
    "accounts/confirm-email/<str:token>/",
    "accounts/login/",
    "accounts/logout/",
    "accounts/password_reset/",
    "accounts/password_reset/done/",
    "accounts/reset/<uidb64>/<token>/",
    "accounts/reset/done/",
}
PARAMETER = re.compile(r"<(?:(\w+):)?(\w+)>")


def owner_urls(route: str, job: Job) -> list[str]:
    """``route`` filled with the owner's objects: one URL per value to try."""
    images = list(job.images.all())
    token, _ = ApiToken.objects.get_or_create(
        owner=job.owner, name="scripts", defaults={"prefix": "drk_x", "secret_hash": "0" * 64}
    )
    values: dict[str, list[str]] = {
        "token_id": [str(token.pk)],
        # The image API (/v1/): a model id, and a result URL's signature (a
        # real one is a capability, tested in tests/api/test_privacy.py).
        "model_id": ["offline/offline-demo"],
        "signed": ["forged-signature"],
        "job_id": [str(job.pk)],
        "image_id": [str(image.pk) for image in images],
        "variant": ["thumb", "download"],
        "uidb64": ["MQ"],
        "token": ["set-password"],
    }
    names = [name for _, name in PARAMETER.findall(route)]
    unknown = [name for name in names if name not in values]
    if unknown:
        pytest.fail(f"{route}: teach this test what to put in {unknown} (a new kind of URL)")
    urls = ["/" + route]
    for name in names:
        urls = [
            PARAMETER.sub(value, url, count=1)
            for url in urls
            for value in values[name]
            if PARAMETER.search(url) and PARAMETER.search(url).group(2) == name  # type: ignore[union-attr]
        ]
    return urls


def secrets_of(job: Job) -> list[str]:
    return [MARKER, str(job.pk), *(str(image.pk) for image in job.images.all())]


def test_the_walk_covers_the_routes_of_jobs_and_files() -> None:
    routes = {route for route, _ in app_routes()}
    assert {
        "jobs/<uuid:job_id>/",
        "images/<uuid:image_id>/<str:variant>/",
        "history/",
        "history/delete/",
        "jobs/<uuid:job_id>/download/",
    } <= routes


def test_only_the_owner_gets_anything_from_any_url(
    alice_job: Job,
    alice_client: Client,
    bob: Any,
    bob_client: Client,
    client: Client,
    django_capture_on_commit_callbacks: Any,
) -> None:
    cursor = selectors.encode_cursor(alice_job)
    # Query strings that name Alice's objects, tried on every route.
    leaky_query = (
        f"?from_job={alice_job.pk}&parent={alice_job.pk}&job={alice_job.pk}"
        f"&from_image={alice_job.images.first().pk}&after={cursor}&jobs={alice_job.pk}"  # type: ignore[union-attr]
    )
    checked = 0
    for route, _ in app_routes():
        public = route in PUBLIC
        for url in owner_urls(route, alice_job):
            scoped = "<" in route and not public
            for method in ("get", "post"):
                data = {"jobs": [str(alice_job.pk)]} if route.startswith("history/") else {}
                # POST /accounts/logout/ logs Bob out: log him in again each time.
                bob_client.force_login(bob)
                with django_capture_on_commit_callbacks(execute=True):
                    as_bob = getattr(bob_client, method)(url, data)
                    bob_client.force_login(bob)
                    as_bob_query = bob_client.get(url + leaky_query)
                    as_visitor = getattr(client, method)(url, data)
                assert Job.objects.filter(pk=alice_job.pk).exists(), (method, url)
                for who, response in (
                    ("bob", as_bob),
                    ("visitor", as_visitor),
                    ("bob", as_bob_query),
                ):
                    body = (
                        b"".join(response.streaming_content)
                        if response.streaming
                        else response.content
                    )
                    text = body.decode(errors="replace")
                    leaked = [secret for secret in secrets_of(alice_job) if secret in text]
                    assert not leaked, f"{who} {method.upper()} {url}: {leaked}"
                    assert "X-Accel-Redirect" not in response, url
                    assert response.status_code != 200 or not body.startswith(
                        (b"\x89PNG", b"PK")
                    ), url
                if route.startswith("v1/"):
                    # The image API takes a token, never a session (429: wrong
                    # tokens from one address are throttled).
                    for who, response in (("bob", as_bob), ("visitor", as_visitor)):
                        assert response.status_code in (401, 404, 405, 429), f"{who} {url}"
                        assert response["Content-Type"] == "application/json", url
                    checked += 1
                    continue
                if scoped:
                    # Another user: the same answer as for a job that does not exist.
                    assert as_bob.status_code in (404, 405), f"bob {method.upper()} {url}"
                if not public:
                    assert as_visitor.status_code == 302, f"visitor {method.upper()} {url}"
                    assert as_visitor["Location"].startswith("/accounts/login/"), url
                checked += 1
            # The events stream answers its owner 204 when no push is configured
            # (tests/test_job_events.py covers what it sends).
            if (
                scoped
                and not route.startswith("v1/")
                and not any(verb in route for verb in ("delete", "cancel", "revoke", "events"))
            ):
                # The owner does get the content.
                owned = alice_client.get(url)
                assert owned.status_code in (200, 286) or is_presigned_redirect(owned), url
                assert body_of(owned), url
    assert checked > 20


def test_the_owner_gets_every_file(alice_job: Job, alice_client: Client) -> None:
    for image in alice_job.images.all():
        assert body_of(alice_client.get(f"/images/{image.pk}/")) == stored(image)
        download = alice_client.get(f"/images/{image.pk}/download/")
        assert body_of(download) == stored(image)
        disposition = (
            parse_qs(urlsplit(download["Location"]).query)["response-content-disposition"][0]
            if is_presigned_redirect(download)
            else download["Content-Disposition"]
        )
        assert disposition.startswith("attachment;")
        assert "private" in download["Cache-Control"]


def test_staff_see_other_users_files_only_through_the_admin(alice_job: Job, db: None) -> None:
    staff = User.objects.create_superuser("root", "root@example.com", "correct horse battery")
    client = Client()
    client.force_login(staff)
    for image in alice_job.images.all():
        assert client.get(f"/images/{image.pk}/").status_code == 404
    assert client.get(f"/jobs/{alice_job.pk}/").status_code == 404
    assert MARKER not in client.get("/history/").content.decode()
    page = client.get(f"/admin/editor/job/{alice_job.pk}/change/")
    assert page.status_code == 200
    result = alice_job.images.get(role=ImageRole.RESULT)
    admin_url = f"/admin/editor/job/{alice_job.pk}/images/{result.pk}/"
    assert admin_url in page.content.decode()
    assert body_of(client.get(admin_url)) == stored(result)
    # The image must belong to the job named in the URL.
    other = make_job(user=staff)
    assert client.get(f"/admin/editor/job/{other.pk}/images/{result.pk}/").status_code == 404


def test_the_admin_is_closed_to_users_who_are_not_staff(
    alice_job: Job, alice_client: Client, bob_client: Client, client: Client
) -> None:
    result = alice_job.images.get(role=ImageRole.RESULT)
    for url in (
        "/admin/",
        "/admin/editor/job/",
        f"/admin/editor/job/{alice_job.pk}/change/",
        f"/admin/editor/job/{alice_job.pk}/images/{result.pk}/",
    ):
        for who in (alice_client, bob_client, client):
            response = who.get(url)
            assert response.status_code == 302, url
            assert response["Location"].startswith(("/admin/login/", "/accounts/login/")), url


def test_stored_file_names_are_random_not_the_upload_name(
    alice_client: Client, offline_model: Any
) -> None:
    from tests.images import upload

    alice_client.post(
        "/",
        {
            "prompt": "invert",
            "image_model": offline_model.pk,
            "images": [upload(image_bytes(), "holiday-photo.png")],
        },
    )
    image = JobImage.objects.get()
    name = Path(image.file.name).stem
    assert "holiday" not in image.file.name
    assert uuid.UUID(hex=name)


# --- Behind nginx: X-Accel-Redirect -------------------------------------------------


def test_behind_nginx_the_owner_gets_an_internal_redirect(
    alice_job: Job, alice_client: Client, bob_client: Client, settings: Any
) -> None:
    settings.DARKROOM_X_ACCEL_PREFIX = "/protected-media/"
    settings.DARKROOM_STORAGE = "local"  # nginx serves files from a local folder
    image = alice_job.images.get(role=ImageRole.RESULT)
    response = alice_client.get(f"/images/{image.pk}/")
    assert response.status_code == 200
    assert response["X-Accel-Redirect"] == f"/protected-media/{image.file.name}"
    assert response.content == b""
    assert response["Content-Type"] == image.content_type
    thumb = alice_client.get(f"/images/{image.pk}/thumb/")
    image.refresh_from_db()
    assert thumb["X-Accel-Redirect"] == f"/protected-media/{image.thumbnail.name}"
    download = alice_client.get(f"/images/{image.pk}/download/")
    assert download["Content-Disposition"].startswith("attachment;")
    refused = bob_client.get(f"/images/{image.pk}/")
    assert refused.status_code == 404 and "X-Accel-Redirect" not in refused


# --- S3: presigned URLs ------------------------------------------------------------


@pytest.fixture(scope="module")
def moto_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """moto's standalone S3 server on a free loopback port."""
    with MotoS3(tmp_path_factory.mktemp("moto")) as server:
        yield server.endpoint


@pytest.fixture
def s3_storage(moto_endpoint: str, settings: Any) -> str:
    """The app on S3 storage (a fresh private bucket), as DARKROOM_STORAGE=s3 sets it up."""
    import boto3

    bucket = f"darkroom-{uuid.uuid4().hex[:12]}"
    credentials = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    boto3.client(
        "s3", endpoint_url=moto_endpoint, region_name="us-east-1", **credentials
    ).create_bucket(Bucket=bucket)
    settings.DARKROOM_STORAGE = "s3"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "webapp.object_storage.S3Storage",
            "OPTIONS": {
                "bucket_name": bucket,
                "endpoint_url": moto_endpoint,
                "region_name": "us-east-1",
                "access_key": "testing",
                "secret_key": "testing",
                "default_acl": "private",
                "file_overwrite": False,
                "querystring_auth": True,
                "signature_version": "s3v4",
                # Longer than allowed on purpose: the app must still cap it.
                "querystring_expire": 3600,
            },
        },
    }
    return bucket


def test_on_s3_the_owner_is_redirected_to_a_short_lived_presigned_url(
    s3_storage: str, alice_job: Job, alice_client: Client, bob_client: Client, client: Client
) -> None:
    image = alice_job.images.get(role=ImageRole.RESULT)
    assert image.file.storage.exists(image.file.name)
    response = alice_client.get(f"/images/{image.pk}/")
    assert response.status_code == 302
    assert "no-store" in response["Cache-Control"]
    location = response["Location"]
    query = parse_qs(urlsplit(location).query)
    assert s3_storage in location
    assert int(query["X-Amz-Expires"][0]) <= 900
    fetched = httpx.get(location, timeout=10)
    assert fetched.status_code == 200
    with image.file.open("rb") as handle:
        assert fetched.content == handle.read()
    # Without the signature, the private bucket refuses.
    assert httpx.get(location.split("?")[0], timeout=10).status_code == 403
    download = alice_client.get(f"/images/{image.pk}/download/")
    download_query = parse_qs(urlsplit(download["Location"]).query)
    assert download_query["response-content-disposition"][0].startswith("attachment;")
    assert (
        "attachment" in httpx.get(download["Location"], timeout=10).headers["content-disposition"]
    )
    for other in (bob_client, client):
        refused = other.get(f"/images/{image.pk}/")
        assert refused.status_code in (302, 404)
        assert s3_storage not in refused.get("Location", "")


def test_on_s3_a_deleted_job_leaves_nothing_readable(
    s3_storage: str,
    alice_job: Job,
    alice_client: Client,
    django_capture_on_commit_callbacks: Any,
) -> None:
    images = list(alice_job.images.all())
    links = [alice_client.get(f"/images/{image.pk}/")["Location"] for image in images]
    assert all(httpx.get(link, timeout=10).status_code == 200 for link in links)
    with django_capture_on_commit_callbacks(execute=True):
        alice_client.post("/history/delete/", {"jobs": [str(alice_job.pk)]})
        alice_client.post("/history/trash/delete/", {"jobs": [str(alice_job.pk)]})
    storage = images[0].file.storage
    for image in images:
        assert not storage.exists(image.file.name)
        assert not image.thumbnail or not storage.exists(image.thumbnail.name)
        assert alice_client.get(f"/images/{image.pk}/").status_code == 404
    # Even a presigned link handed out before the delete reads nothing now.
    assert all(httpx.get(link, timeout=10).status_code in (403, 404) for link in links)


def test_on_s3_a_job_zip_streams_from_the_bucket(
    s3_storage: str, alice_job: Job, alice_client: Client
) -> None:
    import io
    import zipfile

    response = alice_client.get(f"/jobs/{alice_job.pk}/download/")
    assert response.streaming
    zipped = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    result = alice_job.images.get(role=ImageRole.RESULT)
    with result.file.open("rb") as handle:
        assert zipped.read("result-1.png") == handle.read()
