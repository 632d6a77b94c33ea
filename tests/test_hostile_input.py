"""Every field of every view, sent hostile values: nothing answers 500, and
every refusal is a readable page (or, for htmx, a fragment).

The routes come from the URL resolver, like tests/test_media_privacy.py: a
new view fails here until this file is taught which fields it reads.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.models import User
from django.contrib.auth.tokens import default_token_generator
from django.core.cache import cache, caches
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.test.client import ClientHandler
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from editor import parameters, pipeline
from editor.api import tokens
from editor.forms import HistoryFilterForm, JobForm, SignupForm
from editor.models import ApiToken, ImageModel, ImageRole, Job, JobImage
from tests.factories import make_job
from tests.images import image_bytes, mask_bytes, upload
from tests.test_media_privacy import app_routes

MISSING = object()
PARAMETER = re.compile(r"<(?:(\w+):)?(\w+)>")


@dataclass
class World:
    """Alice's objects (she sends the requests) and Bob's (another user)."""

    alice: User
    job: Job
    image: JobImage
    mask: JobImage
    result: JobImage
    model: ImageModel
    bobs_job: Job
    bobs_image: JobImage
    bobs_mask: JobImage
    handler: ClientHandler


@pytest.fixture
def world(alice: User, bob: User, offline_model: ImageModel, settings: Any) -> World:
    # Hundreds of password checks: a fast hasher (nothing here logs in with one).
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # Made first, so the editor picks it: a model taking every parameter
    # Darkroom knows, so every parameter field exists.
    spec: dict[str, Any] = {}
    for name, definition in parameters.PARAMETERS.items():
        if definition.type == "choice":
            spec[name] = {"choices": ["auto", "pad", "a", "b"]}
        else:
            spec[name] = {"min": 1, "max": 4}
    model = ImageModel.objects.create(
        provider=offline_model.provider,
        model_id="everything",
        label="Everything",
        can_edit=True,
        can_generate=True,
        supports_mask=True,
        max_images=16,
        parameters=spec,
    )
    mask = mask_bytes(64, 48, box=(0, 0, 10, 10))
    job = make_job(user=alice, mask=mask, model=offline_model)
    pipeline.run_job(job_id=str(job.pk))
    bobs_job = make_job(user=bob, mask=mask, model=offline_model)
    return World(
        alice=alice,
        job=job,
        image=job.images.get(role=ImageRole.INPUT),
        mask=job.images.get(role=ImageRole.MASK),
        result=job.images.get(role=ImageRole.RESULT),
        model=model,
        bobs_job=bobs_job,
        bobs_image=bobs_job.images.get(role=ImageRole.INPUT),
        bobs_mask=bobs_job.images.get(role=ImageRole.MASK),
        handler=ClientHandler(enforce_csrf_checks=False),
    )


def hostile_values(world: World) -> list[tuple[str, Any]]:
    own_ids = (world.job.pk, world.image.pk, world.mask.pk)
    return [
        ("missing", MISSING),
        ("empty", ""),
        ("huge", "9" * 200_000),
        ("huge number", "9" * 40),
        ("negative", "-1"),
        ("not a number", "1e309"),
        ("uuid with junk", f"../{world.image.pk}x"),
        ("wrong type", "[]"),
        ("malformed uuid", "not-a-uuid"),
        *(
            (f"upper-case own id {index}", str(value).upper())
            for index, value in enumerate(own_ids)
        ),
        ("unknown uuid", str(uuid.uuid4())),
        ("another user's job", str(world.bobs_job.pk)),
        ("another user's image", str(world.bobs_image.pk)),
        ("another user's mask", str(world.bobs_mask.pk)),
        ("null byte", "a\x00b"),
        ("repeated", ["1", "2"]),
        ("repeated ids", [str(world.image.pk), str(world.image.pk)]),
        ("not an image", SimpleUploadedFile("x.png", b"not an image", "image/png")),
        ("empty file", SimpleUploadedFile("x.png", b"", "image/png")),
        ("truncated image", SimpleUploadedFile("x.png", image_bytes()[:40], "image/png")),
    ]


@dataclass
class Fields:
    """What a route reads: query fields (GET), form fields (POST), a baseline
    of plausible values that the hostile one replaces, and who asks."""

    get: set[str] = field(default_factory=set)
    post: set[str] = field(default_factory=set)
    baseline: Callable[[World], dict[str, Any]] = lambda world: {}
    # Pages for visitors (a logged-in user is sent away from some of them).
    anonymous: bool = False
    # Run before each request, with the client that sends it.
    prepare: Callable[[Client, World], None] = lambda client, world: None


def editor_baseline(world: World) -> dict[str, Any]:
    return {
        "prompt": "make it black and white",
        "image_model": str(world.model.pk),
        "images": upload(image_bytes()),
    }


def reset_link(world: World) -> tuple[str, str]:
    # Read again: a successful reset changes the password, and so the token.
    alice = User.objects.get(pk=world.alice.pk)
    return urlsafe_base64_encode(force_bytes(alice.pk)), default_token_generator.make_token(alice)


def open_reset_link(client: Client, world: World) -> None:
    """Follow Alice's reset link: the form is then served at .../set-password/."""
    uid, token = reset_link(world)
    assert client.get(f"/accounts/reset/{uid}/{token}/").status_code == 302


