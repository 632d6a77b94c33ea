"""Answers with images: the base64 goes in as bytes, the JSON stays exact."""

from __future__ import annotations

import base64
import json
import os
from datetime import UTC, datetime

from editor.api.answers import Base64Image, json_response


def test_images_are_spliced_into_the_json_as_base64() -> None:
    first, second = os.urandom(3000), os.urandom(10)
    answer = {
        "created": 1,
        "data": [{"b64_json": Base64Image(first)}, {"b64_json": Base64Image(second)}],
        # Text that looks like what the splicing uses does not confuse it.
        "notices": ['darkroom-image-"', "\u201cquoted\u201d \\ </script>"],
        "when": datetime(2026, 12, 4, tzinfo=UTC),
    }
    response = json_response(answer, status=201)
    assert response.status_code == 201
    assert response["Content-Type"] == "application/json"
    parsed = json.loads(response.content)
    assert [base64.b64decode(item["b64_json"]) for item in parsed["data"]] == [first, second]
    assert parsed["notices"] == answer["notices"]
    assert parsed["when"] == "2026-12-04T00:00:00Z"


def test_an_answer_without_images_is_plain_json() -> None:
    response = json_response({"data": [{"url": "https://example.com/r"}], "n": 1})
    assert json.loads(response.content) == {"data": [{"url": "https://example.com/r"}], "n": 1}
