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


def entry(
    model_id: str,
    name: str,
    *,
    generate: bool = True,
    edit: bool = True,
    inpainting: bool = False,
    max_inputs: int = 1,
    resolutions: tuple[str, ...] = ("256x256", "512x512", "1024x1024"),
    max_images: int = 4,
    price: Any = 0.02,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One model as ``GET /api/v1/image-models?detailed=true`` describes it."""
    listed: dict[str, Any] = {
        "id": model_id,
        "object": "model",
        "created": 1760000000,
        "owned_by": "router",
        "name": name,
        "description": f"{name} on a NanoGPT-style router.",
        "architecture": {
            "modality": "text+image->image" if edit else "text->image",
            "input_modalities": ["text", "image"] if edit else ["text"],
            "output_modalities": ["image"],
        },
        "pricing": {"per_image": price, "currency": "USD"},
        "capabilities": {
            "image_generation": generate,
            "image_to_image": edit,
            "inpainting": inpainting,
            "nsfw": False,
        },
        "supported_parameters": {
            "resolutions": list(resolutions),
            "max_images": max_images,
            **(extra or {}),
        },
        "category": "image",
    }
    if edit:
        listed["input_reference_constraints"] = {"max_items": max_inputs}
    return listed


def default_listing() -> list[dict[str, Any]]:
    """What this router serves. It differs from Darkroom's own table on purpose:
    FLUX.1 Kontext takes several images here, and HiDream is not in the table."""
    return [
        entry(
            "gpt-image-1",
            "GPT Image 1",
            inpainting=True,
            max_inputs=4,
            price={"256*256": 0.011, "512*512": 0.016, "1024*1024": 0.042},
        ),
        entry(
            "flux-kontext",
            "FLUX.1 Kontext [pro]",
            max_inputs=4,
            resolutions=("1024x1024", "1344x768", "768x1344"),
            price=0.04,
        ),
        entry(
            "flux-dev",
            "FLUX.1 [dev]",
            inpainting=True,
            price=0.025,
            extra={"strength": {"min": 0, "max": 1, "default": 0.8}},
        ),
        entry("hidream", "HiDream I1", edit=False, price=0.012, resolutions=("1024x1024",)),
        {
            "id": "kling-video",
            "name": "Kling video",
            "architecture": {"input_modalities": ["text"], "output_modalities": ["video"]},
        },
    ]


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
    def __init__(self, listing: list[dict[str, Any]] | None = None) -> None:
        super().__init__()
        # Edit it in a test to make the router add, change or drop models.
        self.listing = listing if listing is not None else default_listing()
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
        # Model discovery needs no key, as on NanoGPT; generations do.
        if request.method == "GET" and request.path == "/v1/image-models":
            return
        super().check_auth(request)

    def model(self, model_id: Any) -> dict[str, Any]:
        for listed in self.listing:
            if listed.get("id") == model_id and "image" in listed["architecture"].get(
                "output_modalities", []
            ):
                return listed
        raise Rejected(f"Model '{model_id}' not found.", status=404, code="model_not_found")

    def serve(self, request: RecordedRequest) -> Reply:
        if request.method == "GET" and request.path == "/v1/image-models":
            if request.query.get("detailed") != ["true"]:
                return json_reply(
                    {"object": "list", "data": [{"id": m["id"]} for m in self.listing]}
                )
            return json_reply(
                {"object": "list", "data": self.listing, "meta": {"count": len(self.listing)}}
            )
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
        model = self.model(body.get("model"))
        if not body.get("prompt"):
            raise Rejected("A prompt is required.")
        self.check_ranges(body)
        self.check_model(model, body)
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

    def check_model(self, model: dict[str, Any], body: dict[str, Any]) -> None:
        """What this model, as listed, cannot do is refused, as the router would."""
        can = model["capabilities"]
        supported = model["supported_parameters"]
        images = body.get("imageDataUrls") or ([1] if "imageDataUrl" in body else [])
        name = model["id"]
        if images and not can["image_to_image"]:
            raise Rejected(f"{name} does not take input images.")
        if not images and not can["image_generation"]:
            raise Rejected(f"{name} needs an input image.")
        if images and len(images) > model["input_reference_constraints"]["max_items"]:
            raise Rejected(
                f"{name} takes at most {model['input_reference_constraints']['max_items']} images."
            )
        if "maskDataUrl" in body and not can["inpainting"]:
            raise Rejected(f"{name} does not support masks.")
        if "size" in body and body["size"] not in supported["resolutions"]:
            raise Rejected(f"{name} does not support the size {body['size']}.")
        if int(body.get("n", 1)) > supported["max_images"]:
            raise Rejected(f"{name} makes at most {supported['max_images']} images per request.")
        if "strength" in body and "strength" not in supported:
            raise Rejected(f"{name} does not take strength.")

    def price(self, model: dict[str, Any], size: str) -> float:
        listed = model["pricing"]["per_image"]
        if isinstance(listed, dict):
            return float(listed[size.replace("x", "*")])
        return float(listed)

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
        model = self.model(body["model"])
        size = str(body.get("size") or "1024x1024")
        cost = round(self.price(model, size) * n, 6)
        return json_reply(
            {"created": 1750000000, "data": data, "cost": cost, "remainingBalance": 9.97}
        )
