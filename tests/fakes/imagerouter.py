"""A strict fake of ImageRouter, quirks included.

* It refuses ``n`` (one image per call), unknown fields, ``mask[]`` for models
  without mask support, more than one mask, and masks in the wrong convention
  or size for its OpenAI models.
* Every answer comes the way ImageRouter sends it: 200 at once, a few spaces
  while "the model runs", then the body, which may be an error.
"""

from __future__ import annotations

import io
import itertools
import json
from typing import Any

from PIL import Image

from tests.fakes.common import (
    Rejected,
    StrictFake,
    b64,
    json_reply,
    spaces_then,
)
from tests.fakes.server import RecordedRequest, Reply

MODELS: dict[str, dict[str, Any]] = {
    "openai/gpt-image-1": {
        "providers": [
            {
                "id": "openai",
                "model_name": "gpt-image-1",
                "pricing": {
                    "type": "calculated",
                    "range": {"min": 0.011, "average": 0.167, "max": 0.25},
                },
            }
        ],
        "output": ["image"],
        "supported_params": {"quality": True, "edit": True, "mask": True},
        "sizes": ["auto", "1024x1024", "1536x1024", "1024x1536"],
    },
    "google/gemini-2.5-flash-image": {
        "providers": [{"id": "google", "pricing": {"type": "fixed", "value": 0.039}}],
        "output": ["image"],
        "supported_params": {"quality": False, "edit": True, "mask": False},
        "sizes": ["auto"],
    },
    "black-forest-labs/FLUX-1-schnell": {
        "providers": [{"id": "runware", "pricing": {"type": "fixed", "value": 0.0013}}],
        "output": ["image"],
        "supported_params": {"quality": False, "edit": False, "mask": False},
        "sizes": ["auto", "512x512", "1024x1024"],
    },
    "test/test": {
        "providers": [{"id": "test", "pricing": {"type": "fixed", "value": 0}}],
        "output": ["image"],
        "supported_params": {"quality": False, "edit": False, "mask": False},
    },
    "google/veo-3": {
        "output": ["video"],
        "supported_params": {"edit": False},
    },
}
GENERATE_FIELDS = {"prompt", "model", "quality", "size", "response_format", "output_format"}
EDIT_FIELDS = {
    "prompt",
    "model",
    "quality",
    "response_format",
    "output_format",
    "image[]",
    "mask[]",
}


