"""A strict fake of the classic DALL-E 2 images contract, with expiring result URLs.

It refuses what the real one refuses: ``image[]`` instead of ``image``, a
non-PNG, non-square or >= 4 MB image, an opaque image without a mask, a mask
of another size or without transparency, prompts over 1000 characters.
"""

from __future__ import annotations

import io
import itertools
import json
import time

from PIL import Image

from tests.fakes.common import Rejected, StrictFake, b64, every_pixel_changed, json_reply
from tests.fakes.server import RecordedRequest, Reply

SIZES = {"256x256", "512x512", "1024x1024"}
FIELDS = {"model", "prompt", "n", "size", "response_format", "user"}
LIMIT = 4 * 1024 * 1024


def open_png(data: bytes, what: str) -> Image.Image:
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except Exception:
        raise Rejected(f"Invalid {what}: not an image file.") from None
    if image.format != "PNG":
        raise Rejected(f"Invalid {what}: it must be a valid PNG file.")
    if len(data) >= LIMIT:
        raise Rejected(f"Invalid {what}: it must be less than 4 MB.")
    return image


def has_transparency(image: Image.Image) -> bool:
    if image.mode not in ("RGBA", "LA"):
        return False
    return bool(image.getchannel("A").getextrema()[0] == 0)


class Dalle2Fake(StrictFake):
    def __init__(self) -> None:
        super().__init__()
        self.files: dict[str, tuple[bytes, float]] = {}
        self.url_lifetime = 3600.0
        self._ids = itertools.count(1)
        self.last_image: Image.Image | None = None
        self.last_mask: Image.Image | None = None

    def serve(self, request: RecordedRequest) -> Reply:
        if request.method == "GET" and request.path.startswith("/files/"):
            return self.file(request.path)
        if request.method == "POST" and request.path == "/v1/images/edits":
            return self.edit(request)
        if request.method == "POST" and request.path == "/v1/images/generations":
            return self.generate(request)
        raise Rejected(f"Unknown request URL: {request.method} {request.path}", status=404)

    def check_auth(self, request: RecordedRequest) -> None:
        if request.path.startswith("/files/"):
            if "authorization" in request.headers:
                raise Rejected("Result files never need the API key.", status=400)
            return
        super().check_auth(request)

    def edit(self, request: RecordedRequest) -> Reply:
        if not request.content_type.startswith("multipart/form-data"):
            raise Rejected("Edits take multipart/form-data.")
        fields = request.multipart()
        unknown = set(fields) - FIELDS - {"image", "mask"}
        if unknown:
            raise Rejected(f"Unrecognized request argument supplied: {', '.join(sorted(unknown))}")
        if len(fields.get("image", [])) != 1:
            raise Rejected("Exactly one image is required in the 'image' field.")
        image = open_png(fields["image"][0][1], "image")
        if image.size[0] != image.size[1]:
            raise Rejected("Invalid image: it must be square.")
        self.last_image = image
        self.last_mask = None
        if "mask" in fields:
            mask = open_png(fields["mask"][0][1], "mask")
            if mask.size != image.size:
                raise Rejected("Invalid mask: it must be the same size as the image.")
            if not has_transparency(mask):
                raise Rejected("Invalid mask: it must have fully transparent areas to edit.")
            self.last_mask = mask
        elif not has_transparency(image):
            raise Rejected("Invalid image: without a mask, the image must have transparency.")
        values = {k: v[0][1].decode() for k, v in fields.items() if k not in ("image", "mask")}
        return self.answer(values, edited=image if self.change_every_pixel else None)

    def generate(self, request: RecordedRequest) -> Reply:
        if not request.content_type.startswith("application/json"):
            raise Rejected("Generations take application/json.")
        body = json.loads(request.body)
        unknown = set(body) - FIELDS
        if unknown:
            raise Rejected(f"Unrecognized request argument supplied: {', '.join(sorted(unknown))}")
        return self.answer({k: str(v) for k, v in body.items()})

    def answer(self, values: dict[str, str], *, edited: Image.Image | None = None) -> Reply:
        prompt = values.get("prompt", "")
        if not prompt or len(prompt) > 1000:
            raise Rejected("The prompt must be 1 to 1000 characters.")
        size = values.get("size", "1024x1024")
        if size not in SIZES:
            raise Rejected(f"Invalid size {size}: must be one of 256x256, 512x512, 1024x1024.")
        n = int(values.get("n", "1"))
        if not 1 <= n <= 10:
            raise Rejected("n must be between 1 and 10.")
        response_format = values.get("response_format", "url")
        if response_format not in ("url", "b64_json"):
            raise Rejected("response_format must be url or b64_json.")
        data = []
        for index in range(n):
            picture = self.result_png(index)
            if edited is not None:
                # The model answers at the size asked for, square like what it got.
                side = int(size.split("x")[0])
                picture = every_pixel_changed(edited, size=(side, side))
            if response_format == "b64_json":
                data.append({"b64_json": b64(picture)})
            else:
                name = f"/files/{next(self._ids)}.png"
                self.files[name] = (picture, time.monotonic() + self.url_lifetime)
                data.append({"url": self.base_url + name})
        return json_reply({"created": 1713833628, "data": data})

    def file(self, path: str) -> Reply:
        stored = self.files.get(path)
        if stored is None or time.monotonic() > stored[1]:
            return Reply(status=403, body=b"<Error>AuthenticationFailed: expired</Error>")
        return Reply(status=200, body=stored[0], headers={"Content-Type": "image/png"})
