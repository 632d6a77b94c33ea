"""Every refusal is a readable page in the site's layout, or for htmx a
fragment that the page shows in its messages region; nothing is changed."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import HttpRequest, HttpResponse
from django.test import Client, RequestFactory

from editor.models import Job, JobImage
from tests.factories import make_job
from tests.images import image_bytes, upload
from webapp.middleware import RequestSizeLimitMiddleware

HTMX = {"HTTP_HX_REQUEST": "true"}


def assert_page(response: Any, status: int, *texts: str) -> str:
    """A full page in base.html's layout with the given status and texts."""
    body = response.content.decode()
    assert response.status_code == status, body[:500]
    assert 'class="topbar"' in body and 'id="messages"' in body, body[:500]
    assert "<h1>" in body
    for text in texts:
        assert text in body, (text, body)
    return body


def assert_fragment(response: Any, status: int, *texts: str) -> str:
    """An htmx fragment for the page's messages region."""
    body = response.content.decode()
    assert response.status_code == status, body[:500]
    assert response["HX-Retarget"] == "#messages"
    assert response["HX-Reswap"] == "innerHTML"
    assert "<html" not in body and 'role="alert"' in body
    for text in texts:
        assert text in body, (text, body)
    return body


def assert_nothing_stored(media_dir: Path) -> None:
    assert not Job.objects.exists()
    assert not JobImage.objects.exists()
    assert [path for path in media_dir.rglob("*") if path.is_file()] == []


# --- 404, 405, 403, 500 --------------------------------------------------------------


def test_a_missing_job_is_a_readable_404(alice_client: Client, bob: User) -> None:
    bobs = make_job(user=bob)
    for url in (
        "/jobs/00000000-0000-0000-0000-000000000000/",
        f"/jobs/{bobs.pk}/",  # another user's: the same answer
        "/no-such-page/",
    ):
        assert_page(alice_client.get(url), 404, "Nothing here", "There is no page at this address")
    assert str(bobs.pk) not in alice_client.get(f"/jobs/{bobs.pk}/").content.decode()


def test_a_visitor_gets_the_404_page_too(client: Client, db: None) -> None:
    body = assert_page(client.get("/no-such-page/"), 404, "Nothing here", "Log in")
    assert "Log out" not in body


def test_htmx_gets_the_404_as_a_fragment(alice_client: Client, db: None) -> None:
    response = alice_client.get("/jobs/00000000-0000-0000-0000-000000000000/status/", **HTMX)
    assert_fragment(response, 404, "Nothing here")


def test_a_wrong_method_is_a_readable_405(alice_client: Client) -> None:
    response = alice_client.get("/history/delete/")
    assert_page(response, 405, "This address takes a form")
    assert response["Allow"] == "POST"
    response = alice_client.post("/history/")
    assert_page(response, 405, "does not take POST requests (it takes GET)")
    assert_fragment(alice_client.get("/history/download/", **HTMX), 405, "takes a form")


def test_a_form_without_the_security_cookie_is_a_readable_403(db: None) -> None:
    client = Client(enforce_csrf_checks=True)
    response = client.post("/accounts/login/", {"username": "a", "password": "b"})
    assert_page(response, 403, "The form could not be accepted", "security cookie")


def test_an_expired_form_is_a_readable_403(alice: User) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    client.get("/")  # sets the CSRF cookie
    job = make_job(user=alice)
    response = client.post("/history/delete/", {"jobs": [str(job.pk)]})
    assert_page(response, 403, "This form has expired")
    assert Job.objects.filter(pk=job.pk).exists()
    response = client.post("/history/delete/", {"jobs": [str(job.pk)]}, **HTMX)
    assert_fragment(response, 403, "This form has expired")


def test_a_staff_page_without_permission_is_a_readable_403(db: None) -> None:
    staff = User.objects.create_user("staff", "staff@example.com", "pw", is_staff=True)
    client = Client()
    client.force_login(staff)
    assert_page(client.get("/admin/editor/job/"), 403, "Not allowed")


@pytest.fixture
def error_urls(settings: Any) -> None:
    settings.ROOT_URLCONF = "tests.error_urls"