def editor_fields() -> set[str]:
    # Declared fields plus every parameter a model may add.
    return {*JobForm.base_fields, *parameters.PARAMETERS}


HISTORY = {*HistoryFilterForm.base_fields}
API_SECRET = "drk_hostile-input-tests-secret"
API_EDIT_FIELDS = {
    "image",
    "image[]",
    "mask",
    "prompt",
    "model",
    "n",
    "size",
    "quality",
    "background",
    "output_format",
    "output_compression",
    "input_fidelity",
    "response_format",
    "user",
    "darkroom_async",
    "darkroom_parent",
}


def with_api_token(client: Client, world: World) -> None:
    """The image API takes a token; asynchronous, so no request waits for a
    worker that these tests do not run."""
    ApiToken.objects.get_or_create(
        owner=world.alice,
        secret_hash=tokens.secret_hash(API_SECRET),
        defaults={"name": "hostile tests", "prefix": API_SECRET[:12]},
    )
    client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {API_SECRET}"
    client.defaults["HTTP_PREFER"] = "respond-async"


def api_edit_baseline(world: World) -> dict[str, Any]:
    return {
        "prompt": "make it blue",
        "model": "offline/offline-demo",
        "image": upload(image_bytes(), "photo.png"),
    }


PASSWORDS = {"new_password1", "new_password2"}

# Every route of the app (and the admin's login), with the fields it reads.
ROUTES: dict[str, Fields] = {
    "": Fields(
        get={"from_job", "from_image", "parent", "pick_model"},
        post=editor_fields(),
        baseline=editor_baseline,
    ),
    "editor/fields/": Fields(get={"image_model"}),
    "editor/estimate/": Fields(
        get={"image_model", "input_images", "prompt_length", "n", "size", "quality"}
    ),
    "jobs/<uuid:job_id>/": Fields(get={"variation"}),
    "jobs/<uuid:job_id>/status/": Fields(),
    "editor/runs/<uuid:job_id>/": Fields(),
    "jobs/<uuid:job_id>/download/": Fields(),
    "images/<uuid:image_id>/": Fields(),
    "images/<uuid:image_id>/<str:variant>/": Fields(),
    "history/": Fields(get=HISTORY),
    "history/storage/": Fields(),
    "history/download/": Fields(post={"jobs"}),
    "healthz": Fields(),
    "readyz": Fields(),
    "accounts/signup/": Fields(
        anonymous=True,
        post={*SignupForm.base_fields},
        baseline=lambda world: {
            "username": "newcomer",
            "email": "newcomer@example.com",
            "password1": "a long passphrase 42",
            "password2": "a long passphrase 42",
        },
    ),
    "accounts/signup/invite/<str:token>/": Fields(
        anonymous=True,
        post={*SignupForm.base_fields},
        baseline=lambda world: {
            "username": "invited",
            "email": "invited@example.com",
            "password1": "a long passphrase 42",
            "password2": "a long passphrase 42",
        },
    ),
    "accounts/confirm-email/<str:token>/": Fields(anonymous=True),
    "accounts/": Fields(),
    "accounts/email/": Fields(
        post={"email", "password"},
        baseline=lambda world: {"email": "new@example.com", "password": "not the password"},
    ),
    "operator/usage/": Fields(get={"date_from", "date_to"}),
    "operator/usage/export.csv": Fields(get={"date_from", "date_to"}),
    "accounts/login/": Fields(
        anonymous=True,
        get={"next"},
        post={"username", "password", "next"},
        baseline=lambda world: {"username": "alice", "password": "not the password"},
    ),
    "accounts/password_change/": Fields(
        post={"old_password", *PASSWORDS},
        baseline=lambda world: {
            "old_password": "not the password",
            "new_password1": "another long phrase 7",
            "new_password2": "another long phrase 7",
        },
    ),
    "accounts/password_change/done/": Fields(),
    "accounts/time-zone/": Fields(
        post={"time_zone"}, baseline=lambda world: {"time_zone": "Europe/Paris"}
    ),
    "accounts/password_reset/": Fields(
        anonymous=True, post={"email"}, baseline=lambda world: {"email": "alice@example.com"}
    ),
    "accounts/password_reset/done/": Fields(),
    "accounts/reset/<uidb64>/<token>/": Fields(
        anonymous=True,
        post=PASSWORDS,
        baseline=lambda world: dict.fromkeys(PASSWORDS, "another long phrase 7"),
        prepare=open_reset_link,
    ),
    "accounts/reset/done/": Fields(),
    "admin/login/": Fields(
        anonymous=True,
        get={"next"},
        post={"username", "password", "next"},
        baseline=lambda world: {"username": "alice", "password": "not the password"},
    ),
    "accounts/tokens/": Fields(post={"name"}, baseline=lambda world: {"name": "laptop"}),
    "v1/images/edits": Fields(
        post=API_EDIT_FIELDS, baseline=api_edit_baseline, prepare=with_api_token
    ),
    "v1/images/generations": Fields(
        post={"prompt", "model"},
        baseline=lambda world: {"prompt": "a cat", "model": "offline/offline-demo"},
        prepare=with_api_token,
    ),
    "v1/images/jobs/<uuid:job_id>": Fields(get={"response_format"}, prepare=with_api_token),
    "v1/images/results/<str:signed>": Fields(),
    "v1/models": Fields(prepare=with_api_token),
    "v1/models/<path:model_id>": Fields(prepare=with_api_token),
    "history/trash/": Fields(),
    "jobs/<uuid:job_id>/row/": Fields(),
    # Without push configured (as here) it answers 204 at once, never streams.
    "jobs/<uuid:job_id>/events/": Fields(),
    # Last: they delete or end what the others use.
    "jobs/<uuid:job_id>/cancel/": Fields(),
    "accounts/tokens/<int:token_id>/revoke/": Fields(),
    "history/trash/restore/": Fields(post={"jobs", "back"}),
    "history/trash/delete/": Fields(post={"jobs"}),
    "history/delete/": Fields(post={"jobs"}),
    "jobs/<uuid:job_id>/delete/": Fields(),
    "accounts/delete/": Fields(
        post={"password", "confirm"},
        baseline=lambda world: {"password": "not the password", "confirm": "delete"},
    ),
    "accounts/logout/": Fields(post={"next"}),
}


