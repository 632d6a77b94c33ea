"""A strict fake of a NanoGPT-style JSON image router.

It takes JSON only (multipart is refused), images only as data URLs of at most
4 MB each, a ``maskDataUrl`` that must be opaque white-on-black at the first
image's size, and checks the extra parameters' ranges. Its quirk: with
``b64_when_url_asked`` it answers base64 even when a URL was asked for.
"""

from __future__ import annotations

import base64
import io
import itertools
import json
import time
from typing import Any

from PIL import Image

from tests.fakes.common import Rejected, StrictFake, b64, json_reply
from tests.fakes.server import RecordedRequest, Reply

LIMIT = 4 * 1024 * 1024
MODELS = {"gpt-image-1", "flux-kontext", "flux-dev"}
FIELDS = {
    "model",
    "prompt",
    "n",
    "size",
    "response_format",
    "imageDataUrl",
    "imageDataUrls",
    "maskDataUrl",
    "strength",
    "guidance_scale",
    "num_inference_steps",
    "seed",
    "kontext_max_mode",
}


def decode_data_url(value: Any, what: str) -> Image.Image:
    if not isinstance(value, str) or not value.startswith("data:image/"):
        raise Rejected(f"{what} must be a data:image/... URL; remote URLs are not accepted.")
    if len(value) > LIMIT:
        raise Rejected(f"{what} is larger than 4 MB.")
    header, _, text = value.partition(",")
    if not header.endswith(";base64"):
        raise Rejected(f"{what} must be base64-encoded.")
    try:
        image = Image.open(io.BytesIO(base64.b64decode(text, validate=True)))
        image.load()
    except Exception:
        raise Rejected(f"{what} is not a readable image.") from None
    return image


class NanoGPTFake(StrictFake):
    def __init__(self) -> None:
        super().__init__()
        self.b64_when_url_asked = False
        self.files: dict[str, tuple[bytes, float]] = {}
        self._ids = itertools.count(1)
        self.last_images: list[Image.Image] = []
        self.last_mask: Image.Image | None = None

    def check_auth(self, request: RecordedRequest) -> None:
        if request.path.startswith("/files/"):
            if "authorization" in request.headers:
                raise Rejected("Result files never need the API key.")
            return
        super().check_auth(request)

    def serve(self, request: RecordedRequest) -> Reply:
        if request.method == "GET" and request.path.startswith("/files/"):
            stored = self.files.get(request.path)
            if stored is None or time.monotonic() > stored[1]:
                return Reply(status=404, body=b"expired")
            return Reply(status=200, body=stored[0], headers={"Content-Type": "image/png"})
        if request.method == "POST" and request.path in (
            "/v1/images/generations",
            "/v1/images/edits",
        ):
            return self.generate(request)
        raise Rejected(f"Unknown route {request.method} {request.path}", status=404)

    def generate(self, request: RecordedRequest) -> Reply:
        if not request.content_type.startswith("application/json"):
            raise Rejected("This API takes JSON only; send images as data URLs.", status=415)
        try:
            body = json.loads(request.body)
        except ValueError:
            raise Rejected("Invalid JSON body.") from None
        unknown = set(body) - FIELDS
        if unknown:
            raise Rejected(f"Unknown parameter(s): {', '.join(sorted(unknown))}")
        if body.get("model") not in MODELS:
            raise Rejected(f"Unknown model {body.get('model')}.")
        if not body.get("prompt"):
            raise Rejected("A prompt is required.")
        self.check_ranges(body)
        if "imageDataUrl" in body and "imageDataUrls" in body:
            raise Rejected("Send imageDataUrl or imageDataUrls, not both.")
        urls = body.get("imageDataUrls") or (
            [body["imageDataUrl"]] if "imageDataUrl" in body else []
        )
        if "imageDataUrls" in body and (not isinstance(urls, list) or len(urls) < 2):
            raise Rejected(
                "imageDataUrls takes a list of several images; use imageDataUrl for one."
            )
        self.last_images = [decode_data_url(url, "image") for url in urls]
        self.last_mask = None
        if "maskDataUrl" in body:
            if not self.last_images:
                raise Rejected("A mask needs an image.")
            mask = decode_data_url(body["maskDataUrl"], "maskDataUrl")
            if mask.mode in ("RGBA", "LA") and mask.getchannel("A").getextrema()[0] < 255:
                raise Rejected("maskDataUrl must be opaque: white marks the area to edit.")
            if mask.size != self.last_images[0].size:
                raise Rejected("maskDataUrl must be the size of the first image.")
            if mask.convert("L").getextrema()[1] != 255:
                raise Rejected("maskDataUrl has no white area to edit.")
            self.last_mask = mask
        return self.answer(body)

    def check_ranges(self, body: dict[str, Any]) -> None:
        ranges = {"strength": (0, 1), "guidance_scale": (0, 20), "num_inference_steps": (1, 100)}
        for name, (low, high) in ranges.items():
            if name in body and not (
                isinstance(body[name], int | float) and low <= body[name] <= high
            ):
                raise Rejected(f"{name} must be between {low} and {high}.")
        if "num_inference_steps" in body and not isinstance(body["num_inference_steps"], int):
            raise Rejected("num_inference_steps must be an integer.")
        if "seed" in body and not isinstance(body["seed"], int):
            raise Rejected("seed must be an integer.")
        if "kontext_max_mode" in body and not isinstance(body["kontext_max_mode"], bool):
            raise Rejected("kontext_max_mode must be true or false.")
        if "n" in body and not (isinstance(body["n"], int) and 1 <= body["n"] <= 10):
            raise Rejected("n must be 1 to 10.")

    def answer(self, body: dict[str, Any]) -> Reply:
        response_format = body.get("response_format", "b64_json")
        n = int(body.get("n", 1))
        data = []
        for index in range(n):
            picture = self.result_png(index)
            if response_format == "url" and not self.b64_when_url_asked:
                name = f"/files/{next(self._ids)}.png"
                self.files[name] = (picture, time.monotonic() + 3600)
                data.append({"url": self.base_url + name})
            else:
                data.append({"b64_json": b64(picture)})
        return json_reply(
            {"created": 1750000000, "data": data, "cost": 0.03 * n, "remainingBalance": 9.97}
        )