def test_a_bug_is_a_readable_500(error_urls: None, alice: User) -> None:
    client = Client(raise_request_exception=False)
    client.force_login(alice)
    body = assert_page(client.get("/test-broken/"), 500, "Something went wrong")
    # Drawn without the session or the database, which may be what failed.
    assert "Log out" not in body
    assert_fragment(client.get("/test-broken/", **HTMX), 500, "Something went wrong")


def test_an_unknown_host_name_is_a_readable_400(client: Client, db: None) -> None:
    assert_page(client.get("/", HTTP_HOST="evil.example"), 400, "does not answer to that host")


def test_a_bad_request_is_a_readable_400(error_urls: None, alice_client: Client) -> None:
    assert_page(alice_client.get("/test-bad/"), 400, "The request was malformed")


# --- Too many, too big, malformed ---------------------------------------------------------


def test_too_many_files_says_how_many_a_job_takes(
    alice_client: Client, offline_model: Any, media_dir: Path
) -> None:
    files = [upload(image_bytes(), f"photo{index}.png") for index in range(101)]
    response = alice_client.post(
        "/", {"prompt": "invert", "image_model": offline_model.pk, "images": files}
    )
    assert_page(
        response,
        400,
        "You sent more than 17 files in one request; Darkroom takes at most 16 images "
        "and one mask per job.",
    )
    assert_nothing_stored(media_dir)


def test_too_many_fields_is_a_readable_400(alice_client: Client, alice: User) -> None:
    job = make_job(user=alice)
    data = {f"field{index}": "x" for index in range(1001)}
    response = alice_client.post("/history/delete/", {**data, "jobs": [str(job.pk)]})
    assert_page(response, 400, "more than 1000 form fields")
    assert Job.objects.filter(pk=job.pk).exists()


@pytest.mark.parametrize("multipart", [True, False])
def test_a_huge_prompt_is_a_readable_413(
    alice_client: Client, offline_model: Any, media_dir: Path, multipart: bool
) -> None:
    data = {"prompt": "a" * (11 * 1024 * 1024), "image_model": offline_model.pk}
    if multipart:
        response = alice_client.post("/", {**data, "images": [upload(image_bytes())]})
    else:
        response = alice_client.post("/", data, content_type="application/x-www-form-urlencoded")
    assert_page(response, 413, "The text of this form adds up to more than 10.0\xa0MB")
    assert_nothing_stored(media_dir)


def test_a_malformed_upload_is_a_readable_400(alice_client: Client, media_dir: Path) -> None:
    response = alice_client.generic(
        "POST", "/", b"--x\r\nnonsense", content_type="multipart/form-data"
    )
    assert_page(response, 400, "The form data could not be read")
    assert_nothing_stored(media_dir)


# --- Request size (see also test_request_limits.py, against gunicorn) ---------------------


class Unreadable(io.RawIOBase):
    def read(self, size: int = -1) -> bytes:
        raise AssertionError("the body was read")


def view_reading_the_form(request: HttpRequest) -> HttpResponse:
    return HttpResponse(",".join(f"{key}={value}" for key, value in request.POST.items()))


def test_a_declared_length_over_the_limit_is_refused_unread(alice: User, settings: Any) -> None:
    settings.DARKROOM_MAX_REQUEST_BYTES = 1000
    request = RequestFactory().post("/", data=b"", content_type="application/octet-stream")
    request.META["CONTENT_LENGTH"] = "1001"
    request.META["wsgi.input"] = Unreadable()
    request.user = alice
    response = RequestSizeLimitMiddleware(view_reading_the_form)(request)
    assert_page(response, 413, "Too much data", "more than 1000\xa0bytes")


def chunked_request(body: bytes) -> HttpRequest:
    request = RequestFactory().post(
        "/", data=body, content_type="application/x-www-form-urlencoded"
    )
    del request.META["CONTENT_LENGTH"]
    request.META["HTTP_TRANSFER_ENCODING"] = "chunked"
    request.META["wsgi.input_terminated"] = True
    request.META["wsgi.input"] = io.BytesIO(body)
    return request


def test_a_body_of_unknown_length_within_the_limit_is_read(alice: User, settings: Any) -> None:
    settings.DARKROOM_MAX_REQUEST_BYTES = 1000
    request = chunked_request(b"prompt=" + b"a" * 900)
    request.user = alice
    response = RequestSizeLimitMiddleware(view_reading_the_form)(request)
    assert response.status_code == 200
    assert response.content == b"prompt=" + b"a" * 900


