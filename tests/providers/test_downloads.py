"""Result URLs are untrusted input: how Darkroom downloads them (shared by every kind).

These run through an OpenAI-compatible router that answers with URLs; the
dalle2, imagerouter and nanogpt tests repeat the essentials for their kinds.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from editor.models import ImageModel, ImageRole, JobStatus
from editor.providers import results
from editor.providers.base import ProviderConfig, ProviderError
from tests.factories import make_job
from tests.fakes.common import API_KEY, ImageHost, dribble, json_reply, result_image, status_reply
from tests.fakes.openai import OpenAIFake
from tests.providers.conftest import assert_key_hidden, model_of, provider_on, run

PICTURE = result_image((20, 20), colour=(1, 2, 3))


@pytest.fixture
def fake() -> Iterator[OpenAIFake]:
    server = OpenAIFake()
    with server.running():
        yield server


@pytest.fixture
def own_host() -> Iterator[ImageHost]:
    """Serves images on the provider's own host name (127.0.0.1, another port)."""
    host = ImageHost()
    with host.running("127.0.0.1"):
        host.images["/r/1.png"] = PICTURE
        yield host


@pytest.fixture
def other_host() -> Iterator[ImageHost]:
    """Another host: 127.0.0.2 is loopback, so it is refused unless listed."""
    host = ImageHost()
    with host.running("127.0.0.2"):
        host.images["/r/1.png"] = PICTURE
        yield host


@pytest.fixture
def model(fake: OpenAIFake, db: None) -> ImageModel:
    return model_of(provider_on(kind="openai", base_url=fake.base_url + "/v1"), "gpt-image-1")


def answer_with_urls(*urls: str) -> Any:
    return json_reply({"created": 1, "data": [{"url": url} for url in urls]})


def config(**overrides: Any) -> ProviderConfig:
    values: dict[str, Any] = {
        "name": "router",
        "kind": "openai",
        "base_url": "http://127.0.0.1:9/v1",
        "api_key": API_KEY,
        "connect_timeout": 1,
        "deadline": 2,
    }
    values.update(overrides)
    return ProviderConfig(**values)


def soon(seconds: float = 3600) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)


def test_a_url_result_is_downloaded_without_the_api_key(
    fake: OpenAIFake, own_host: ImageHost, model: ImageModel, alice: Any, alice_client: Any
) -> None:
    fake.then(answer_with_urls(own_host.url("/r/1.png")))
    job = run(make_job(user=alice, model=model))
    assert job.status == JobStatus.SUCCEEDED, job.error_message
    result = job.images.get(role=ImageRole.RESULT)
    with result.file.open("rb") as handle:
        assert handle.read() == PICTURE
    (download,) = own_host.requests
    assert "authorization" not in download.headers
    assert job.result_deadline is not None
    assert timedelta(minutes=55) < job.result_deadline - job.created < timedelta(minutes=65)
    assert job.provider_response["data"][0]["url"] == own_host.url("/r/1.png")
    assert_key_hidden(job, alice_client)


def test_a_transient_download_failure_is_retried_without_repeating_the_paid_call(
    fake: OpenAIFake, own_host: ImageHost, model: ImageModel, alice: Any, sleeps: list[float]
) -> None:
    own_host.failures["/r/1.png"] = [status_reply(503), status_reply(502)]
    fake.then(answer_with_urls(own_host.url("/r/1.png")))
    job = run(make_job(user=alice, model=model))
    assert job.status == JobStatus.SUCCEEDED, job.error_message
    assert len(fake.paid_calls("/images/edits")) == 1
    assert len(own_host.requests) == 3
    assert len(sleeps) == 2


def test_an_expired_url_fails_saying_the_image_was_made(
    fake: OpenAIFake, own_host: ImageHost, model: ImageModel, alice: Any
) -> None:
    fake.then(answer_with_urls(own_host.url("/r/gone.png")))
    job = run(make_job(user=alice, model=model))
    assert job.status == JobStatus.FAILED
    assert job.error_code == "download_failed"
    assert "HTTP 404" in job.error_message
    assert len(fake.paid_calls("/images/edits")) == 1


def test_a_lost_second_result_keeps_the_first_and_says_so(
    fake: OpenAIFake, own_host: ImageHost, model: ImageModel, alice: Any
) -> None:
    fake.then(answer_with_urls(own_host.url("/r/1.png"), own_host.url("/r/gone.png")))
    job = run(make_job(user=alice, model=model, params={"n": 2}))
    assert job.status == JobStatus.SUCCEEDED
    assert job.images.filter(role=ImageRole.RESULT).count() == 1
    assert any("made but not kept" in notice for notice in job.notices)


def test_a_url_on_another_loopback_host_is_refused(
    fake: OpenAIFake, other_host: ImageHost, model: ImageModel, alice: Any, alice_client: Any
) -> None:
    fake.then(answer_with_urls(other_host.url("/r/1.png")))
    job = run(make_job(user=alice, model=model))
    assert job.status == JobStatus.FAILED
    assert job.error_code == "unsafe_result_url"
    assert "127.0.0.2" in job.error_message
    assert other_host.requests == []
    assert "does not fetch it" in alice_client.get(f"/jobs/{job.pk}/").content.decode()


