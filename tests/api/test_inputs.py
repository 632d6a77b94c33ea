"""What the image API reads: multipart or JSON, data URLs, plain or provider
model ids, Darkroom's own extensions. Jobs are made asynchronously here (no
worker), and each is checked in the database."""

from __future__ import annotations

import base64
import io
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from PIL import Image

from editor import catalog
from editor.api import tokens
from editor.models import ImageRole, Job, JobSource
from tests.images import image_bytes


def data_url(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode()


def openai_mask(width: int, height: int) -> bytes:
    mask = Image.new("RGBA", (width, height), (0, 0, 0, 255))
    mask.paste((0, 0, 0, 0), (0, 0, width // 2, height))
    buffer = io.BytesIO()
    mask.save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def api(alice: User) -> Client:
    secret = tokens.token_create(user=alice, name="tests").secret
    return Client(HTTP_AUTHORIZATION=f"Bearer {secret}", HTTP_PREFER="respond-async")


def test_a_json_edit_takes_data_urls_and_image_url_objects(api: Client, alice: User) -> None:
    body = {
        "model": "offline-demo",  # a plain id: one provider serves it
        "prompt": "make it blue",
        "images": [data_url(image_bytes(40, 30)), {"image_url": data_url(image_bytes(20, 20))}],
        "mask": {"image_url": data_url(openai_mask(40, 30))},
    }

    answer = api.post("/v1/images/edits", body, content_type="application/json")

    assert answer.status_code == 202, answer.content
    job = Job.objects.get(owner=alice)
    assert str(job.pk) == answer.json()["id"]
    assert job.source == JobSource.API and job.kind == "edit"
    inputs = sorted(
        (i for i in job.images.all() if i.role == ImageRole.INPUT), key=lambda i: i.position
    )
    assert [(i.width, i.height) for i in inputs] == [(40, 30), (20, 20)]
    mask = job.images.get(role=ImageRole.MASK)
    with mask.file.open("rb") as handle:
        stored = Image.open(io.BytesIO(handle.read())).convert("L")
    # Stored in Darkroom's own convention: white = change (the transparent half).
    assert stored.getpixel((5, 5)) == 255 and stored.getpixel((35, 5)) == 0


def test_a_multipart_edit_takes_image_brackets_and_darkroom_parent(
    api: Client, alice: User
) -> None:
    first = api.post(
        "/v1/images/edits",
        {"prompt": "invert", "model": "offline/offline-demo", "image": io.BytesIO(image_bytes())},
    )
    parent_id = first.json()["id"]
    files = [io.BytesIO(image_bytes(30, 30)), io.BytesIO(image_bytes(10, 10))]

    second = api.post(
        "/v1/images/edits",
        {
            "prompt": "blur",
            "model": "offline/offline-demo",
            "image[]": files,
            "darkroom_parent": parent_id,
        },
    )

    assert second.status_code == 202, second.content
    job = Job.objects.get(pk=second.json()["id"])
    assert str(job.parent_id) == parent_id
    assert job.images.filter(role=ImageRole.INPUT).count() == 2


def test_a_parent_of_another_user_is_not_found(api: Client, bob: User) -> None:
    bobs = tokens.token_create(user=bob, name="b").secret
    made = Client(HTTP_AUTHORIZATION=f"Bearer {bobs}", HTTP_PREFER="respond-async").post(
        "/v1/images/generations",
        {"prompt": "a cat", "model": "offline/offline-demo"},
        content_type="application/json",
    )
    refused = api.post(
        "/v1/images/generations",
        {"prompt": "a cat", "model": "offline/offline-demo", "darkroom_parent": made.json()["id"]},
        content_type="application/json",
    )

    assert refused.status_code == 400
    assert refused.json()["error"]["message"] == "The earlier job this continues was not found."


def test_clients_default_values_pass_for_a_model_without_the_parameter(
    api: Client, alice: User
) -> None:
    # The SDK and Open WebUI send quality=auto and the like; the demo has no quality.
    answer = api.post(
        "/v1/images/generations",
        {"prompt": "a cat", "model": "offline/offline-demo", "quality": "auto", "user": "u-1"},
        content_type="application/json",
    )
    refused = api.post(
        "/v1/images/generations",
        {"prompt": "a cat", "model": "offline/offline-demo", "quality": "high"},
        content_type="application/json",
    )

    assert answer.status_code == 202, answer.content
    assert refused.status_code == 400
    assert "does not support: quality" in refused.json()["error"]["message"]


def test_a_plain_id_served_by_two_providers_must_be_named_fully(api: Client, alice: User) -> None:
    catalog.provider_create(name="demo-two", kind="offline")

    refused = api.post(
        "/v1/images/generations",
        {"prompt": "a cat", "model": "offline-demo"},
        content_type="application/json",
    )

    assert refused.status_code == 400
    error = refused.json()["error"]
    assert error["code"] == "model_ambiguous"
    assert (
        "offline/offline-demo" in error["message"] and "demo-two/offline-demo" in error["message"]
    )


def test_other_addresses_are_never_fetched(api: Client, alice: User) -> None:
    refused = api.post(
        "/v1/images/edits",
        {"prompt": "x", "images": [{"image_url": "http://169.254.169.254/latest/meta-data"}]},
        content_type="application/json",
    )

    assert refused.status_code == 400
    assert "does not fetch other addresses" in refused.json()["error"]["message"]
    assert not Job.objects.exists()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"prompt": "x", "images": ["data:image/png;base64,@@@"]}, "not valid base64"),
        ({"prompt": "x", "images": [data_url(b"not an image")]}, "image 1"),
        ({"prompt": "x", "images": []}, "at least one image"),
        ({"prompt": ["x"], "images": []}, "must be a string"),
        ({"prompt": "x", "response_format": "gif"}, "response_format"),
    ],
)
def test_bad_json_edits_get_a_clear_message(
    api: Client, alice: User, body: dict[str, Any], message: str
) -> None:
    refused = api.post("/v1/images/edits", body, content_type="application/json")

    assert refused.status_code == 400, refused.content
    assert message in refused.json()["error"]["message"]
    assert not Job.objects.exists()


def test_an_idempotency_key_too_long_is_refused(api: Client) -> None:
    refused = api.post(
        "/v1/images/generations",
        {"prompt": "a cat", "model": "offline/offline-demo"},
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="k" * 256,
    )

    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "invalid_idempotency_key"


def test_a_request_reads_its_model_once(api: Client, alice: User) -> None:
    """The API looks the model up as this user; the editor's form and the
    admission take that model as it is instead of reading it again."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    body = {"model": "offline-demo", "prompt": "a lighthouse"}
    with CaptureQueriesContext(connection) as queries:
        answer = api.post("/v1/images/generations", body, content_type="application/json")
    assert answer.status_code == 202, answer.content
    reads = [
        query["sql"]
        for query in queries.captured_queries
        if query["sql"].startswith("SELECT") and 'FROM "editor_imagemodel"' in query["sql"]
    ]
    # The lookup only: the admission trusts a model read as available to
    # this user in the same request (limits.submission_admit).
    assert len(reads) == 1, reads