def test_a_body_of_unknown_length_is_refused_once_past_the_limit(
    alice: User, settings: Any
) -> None:
    settings.DARKROOM_MAX_REQUEST_BYTES = 1000
    request = chunked_request(b"prompt=" + b"a" * 200_000)
    request.user = alice
    response = RequestSizeLimitMiddleware(view_reading_the_form)(request)
    assert_page(response, 413, "Too much data")
    # Stopped after the piece that passed the limit, not at the end.
    assert request.META["wsgi.input"].tell() == 64 * 1024


def test_an_image_over_the_limit_stops_the_upload_with_the_form_message(
    alice_client: Client, offline_model: Any, media_dir: Path, settings: Any
) -> None:
    settings.DARKROOM_MAX_UPLOAD_BYTES = 100_000

    def data() -> dict[str, Any]:
        small = upload(image_bytes(), "small.png")
        big = upload(b"\x89PNG" + bytes(300_000), "big.png")
        return {
            "prompt": "keep this prompt",
            "image_model": offline_model.pk,
            "images": [small, big],
        }

    body = assert_page(alice_client.post("/", data()), 413, "“big.png” is larger than 97.7\xa0KB")
    assert 'id="job-form"' in body and "keep this prompt" in body
    # The editor's script gets the form, whose errors it shows in place.
    partial = alice_client.post("/", data(), **HTMX)
    assert partial.status_code == 413 and "HX-Retarget" not in partial
    assert "“big.png” is larger than" in partial.content.decode()
    assert "<html" not in partial.content.decode()
    assert_nothing_stored(media_dir)


def test_an_image_over_the_limit_before_the_form_token_is_a_413(
    alice: User, offline_model: Any, media_dir: Path, settings: Any
) -> None:
    settings.DARKROOM_MAX_UPLOAD_BYTES = 100_000
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    token = client.get("/").context["csrf_token"]
    big = SimpleUploadedFile("big.png", b"\x89PNG" + bytes(300_000), content_type="image/png")
    # Files come after fields in Django's test encoding: a file named first
    # in the dict still goes last, so the token is put after it by hand.
    body = (
        b'--B\r\nContent-Disposition: form-data; name="images"; filename="big.png"\r\n'
        b"Content-Type: image/png\r\n\r\n" + big.read() + b"\r\n"
        b'--B\r\nContent-Disposition: form-data; name="csrfmiddlewaretoken"\r\n\r\n'
        + str(token).encode()
        + b"\r\n--B--\r\n"
    )
    response = client.generic("POST", "/", body, content_type="multipart/form-data; boundary=B")
    assert_page(response, 413, "“big.png” is larger than 97.7\xa0KB")
    assert_nothing_stored(media_dir)


# --- History: nothing selected ---------------------------------------------------------------


def test_deleting_nothing_says_so(alice_client: Client, alice: User) -> None:
    job = make_job(user=alice)
    assert_page(
        alice_client.post("/history/delete/", {}), 400, "Nothing deleted", "No job was selected"
    )
    assert_fragment(alice_client.post("/history/delete/", {}, **HTMX), 400, "No job was selected")
    assert Job.objects.filter(pk=job.pk).exists()


def test_downloading_nothing_says_so(alice_client: Client, alice: User) -> None:
    assert_page(
        alice_client.post("/history/download/", {}),
        400,
        "Nothing to download",
        "No job was selected, so nothing was downloaded",
    )
    job = make_job(user=alice)  # no results yet
    assert_page(
        alice_client.post("/history/download/", {"jobs": [str(job.pk)]}),
        404,
        "None of the selected jobs has results to download.",
    )


def test_only_deleting_for_good_asks_first(alice_client: Client, alice: User) -> None:
    job = make_job(user=alice)
    # Moving to the trash offers Undo instead of a question.
    assert "hx-confirm" not in alice_client.get("/history/").content.decode()
    alice_client.post("/history/delete/", {"jobs": [str(job.pk)]})
    body = alice_client.get("/history/trash/").content.decode()
    assert 'hx-confirm="Delete the selected jobs and all their files for good?' in body
    assert "/static/editor/history.js" in body  # skips the question with nothing ticked
