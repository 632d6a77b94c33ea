"""Nothing a logged-in person gets may be kept by a cache: every page and
every file says ``Cache-Control: private, no-store``."""

from __future__ import annotations

from typing import Any

from django.test import Client
from django.utils.cache import get_max_age

from editor import pipeline
from editor.models import Job
from tests.factories import make_job
from tests.images import mask_bytes
from tests.test_media_privacy import app_routes, owner_urls


def assert_private(response: Any, url: str) -> None:
    directives = {part.strip() for part in response.get("Cache-Control", "").split(",")}
    assert {"private", "no-store"} <= directives, (url, response.get("Cache-Control"))
    assert "public" not in directives and not get_max_age(response), url


def test_every_page_and_file_of_a_logged_in_user_is_private(
    alice: Any, alice_client: Client
) -> None:
    job = make_job(user=alice, mask=mask_bytes(64, 48, box=(0, 0, 10, 10)))
    pipeline.run_job(job_id=str(job.pk))
    job = Job.objects.get(pk=job.pk)
    checked = 0
    for route, _ in app_routes():
        if "delete" in route or "cancel" in route or route.startswith("accounts/log"):
            continue
        for url in owner_urls(route, job):
            response = alice_client.get(url)
            assert_private(response, url)
            checked += 1
    # The downloads and a refusal too.
    for url, data in (
        ("/history/download/", {"jobs": [str(job.pk)]}),
        ("/history/delete/", {}),
    ):
        assert_private(alice_client.post(url, data), url)
    assert_private(alice_client.get("/no-such-page/"), "404")
    assert checked > 15


def test_public_pages_carry_no_private_header_of_ours(client: Client, db: None) -> None:
    response = client.get("/accounts/signup/")
    assert response.status_code == 200
    assert "Cache-Control" not in response
    # The login page is never cached by Django's own choice.
    assert "no-store" in client.get("/accounts/login/")["Cache-Control"]
