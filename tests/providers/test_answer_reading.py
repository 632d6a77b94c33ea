"""Reading a provider's answer: base64 as providers write it, and the key never saved."""

from __future__ import annotations

import base64

import pytest

from editor.providers import http, results
from editor.providers.base import ProviderError
from tests.fakes.common import API_KEY
from tests.images import image_bytes
from tests.providers.test_downloads import config

KEY = API_KEY


def test_base64_wrapped_in_lines_decodes() -> None:
    """Some routers wrap base64 at 76 characters, as MIME does."""
    png = image_bytes(40, 30)
    text = base64.b64encode(png).decode()
    wrapped = "\n".join(text[start : start + 76] for start in range(0, len(text), 76))
    image = results.decode_b64(config(), wrapped, index=0)
    assert image.data == png
    assert image.info is not None and image.info.size == (40, 30)


def test_base64_of_something_else_is_refused_as_not_an_image() -> None:
    with pytest.raises(ProviderError) as caught:
        results.decode_b64(config(), base64.b64encode(b"not an image").decode(), index=0)
    assert caught.value.code == "bad_result"
    assert caught.value.may_have_charged


def test_an_answer_echoing_the_key_anywhere_is_saved_without_it() -> None:
    answer = {"data": [{"b64_json": "QUJD", "revised_prompt": f"use {KEY} please"}], "n": 1}
    saved = http.redact_payload(config(), answer)
    assert KEY not in repr(saved)
    assert saved["data"][0]["revised_prompt"] == "use [redacted] please"


def test_an_answer_without_the_key_is_saved_as_it_is() -> None:
    answer = {"data": [{"b64_json": "QUJD" * 1000}], "usage": {"total_tokens": 3}}
    assert http.redact_payload(config(), answer) is answer


@pytest.mark.parametrize("text", ["QUJ", "QUJD\u00e9QUJD", "QUJDR"])
def test_base64_that_does_not_decode_is_refused_plainly(text: str) -> None:
    with pytest.raises(ProviderError) as caught:
        results.decode_b64(config(), text, index=1)
    assert caught.value.code == "bad_result"
    assert "result 2 as base64 that does not decode" in caught.value.message


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        # Spaces first, as ImageRouter writes them while the model runs.
        (b"   \n  " + b'{"data": [{"b64_json": "QUJD"}]}', {"data": [{"b64_json": "QUJD"}]}),
        # What the fast parser refuses and JSON readers commonly take.
        (b'{"created": 18446744073709551616, "data": []}', {"created": 2**64, "data": []}),
        (b'{"data": [], "usage": {"cost": NaN}}', None),
    ],
)
def test_an_answer_is_read_as_the_standard_json_reader_reads_it(
    body: bytes, expected: dict[str, object] | None
) -> None:
    payload = http.parse_answer(config(), 200, {"content-type": "application/json"}, body)
    if expected is None:
        assert payload["usage"]["cost"] != payload["usage"]["cost"]  # NaN
    else:
        assert payload == expected


@pytest.mark.parametrize(
    ("body", "start"),
    [(b"  <html><body>Bad gateway</body></html>", "<html><body>Bad gateway"), (b" {nope", "{nope")],
)
def test_a_body_that_is_not_json_is_reported_from_where_it_starts(body: bytes, start: str) -> None:
    with pytest.raises(ProviderError) as caught:
        http.parse_answer(config(), 200, {"content-type": "application/json"}, body)
    assert caught.value.code == "bad_response"
    assert caught.value.detail["start"].startswith(start)
