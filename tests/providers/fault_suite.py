"""The faults every provider kind must survive, as tests a kind's module imports.

A module that does ``from tests.providers.fault_suite import *`` runs these
against its own fixtures:

* ``fake``: its running strict fake (a ``StrictFake``);
* ``model``: an ImageModel of a provider on that fake;
* ``new_job``: ``new_job(user)`` -> a queued job that is valid for the kind;
* ``paid_path``: the path suffix of the paid call;
* ``url_answer``: ``url_answer(urls)`` -> a Reply in the kind's own format.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from editor.models import ImageModel, ImageRole, Job, JobStatus
from editor.providers import http, results
from tests.fakes.common import (
    ImageHost,
    StrictFake,
    empty_data,
    html_page,
    malformed_json,
    moderation_refusal,
    not_an_image,
    result_image,
    silent_after_request,
    status_reply,
)
from tests.providers.conftest import assert_key_hidden, run

NewJob = Callable[[Any], Job]
PICTURE = result_image((16, 16), colour=(9, 8, 7))


@pytest.fixture
def other_host() -> Iterator[ImageHost]:
    host = ImageHost()
    with host.running("127.0.0.2"):
        host.images["/r/1.png"] = PICTURE
        yield host


@pytest.fixture
def own_host() -> Iterator[ImageHost]:
    host = ImageHost()
    with host.running("127.0.0.1"):
        host.images["/r/1.png"] = PICTURE
        yield host


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_fault_connection_refused_is_retried_then_fails_clearly(
    model: ImageModel, new_job: NewJob, alice: Any, sleeps: list[float]
) -> None:
    provider = model.provider
    provider.base_url = f"http://127.0.0.1:{closed_port()}/v1"
    provider.save()
    job = run(new_job(alice))
    assert job.status == JobStatus.FAILED
    assert job.error_code == "provider_unreachable"
    assert "Could not connect" in job.error_message
    assert len(sleeps) == http.MAX_ATTEMPTS - 1


def test_fault_429_is_retried_after_its_retry_after(
    fake: StrictFake, new_job: NewJob, paid_path: str, alice: Any, sleeps: list[float]
) -> None:
    fake.then(status_reply(429, retry_after="2"))
    job = run(new_job(alice))
    assert job.status == JobStatus.SUCCEEDED, job.error_message
    assert len(fake.paid_calls(paid_path)) == 2
    assert sleeps == [2.0]


@pytest.mark.parametrize("status", [502, 503, 504])
def test_fault_gateway_errors_are_retried_a_bounded_number_of_times(
    fake: StrictFake, new_job: NewJob, paid_path: str, alice: Any, status: int
) -> None:
    fake.then(status_reply(status))
    job = run(new_job(alice))
    assert job.status == JobStatus.SUCCEEDED, job.error_message
    assert len(fake.paid_calls(paid_path)) == 2
    fake.requests.clear()
    fake.then(*[status_reply(status)] * 5)
    job = run(new_job(alice))
    assert job.status == JobStatus.FAILED
    assert len(fake.paid_calls(paid_path)) == http.MAX_ATTEMPTS
    assert f"HTTP {status}" in job.error_message


def test_fault_timeout_after_sending_fails_once_saying_it_may_have_charged(
    fake: StrictFake,
    model: ImageModel,
    new_job: NewJob,
    paid_path: str,
    alice: Any,
    alice_client: Any,
) -> None:
    provider = model.provider
    provider.deadline = 0.5
    provider.save()
    fake.then(silent_after_request(2))
    job = run(new_job(alice))
    assert job.status == JobStatus.FAILED
    assert job.error_code == "provider_timeout"
    assert "may have charged" in job.error_message
    assert len(fake.paid_calls(paid_path)) == 1
    assert "may have charged" in alice_client.get(f"/jobs/{job.pk}/").content.decode()


@pytest.mark.parametrize(
    ("reply", "code", "words"),
    [
        (html_page(500), "bad_response", "web page instead of an API answer"),
        (malformed_json(), "bad_response", "not valid JSON"),
        (empty_data(), "empty_result", "without any image"),
        (not_an_image(), "bad_result", "not an image Darkroom can read"),
    ],
    ids=["html", "malformed", "empty", "not-an-image"],
)
def test_fault_broken_answers_fail_readably(
    fake: StrictFake,
    new_job: NewJob,
    paid_path: str,
    alice: Any,
    alice_client: Any,
    reply: Any,
    code: str,
    words: str,
) -> None:
    fake.then(reply)
    job = run(new_job(alice))
    assert job.status == JobStatus.FAILED
    assert job.error_code == code
    assert words in job.error_message
    assert len(fake.paid_calls(paid_path)) == 1
    assert words in alice_client.get(f"/jobs/{job.pk}/").content.decode()
    assert_key_hidden(job, alice_client)


def test_fault_oversized_result_is_refused(new_job: NewJob, alice: Any, monkeypatch: Any) -> None:
    monkeypatch.setattr(results, "MAX_RESULT_BYTES", 40)
    job = run(new_job(alice))
    assert job.status == JobStatus.FAILED
    assert job.error_code == "result_too_large"


def test_fault_moderation_refusal_shows_stage_and_categories(
    fake: StrictFake, new_job: NewJob, alice: Any, alice_client: Any
) -> None:
    fake.then(moderation_refusal())
    job = run(new_job(alice))
    assert job.error_code == "moderation_blocked"
    assert "input stage" in job.error_message
    assert "violence, self-harm" in alice_client.get(f"/jobs/{job.pk}/").content.decode()


def test_fault_url_result_is_downloaded_and_a_transient_failure_retried(
    fake: StrictFake,
    own_host: ImageHost,
    new_job: NewJob,
    paid_path: str,
    url_answer: Callable[[list[str]], Any],
    alice: Any,
) -> None:
    own_host.failures["/r/1.png"] = [status_reply(503)]
    fake.then(url_answer([own_host.url("/r/1.png")]))
    job = run(new_job(alice))
    assert job.status == JobStatus.SUCCEEDED, job.error_message
    assert len(fake.paid_calls(paid_path)) == 1
    assert len(own_host.requests) == 2
    assert all("authorization" not in r.headers for r in own_host.requests)
    assert job.result_deadline is not None
    with job.images.get(role=ImageRole.RESULT).file.open("rb") as handle:
        assert handle.read() == PICTURE


@pytest.mark.parametrize("where", ["other-host", "redirect", "metadata"])
def test_fault_unsafe_result_urls_are_refused(
    fake: StrictFake,
    own_host: ImageHost,
    other_host: ImageHost,
    new_job: NewJob,
    url_answer: Callable[[list[str]], Any],
    alice: Any,
    where: str,
) -> None:
    own_host.redirects["/r/away.png"] = other_host.url("/r/1.png")
    url = {
        "other-host": other_host.url("/r/1.png"),
        "redirect": own_host.url("/r/away.png"),
        "metadata": "http://169.254.169.254/latest/meta-data/",
    }[where]
    fake.then(url_answer([url]))
    job = run(new_job(alice))
    assert job.status == JobStatus.FAILED
    assert job.error_code == "unsafe_result_url"
    assert other_host.requests == []


def test_fault_a_refused_key_fails_readably_without_showing_it(
    fake: StrictFake, new_job: NewJob, alice: Any, alice_client: Any
) -> None:
    fake.api_key = "sk-the-one-the-provider-expects"  # it refuses ours, echoing it back
    job = run(new_job(alice))
    assert job.status == JobStatus.FAILED
    assert job.error_code == "auth_failed"
    assert "HTTP 401" in job.error_message
    assert fake.rejections and fake.rejections[0].startswith("Incorrect API key provided")
    assert_key_hidden(job, alice_client)