def route_urls(route: str, world: World) -> list[str]:
    """The route filled with the owner's objects, another user's, and nonsense."""
    values: dict[str, list[str]] = {
        "job_id": [str(world.job.pk), str(world.bobs_job.pk), str(uuid.uuid4())],
        "image_id": [str(world.result.pk), str(world.bobs_image.pk)],
        "variant": ["thumb", "download", "THUMB", "x" * 2000, "%00"],
        "uidb64": [reset_link(world)[0], "MQ", "!!", "x" * 2000],
        "token": ["set-password", "x" * 2000],
        "token_id": [
            str(tokens.token_create(user=world.alice, name="to revoke").token.pk),
            str(tokens.token_create(user=world.bobs_job.owner, name="bob's").token.pk),
            "99999999999999999999",
        ],
        "model_id": ["offline/offline-demo", "x" * 2000, "../../etc/passwd", "%00"],
        "signed": ["forged", "x" * 2000, "%00"],
    }
    urls = ["/" + route]
    for _, name in PARAMETER.findall(route):
        urls = [PARAMETER.sub(value, url, count=1) for url in urls for value in values[name]]
    return urls


def test_every_route_is_known() -> None:
    routes = {route for route, _ in app_routes()}
    unknown = routes - ROUTES.keys()
    assert not unknown, f"teach this test which fields these routes read: {unknown}"


def requests(world: World) -> Iterator[tuple[str, str, str, dict[str, Any]]]:
    """(route, method, url, data): every field of every route with every
    hostile value, on the owner's URL; the other URLs plain."""
    for route, fields in ROUTES.items():
        first, *others = route_urls(route, world)
        for url in others:
            yield route, "get", url, {}
            yield route, "post", url, {}
        for method, names in (("get", fields.get), ("post", fields.post)):
            # An unknown field too: views must ignore what they do not read.
            for name in sorted({*names, "unexpected"}):
                for _, value in hostile_values(world):
                    if method == "get" and isinstance(value, SimpleUploadedFile):
                        continue
                    data = fields.baseline(world) if method == "post" else {}
                    data.pop(name, None)
                    if value is not MISSING:
                        data[name] = value
                    yield route, method, first, data


