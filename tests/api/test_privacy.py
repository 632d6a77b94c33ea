"""Another user's token never reaches this user's jobs, files or results."""

from __future__ import annotations

import time
from typing import Any

import openai
import pytest
from django.core import signing
from django.test import Client

from editor.api import answers
from editor.models import ImageRole, Job
from tests.api.conftest import sdk
from tests.images import image_bytes
from tests.media_helpers import is_presigned_redirect

pytestmark = pytest.mark.worker


def bearer(secret: str) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Bearer {secret}")


@pytest.fixture
def carols_job(celery_worker: Any, live_server: Any, carol_token: Any) -> Any:
    """A finished offline edit of Carol's, made through the API, with its result URL."""
    client = sdk(live_server, carol_token.secret)
    answer = client.images.edit(
        model="offline/offline-demo",
        image=("photo.png", image_bytes(32, 32), "image/png"),
        prompt="make it black and white",
        response_format="url",
    )
    return Job.objects.get(owner=carol_token.token.owner), answer.data[0].url


def test_the_jobs_endpoint_answers_its_owner_only(
    carols_job: Any, carol_token: Any, dave_token: Any
) -> None:
    job, _ = carols_job

    assert bearer(carol_token.secret).get(f"/v1/images/jobs/{job.pk}").status_code == 200
    refused = bearer(dave_token.secret).get(f"/v1/images/jobs/{job.pk}")
    assert refused.status_code == 404
    assert refused.json()["error"]["code"] == "job_not_found"
    assert bearer(dave_token.secret).get("/v1/images/jobs/not-a-uuid").status_code == 404


def test_a_result_url_reads_that_result_only(
    carols_job: Any, carol_token: Any, dave_token: Any, monkeypatch: Any
) -> None:
    job, url = carols_job
    path = url.split("://", 1)[1].partition("/")[2]
    result = job.images.get(role=ImageRole.RESULT)
    the_input = job.images.get(role=ImageRole.INPUT)

    signed = Client().get("/" + path)  # signed: no token needed
    assert signed.status_code == 200 or is_presigned_redirect(signed)
    # The same signature on another file (the input, say) is no key to it.
    signed = path.rstrip("/").rsplit("/", 1)[1]
    swapped = signed.replace(
        signing.b64_encode(f'{{"i":"{result.pk}"'.encode()).decode()[:20],
        signing.b64_encode(f'{{"i":"{the_input.pk}"'.encode()).decode()[:20],
    )
    assert swapped != signed
    assert Client().get(f"/v1/images/results/{swapped}").status_code == 404
    assert Client().get(f"/v1/images/results/{signed[:-3]}abc").status_code == 404
    # An hour later the URL has expired.
    later = time.time() + answers.URL_LIFETIME_SECONDS + 5
    monkeypatch.setattr(signing.time, "time", lambda: later)
    assert Client().get("/" + path).status_code == 404


def test_another_user_cannot_edit_from_a_result_url(
    carols_job: Any, live_server: Any, carol_token: Any, dave_token: Any
) -> None:
    _, url = carols_job
    body = {"model": "offline/offline-demo", "prompt": "invert", "images": [{"image_url": url}]}

    refused = bearer(dave_token.secret).post(
        "/v1/images/edits", body, content_type="application/json"
    )
    again = bearer(carol_token.secret).post(
        "/v1/images/edits",
        {**body, "darkroom_async": True},
        content_type="application/json",
    )

    assert refused.status_code == 400
    assert "not found" in refused.json()["error"]["message"]
    assert not Job.objects.filter(owner=dave_token.token.owner).exists()
    assert again.status_code == 202  # its owner may continue from it


def test_a_token_lists_and_reaches_only_its_own_users_jobs(
    carols_job: Any, live_server: Any, dave_token: Any
) -> None:
    job, _ = carols_job
    dave = sdk(live_server, dave_token.secret)

    with pytest.raises(openai.NotFoundError):
        dave.get(f"/images/jobs/{job.pk}", cast_to=object)
    models = {model.id for model in dave.models.list()}
    assert "offline/offline-demo" in models