def test_a_host_the_operator_lists_is_trusted(
    fake: OpenAIFake, other_host: ImageHost, model: ImageModel, alice: Any
) -> None:
    provider = model.provider
    provider.result_hosts = ["127.0.0.2"]
    provider.save()
    fake.then(answer_with_urls(other_host.url("/r/1.png")))
    job = run(make_job(user=alice, model=model))
    assert job.status == JobStatus.SUCCEEDED, job.error_message
    assert "authorization" not in other_host.requests[0].headers


def test_a_redirect_to_another_host_is_not_followed(
    fake: OpenAIFake, own_host: ImageHost, other_host: ImageHost, model: ImageModel, alice: Any
) -> None:
    own_host.redirects["/r/moved.png"] = other_host.url("/r/1.png")
    fake.then(answer_with_urls(own_host.url("/r/moved.png")))
    job = run(make_job(user=alice, model=model))
    assert job.status == JobStatus.FAILED
    assert job.error_code == "unsafe_result_url"
    assert "redirected to another host" in job.error_message
    assert other_host.requests == []


def test_a_redirect_on_the_same_host_is_followed(
    fake: OpenAIFake, own_host: ImageHost, model: ImageModel, alice: Any
) -> None:
    own_host.redirects["/r/moved.png"] = "/r/1.png"
    fake.then(answer_with_urls(own_host.url("/r/moved.png")))
    job = run(make_job(user=alice, model=model))
    assert job.status == JobStatus.SUCCEEDED, job.error_message
    assert [r.path for r in own_host.requests] == ["/r/moved.png", "/r/1.png"]


def test_the_metadata_address_is_refused_before_connecting(monkeypatch: Any) -> None:
    def no_connection(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("Darkroom tried to connect")

    monkeypatch.setattr(httpx.Client, "send", no_connection)
    with pytest.raises(ProviderError) as caught:
        results.download_result(
            config(), "http://169.254.169.254/latest/meta-data/", deadline=soon()
        )
    assert caught.value.code == "unsafe_result_url"
    assert "169.254.169.254" in caught.value.message


def test_a_name_resolving_to_a_private_address_is_refused_before_connecting(
    monkeypatch: Any,
) -> None:
    monkeypatch.setattr(
        socket,
        "getaddrinfo",
        lambda *a, **k: [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.1.2.3", 80))],
    )
    monkeypatch.setattr(httpx.Client, "send", lambda *a, **k: pytest.fail("connected"))
    with pytest.raises(ProviderError) as caught:
        results.download_result(config(), "http://images.example/x.png", deadline=soon())
    assert caught.value.code == "unsafe_result_url"


def test_a_public_name_is_fetched_from_the_checked_address_without_the_key(
    monkeypatch: Any,
) -> None:
    """Connecting to the checked address means a second DNS answer cannot swap it."""
    monkeypatch.setattr(
        socket,
        "getaddrinfo",
        lambda *a, **k: [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", 443))],
    )
    seen: list[httpx.Request] = []

    def capture(self: Any, request: httpx.Request, **kwargs: Any) -> Any:
        seen.append(request)
        raise httpx.ConnectError("stop here")

    monkeypatch.setattr(httpx.Client, "send", capture)
    with pytest.raises(ProviderError):
        results.download_result(config(), "https://images.example/x.png", deadline=soon(1))
    request = seen[0]
    assert request.url.host == "93.184.216.34"
    assert request.headers["host"] == "images.example"
    assert request.extensions["sni_hostname"] == "images.example"
    assert "authorization" not in request.headers


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("169.254.169.254", False),
        ("127.0.0.2", False),
        ("10.0.0.1", False),
        ("192.168.1.1", False),
        ("172.16.0.1", False),
        ("100.64.0.1", False),
        ("0.0.0.0", False),
        ("::1", False),
        ("fe80::1", False),
        ("::ffff:127.0.0.1", False),
        ("fd00::1", False),
        ("93.184.216.34", True),
        ("2606:4700::1111", True),
    ],
)
def test_the_address_check(address: str, public: bool) -> None:
    assert results.address_is_public(address) is public


def test_a_dribbling_image_host_hits_the_download_deadline(
    own_host: ImageHost, monkeypatch: Any
) -> None:
    monkeypatch.setattr(results, "DOWNLOAD_DEADLINE", 0.4)
    own_host.failures["/r/1.png"] = [dribble(0.1, 30)(None)]  # type: ignore[arg-type]
    with pytest.raises(ProviderError) as caught:
        results.download_result(
            config(base_url=own_host.base_url), own_host.url("/r/1.png"), deadline=soon(0.5)
        )
    assert caught.value.code == "download_failed"
    assert "took too long" in caught.value.message
    assert caught.value.may_have_charged


def test_an_oversized_download_is_refused(own_host: ImageHost, monkeypatch: Any) -> None:
    monkeypatch.setattr(results, "MAX_RESULT_BYTES", 50)
    with pytest.raises(ProviderError) as caught:
        results.download_result(
            config(base_url=own_host.base_url), own_host.url("/r/1.png"), deadline=soon()
        )
    assert caught.value.code == "result_too_large"


def test_a_download_that_is_not_an_image_is_refused(own_host: ImageHost) -> None:
    own_host.images["/r/page.png"] = b"<html>login</html>"
    with pytest.raises(ProviderError) as caught:
        results.download_result(
            config(base_url=own_host.base_url), own_host.url("/r/page.png"), deadline=soon()
        )
    assert caught.value.code == "bad_result"