def unreadable(response: Any, route: str, *, htmx: bool) -> str:
    """What is wrong with this answer ("" if nothing): a 500, or a refusal
    that is not a page in the layout (or, for htmx, a fragment)."""
    if response.status_code >= 500 and route != "readyz":
        return f"status {response.status_code}"
    if response.status_code < 400 or route == "readyz":
        return ""
    body = (
        b"".join(response.streaming_content) if response.streaming else response.content
    ).decode(errors="replace")
    if route.startswith("v1/"):
        # The image API answers its clients in OpenAI's JSON, never a page.
        readable = response["Content-Type"] == "application/json" and '"error"' in body
    elif htmx and "HX-Retarget" in response:
        readable = response["HX-Retarget"] == "#messages" and 'role="alert"' in body
    elif htmx and route == "" and response.status_code in (400, 413):
        readable = 'id="job-form"' in body  # the editor shows the form's errors itself
    else:
        readable = 'class="topbar"' in body and "<h1>" in body
    return "" if readable else f"status {response.status_code}, not readable: {body[:200]}"


def assert_all_readable(problems: list[str]) -> None:
    assert not problems, f"{len(problems)} bad answers, the first ones:\n" + "\n".join(
        problems[:25]
    )


def send(
    route: str, method: str, url: str, data: dict[str, Any], world: World, **extra: Any
) -> Any:
    """One request, as Alice or as a visitor, with no pause or rate limit in
    force: each value must reach the form, not a throttle."""
    fields = ROUTES[route]
    AccessAttempt.objects.all().delete()
    cache.clear()
    # Each request logs in anew; the embedded session cache lists its whole
    # folder on every write, so earlier requests' sessions would pile up.
    caches["sessions"].clear()
    client = Client(raise_request_exception=False)
    # A fresh client (no cookies, no headers) for each request, with the
    # middleware loaded once: loading it scans every static file (WhiteNoise).
    client.handler = world.handler
    if not fields.anonymous:
        client.force_login(world.alice)
    fields.prepare(client, world)
    return getattr(client, method)(url, data, **extra)


def described(data: dict[str, Any]) -> str:
    return ", ".join(f"{name}={str(value)[:40]!r}" for name, value in sorted(data.items()))


def test_hostile_values_in_every_field_of_every_view(world: World) -> None:
    sent, problems = 0, []
    for route, method, url, data in requests(world):
        response = send(route, method, url, data, world)
        if problem := unreadable(response, route, htmx=False):
            problems.append(f"{method.upper()} {url[:80]} {described(data)}: {problem}")
        sent += 1
    assert_all_readable(problems)
    assert sent > 1000
    # Bob's things are untouched, whatever was sent.
    assert Job.objects.filter(pk=world.bobs_job.pk).exists()
    assert world.bobs_image.file.storage.exists(world.bobs_image.file.name)


def test_hostile_htmx_requests_get_fragments(world: World) -> None:
    problems = []
    for route, fields in ROUTES.items():
        url = route_urls(route, world)[0]
        for method, names in (("get", fields.get), ("post", fields.post)):
            for name in sorted({*names, "unexpected"}):
                data = {**fields.baseline(world), name: "not-a-uuid"}
                response = send(route, method, url, data, world, HTTP_HX_REQUEST="true")
                if problem := unreadable(response, route, htmx=True):
                    problems.append(f"htmx {method.upper()} {url[:80]} {name}: {problem}")
    assert_all_readable(problems)


def test_malformed_bodies_are_readable_refusals(world: World) -> None:
    problems = []
    bodies = [
        ("multipart/form-data", b"--x\r\nnonsense"),
        ("multipart/form-data; boundary=x", b"--x\r\nContent-Disposition: form-data\r\n\r\n"),
        ("multipart/form-data; boundary=x", b"garbage without any boundary"),
        (
            "multipart/form-data; boundary=x",
            b'--x\r\nContent-Disposition: form-data; name="images"; filename="a.png"\r\n'
            b"Content-Transfer-Encoding: base64\r\n\r\n!!!not base64!!!\r\n--x--\r\n",
        ),
        ("application/x-www-form-urlencoded", b"prompt=%ff%fe&image_model=%00"),
        ("application/x-www-form-urlencoded", b"&&&===&&"),
        ("application/json", b'{"prompt": "x"}'),
        ("text/plain", b"\xff\xfe\x00"),
    ]
    for route, fields in ROUTES.items():
        url = route_urls(route, world)[0]
        for content_type, body in bodies:
            client = Client(raise_request_exception=False)
            client.handler = world.handler
            if not fields.anonymous:
                client.force_login(world.alice)
            fields.prepare(client, world)
            response = client.generic("POST", url, body, content_type=content_type)
            if problem := unreadable(response, route, htmx=False):
                problems.append(f"POST {url} {content_type} {body[:20]!r}: {problem}")
    assert_all_readable(problems)
