"""A strict fake of OpenAI's gpt-image API (multipart edits, JSON generations, b64 only)."""

from __future__ import annotations

import io
import json

from PIL import Image

from tests.fakes.common import Rejected, StrictFake, b64, json_reply
from tests.fakes.server import RecordedRequest, Reply

MODELS = ["gpt-image-1", "gpt-image-1.5", "gpt-image-1-mini"]
SIZES = {"auto", "1024x1024", "1536x1024", "1024x1536"}
QUALITIES = {"auto", "low", "medium", "high"}
COMMON_FIELDS = {
    "model",
    "prompt",
    "n",
    "size",
    "quality",
    "background",
    "output_format",
    "output_compression",
    "user",
}
EDIT_FIELDS = COMMON_FIELDS | {"image[]", "mask", "input_fidelity"}
GENERATE_FIELDS = COMMON_FIELDS | {"moderation"}


def open_checked(data: bytes, what: str) -> Image.Image:
    try:
        image = Image.open(io.BytesIO(data), formats=["PNG", "JPEG", "WEBP"])
        image.load()
    except Exception:
        raise Rejected(f"Invalid image file or mode for {what}.") from None
    return image


class OpenAIFake(StrictFake):
    def __init__(self, *, listed_models: list[str] | None = None) -> None:
        super().__init__()
        self.listed_models = (
            listed_models
            if listed_models is not None
            else [
                *MODELS,
                "dall-e-3",
            ]
        )
        # What the last accepted edit received, decoded, for assertions.
        self.last_images: list[Image.Image] = []
        self.last_mask: Image.Image | None = None
        # Answer an edit with the first image it received (as PNG), the way a
        # real edit gives back the picture it was sent, turned as it was.
        self.echo_input = False

    def serve(self, request: RecordedRequest) -> Reply:
        if request.method == "GET" and request.path == "/v1/models":
            return json_reply(
                {
                    "object": "list",
                    "data": [{"id": m, "object": "model"} for m in self.listed_models],
                }
            )
        if request.method == "POST" and request.path == "/v1/images/edits":
            return self.edit(request)
        if request.method == "POST" and request.path == "/v1/images/generations":
            return self.generate(request)
        raise Rejected(f"Unknown request URL: {request.method} {request.path}", status=404)

    def edit(self, request: RecordedRequest) -> Reply:
        if not request.content_type.startswith("multipart/form-data"):
            raise Rejected("Edits take multipart/form-data.")
        fields = request.multipart()
        unknown = set(fields) - EDIT_FIELDS
        if unknown:
            raise Rejected(f"Unrecognized request argument supplied: {', '.join(sorted(unknown))}")
        values = {
            name: parts[0][1].decode()
            for name, parts in fields.items()
            if name not in ("image[]", "mask")
        }
        self.check_common(values)
        images = fields.get("image[]", [])
        if not 1 <= len(images) <= 16:
            raise Rejected("Provide between 1 and 16 images as image[].")
        self.last_images = [open_checked(data, "image[]") for _, data in images]
        if "input_fidelity" in values:
            if values["model"] == "gpt-image-1-mini":
                raise Rejected("input_fidelity is not supported for gpt-image-1-mini.")
            if values["input_fidelity"] not in ("low", "high"):
                raise Rejected("Invalid input_fidelity.")
        self.last_mask = None
        if "mask" in fields:
            mask = open_checked(fields["mask"][0][1], "mask")
            if mask.format != "PNG" or mask.mode not in ("RGBA", "LA"):
                raise Rejected("Invalid mask image: it must be a PNG with an alpha channel.")
            if mask.size != self.last_images[0].size:
                raise Rejected(
                    f"Invalid mask image: its size {mask.size} does not match the image "
                    f"{self.last_images[0].size}."
                )
            if mask.getchannel("A").getextrema()[0] != 0:
                raise Rejected("Invalid mask image: no fully transparent area to edit.")
            self.last_mask = mask
        edited = self.last_images[0] if self.echo_input else None
        return self.answer(int(values.get("n", "1")), edited=edited)

    def generate(self, request: RecordedRequest) -> Reply:
        if not request.content_type.startswith("application/json"):
            raise Rejected("Generations take application/json.")
        try:
            body = json.loads(request.body)
        except ValueError:
            raise Rejected("We could not parse the JSON body of your request.") from None
        unknown = set(body) - GENERATE_FIELDS
        if unknown:
            raise Rejected(f"Unrecognized request argument supplied: {', '.join(sorted(unknown))}")
        self.check_common({k: str(v) for k, v in body.items()})
        if "n" in body and not isinstance(body["n"], int):
            raise Rejected("n must be an integer.")
        return self.answer(int(body.get("n", 1)))

    def check_common(self, values: dict[str, str]) -> None:
        if values.get("model") not in MODELS:
            raise Rejected(f"Invalid model: {values.get('model')}", code="invalid_value")
        if not values.get("prompt"):
            raise Rejected("Missing required parameter: 'prompt'.")
        if len(values["prompt"]) > 32000:
            raise Rejected("The prompt is too long.")
        if "n" in values and not 1 <= int(values["n"]) <= 10:
            raise Rejected("n must be between 1 and 10.")
        if "size" in values and values["size"] not in SIZES:
            raise Rejected(f"Invalid size: {values['size']}")
        if "quality" in values and values["quality"] not in QUALITIES:
            raise Rejected(f"Invalid quality: {values['quality']}")
        if "output_compression" in values and values.get("output_format", "png") == "png":
            raise Rejected("output_compression is only supported for jpeg and webp.")

    def answer(self, n: int, *, edited: Image.Image | None = None) -> Reply:
        results = [self.result_png(index) for index in range(n)]
        if edited is not None:
            buffer = io.BytesIO()
            edited.save(buffer, format="PNG")
            results = [buffer.getvalue()] * n
        return json_reply(
            {
                "created": 1713833628,
                "data": [{"b64_json": b64(result)} for result in results],
                "usage": {
                    "input_tokens": 50,
                    "input_tokens_details": {"image_tokens": 40, "text_tokens": 10},
                    "output_tokens": 272 * n,
                    "total_tokens": 50 + 272 * n,
                },
            }
        )