class ImageRouterFake(StrictFake):
    def __init__(self) -> None:
        super().__init__()
        self.files: dict[str, bytes] = {}
        self._ids = itertools.count(1)
        self.spaces = 3
        self.last_mask: Image.Image | None = None

    def serve(self, request: RecordedRequest) -> Reply:
        if request.method == "GET" and request.path == "/v1/models":
            return json_reply(MODELS)
        if request.method == "GET" and request.path.startswith("/files/"):
            return Reply(status=200, body=self.files[request.path])
        if request.method == "POST" and request.path == "/v1/openai/images/edits":
            return self.quirky(self.edit(request))
        if request.method == "POST" and request.path == "/v1/openai/images/generations":
            return self.quirky(self.generate(request))
        raise Rejected(f"Unknown route {request.method} {request.path}", status=404)

    def check_auth(self, request: RecordedRequest) -> None:
        if request.path.startswith("/files/"):
            if "authorization" in request.headers:
                raise Rejected("Result files never need the API key.")
            return
        super().check_auth(request)

    def quirky(self, payload: dict[str, Any]) -> Reply:
        return spaces_then(payload, spaces=self.spaces, interval=0.02)(None)  # type: ignore[arg-type]

    def edit(self, request: RecordedRequest) -> dict[str, Any]:
        if not request.content_type.startswith("multipart/form-data"):
            raise Rejected("Edits take multipart/form-data.")
        fields = request.multipart()
        if "n" in fields:
            raise Rejected("Parameter 'n' is not supported: one image per request.")
        unknown = set(fields) - EDIT_FIELDS
        if unknown:
            raise Rejected(f"Unknown parameter(s): {', '.join(sorted(unknown))}")
        values = {k: v[0][1].decode() for k, v in fields.items() if k not in ("image[]", "mask[]")}
        model = self.check_common(values)
        if not model["supported_params"].get("edit"):
            raise Rejected(f"Model {values['model']} does not support editing.")
        images = fields.get("image[]", [])
        if not 1 <= len(images) <= 16:
            raise Rejected("Provide 1 to 16 images as image[].")
        first = Image.open(io.BytesIO(images[0][1]))
        masks = fields.get("mask[]", [])
        self.last_mask = None
        if masks:
            if len(masks) > 1:
                raise Rejected("At most one mask.")
            if not model["supported_params"].get("mask"):
                raise Rejected(f"Model {values['model']} does not take a mask.")
            mask = Image.open(io.BytesIO(masks[0][1]))
            if mask.size != first.size:
                raise Rejected("The mask must be the size of the first image.")
            if values["model"].startswith("openai/") and (
                mask.mode != "RGBA" or mask.getchannel("A").getextrema()[0] != 0
            ):
                raise Rejected("Invalid mask: OpenAI models need transparent areas to edit.")
            self.last_mask = mask
        return self.answer(values)

    def generate(self, request: RecordedRequest) -> dict[str, Any]:
        if not request.content_type.startswith("application/json"):
            raise Rejected("Generations take JSON here.")
        body = json.loads(request.body)
        if "n" in body:
            raise Rejected("Parameter 'n' is not supported: one image per request.")
        unknown = set(body) - GENERATE_FIELDS
        if unknown:
            raise Rejected(f"Unknown parameter(s): {', '.join(sorted(unknown))}")
        values = {k: str(v) for k, v in body.items()}
        model = self.check_common(values)
        if "size" in values and values["size"] not in model.get("sizes", ["auto"]):
            raise Rejected(f"Size {values['size']} is not available for {values['model']}.")
        return self.answer(values)

    def check_common(self, values: dict[str, str]) -> dict[str, Any]:
        model = MODELS.get(values.get("model", ""))
        if model is None or model.get("output") == ["video"]:
            raise Rejected(f"Unknown image model {values.get('model')}.")
        if not values.get("prompt") or len(values["prompt"]) > 10000:
            raise Rejected("The prompt must be 1 to 10000 characters.")
        if "quality" in values and not model["supported_params"].get("quality"):
            raise Rejected(f"Model {values['model']} does not take a quality.")
        return model

    def answer(self, values: dict[str, str]) -> dict[str, Any]:
        response_format = values.get("response_format", "url")
        if response_format not in ("url", "b64_json", "b64_ephemeral"):
            raise Rejected("response_format must be url, b64_json or b64_ephemeral.")
        picture = self.result_png(len(self.requests))
        if response_format == "url":
            name = f"/files/{next(self._ids)}.png"
            self.files[name] = picture
            item: dict[str, Any] = {"url": self.base_url + name}
        else:
            item = {"b64_json": b64(picture)}
        return {
            "created": 1750000000123,
            "data": [item],
            "latency": 2345,
            "cost": self.price(values["model"]),
        }

    def price(self, model_id: str) -> float:
        """What one image costs: the listed fixed price, or a typical
        (average) run of a model whose price the router calculates."""
        pricing = MODELS[model_id]["providers"][0]["pricing"]
        if pricing["type"] == "fixed":
            return float(pricing["value"])
        return float(pricing["range"]["average"])

    def error_reply(self, exc: Rejected) -> Reply:
        # Refusals found before "running the model" keep their real status.
        return json_reply(
            {
                "error": {
                    "message": exc.message,
                    "type": "invalid_request_error",
                    "code": exc.status,
                }
            },
            status=exc.status,
        )
