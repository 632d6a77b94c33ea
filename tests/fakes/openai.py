"""A strict fake of OpenAI's gpt-image API (multipart edits, JSON generations, b64 only)."""

from __future__ import annotations

import io
import json

from PIL import Image

from tests.fakes.common import Rejected, StrictFake, b64, every_pixel_changed, json_reply
from tests.fakes.server import RecordedRequest, Reply

MODELS = [
    "gpt-image-1",
    "gpt-image-1.5",
    "gpt-image-1-mini",
    "gpt-image-2",
    "gpt-image-2-2026-04-21",
]
SIZES = {"auto", "1024x1024", "1536x1024", "1024x1536"}
# What OpenAI bills, in its own terms: output image tokens for one 1024x1024
# image by quality (other sizes scale with their area), input image tokens
# per image by fidelity, about four characters a text token.
OUTPUT_TOKENS = {
    "gpt-image-2": {"low": 208, "medium": 1760, "high": 7040},
    "other": {"low": 272, "medium": 1056, "high": 4160},
}
INPUT_IMAGE_TOKENS = {"low": 388, "high": 4548}


def gpt_image_2_size_problem(size: str) -> str | None:
    """gpt-image-2 takes any size: multiples of 16, at most 3840 a side and
    3:1, 655,360 to 8,294,400 pixels."""
    if size == "auto":
        return None
    try:
        width, height = (int(part) for part in size.split("x"))
    except ValueError:
        return f"Invalid size '{size}'."
    if width % 16 or height % 16:
        return f"Invalid size '{size}': width and height must be multiples of 16."
    if max(width, height) > 3840 or max(width, height) > 3 * min(width, height):
        return f"Invalid size '{size}': at most 3840 pixels a side and a 3:1 ratio."
    if not 655_360 <= width * height <= 8_294_400:
        return f"Invalid size '{size}': between 655,360 and 8,294,400 pixels."
    return None


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
    def __init__(
        self, *, listed_models: list[str] | None = None, served_models: list[str] | None = None
    ) -> None:
        super().__init__()
        # What GET /models lists: the image models and, as OpenAI's own list
        # does, models that make no images.
        self.listed_models = (
            listed_models
            if listed_models is not None
            else [*MODELS, "dall-e-3", "gpt-4o", "whisper-1", "text-embedding-3-small"]
        )
        # Models it serves without listing them (a router's newest additions).
        self.served_models = [*MODELS, *(served_models or [])]
        self.last_values: dict[str, str] = {}
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
            if values["model"] == "gpt-image-1-mini" or values["model"].startswith("gpt-image-2"):
                raise Rejected(f"input_fidelity is not supported for {values['model']}.")
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
        if self.change_every_pixel:
            changed = open_checked(every_pixel_changed(self.last_images[0]), "result")
            return self.answer(values, input_images=len(images), edited=changed)
        return self.answer(values, input_images=len(images), edited=edited)

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
        return self.answer({k: str(v) for k, v in body.items()}, input_images=0)

    def check_common(self, values: dict[str, str]) -> None:
        model = values.get("model", "")
        if model not in self.served_models:
            raise Rejected(f"Invalid model: {values.get('model')}", code="invalid_value")
        self.last_values = dict(values)
        if not values.get("prompt"):
            raise Rejected("Missing required parameter: 'prompt'.")
        if len(values["prompt"]) > 32000:
            raise Rejected("The prompt is too long.")
        if "n" in values and not 1 <= int(values["n"]) <= 10:
            raise Rejected("n must be between 1 and 10.")
        if model.startswith("gpt-image-2"):
            if problem := gpt_image_2_size_problem(values.get("size", "auto")):
                raise Rejected(problem)
            if values.get("background") == "transparent":
                raise Rejected("Transparent background is not supported for gpt-image-2.")
        elif "size" in values and values["size"] not in SIZES:
            raise Rejected(f"Invalid size: {values['size']}")
        if "quality" in values and values["quality"] not in QUALITIES:
            raise Rejected(f"Invalid quality: {values['quality']}")
        if "output_compression" in values and values.get("output_format", "png") == "png":
            raise Rejected("output_compression is only supported for jpeg and webp.")

    def answer(
        self, values: dict[str, str], *, input_images: int, edited: Image.Image | None = None
    ) -> Reply:
        n = int(values.get("n", "1"))
        results = [self.result_png(index) for index in range(n)]
        if edited is not None:
            buffer = io.BytesIO()
            edited.save(buffer, format="PNG")
            results = [buffer.getvalue()] * n
        family = "gpt-image-2" if values["model"].startswith("gpt-image-2") else "other"
        quality = values.get("quality", "auto")
        per_square = OUTPUT_TOKENS[family].get(quality, OUTPUT_TOKENS[family]["medium"])
        size = values.get("size", "auto")
        width, height = (1024, 1024) if size == "auto" else (int(p) for p in size.split("x"))
        output = -(-per_square * width * height // (1024 * 1024)) * n
        fidelity = values.get("input_fidelity", "low")
        image_tokens = INPUT_IMAGE_TOKENS[fidelity] * input_images
        text_tokens = -(-len(values.get("prompt", "")) // 4)
        return json_reply(
            {
                "created": 1713833628,
                "data": [{"b64_json": b64(result)} for result in results],
                "usage": {
                    "input_tokens": text_tokens + image_tokens,
                    "input_tokens_details": {
                        "image_tokens": image_tokens,
                        "text_tokens": text_tokens,
                    },
                    "output_tokens": output,
                    "total_tokens": text_tokens + image_tokens + output,
                },
            }
        )
