"""The ``nanogpt`` kind: a JSON-only router (NanoGPT and routers like it).

Everything goes to ``POST {base}/images/generations`` as JSON. Input images
travel as data URLs (``imageDataUrl`` for one, ``imageDataUrls`` for several),
each at most 4 MB encoded: Darkroom re-encodes or shrinks an image that is
larger and says so. The mask is ``maskDataUrl`` where WHITE marks the area to
change. It may answer ``b64_json`` even when a URL was asked for; both work.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from editor import imaging
from editor.providers import http, results
from editor.providers.base import (
    CallObserver,
    ImageRequest,
    ModelSpec,
    ProviderAdapter,
    ProviderError,
    ProviderResult,
)

# The limit is on the data URL as sent, so on the base64 text.
MAX_DATA_URL = 4 * 1024 * 1024
URL_LIFETIME = 60 * 60
RESPONSE_FORMAT = "b64_json"
SIZES = ["256x256", "512x512", "1024x1024"]

_N = {"min": 1, "max": 4, "default": 1}
_SIZE = {"choices": SIZES, "default": "1024x1024"}
_GUIDANCE = {"min": 0, "max": 20, "step": 0.5}
_STEPS = {"min": 1, "max": 100}
_SEED = {"min": 0, "max": 2**31 - 1}

MODELS = [
    ModelSpec(
        model_id="gpt-image-1",
        label="GPT Image 1",
        can_edit=True,
        can_generate=True,
        supports_mask=True,
        max_images=4,
        max_prompt_length=32000,
        parameters={"n": _N, "size": _SIZE},
    ),
    ModelSpec(
        model_id="flux-kontext",
        label="FLUX.1 Kontext",
        can_edit=True,
        can_generate=True,
        supports_mask=False,
        max_images=1,
        max_prompt_length=4000,
        parameters={
            "n": _N,
            "size": _SIZE,
            "guidance_scale": {**_GUIDANCE, "default": 3.5},
            "num_inference_steps": {**_STEPS, "default": 28},
            "seed": _SEED,
            "kontext_max_mode": {"choices": ["false", "true"], "default": "false"},
        },
    ),
    ModelSpec(
        model_id="flux-dev",
        label="FLUX.1 dev (image to image, inpainting)",
        can_edit=True,
        can_generate=True,
        supports_mask=True,
        max_images=1,
        max_prompt_length=4000,
        parameters={
            "n": _N,
            "size": _SIZE,
            "strength": {"min": 0, "max": 1, "step": 0.05, "default": 0.8, "modes": ["edit"]},
            "guidance_scale": {**_GUIDANCE, "default": 3.5},
            "num_inference_steps": {**_STEPS, "default": 28},
            "seed": _SEED,
        },
    ),
]

# Our parameter name -> (wire name, how to convert the value).
WIRE: dict[str, tuple[str, Any]] = {
    "n": ("n", int),
    "size": ("size", str),
    "strength": ("strength", float),
    "guidance_scale": ("guidance_scale", float),
    "num_inference_steps": ("num_inference_steps", int),
    "seed": ("seed", int),
    "kontext_max_mode": ("kontext_max_mode", lambda value: str(value).lower() == "true"),
}


def data_url(data: bytes, image_format: str) -> str:
    mime = http.MIME_TYPES.get(image_format, "image/png")
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def raw_limit() -> int:
    """The most bytes an image may have so its data URL stays within the limit."""
    return (MAX_DATA_URL - 64) // 4 * 3


class NanoGPTAdapter(ProviderAdapter):
    kind = "nanogpt"
    default_base_url = "https://nano-gpt.com/api/v1"

    model_table = MODELS

    def _body(self, request: ImageRequest) -> dict[str, Any]:
        spec = next((m for m in MODELS if m.model_id == request.model_id), None)
        body: dict[str, Any] = {
            "model": request.model_id,
            "prompt": request.prompt,
            "response_format": RESPONSE_FORMAT,
        }
        for name, value in request.params.items():
            if name not in WIRE or value in (None, ""):
                continue
            if spec is not None and name not in spec.parameters:
                continue
            wire_name, convert = WIRE[name]
            body[wire_name] = convert(value)
        return body

    def edit(self, request: ImageRequest, *, observer: CallObserver) -> ProviderResult:
        if not request.images:
            raise ProviderError("An edit needs at least one image.", code="no_input")
        notices: list[str] = []
        urls: list[str] = []
        first_size = request.images[0].size
        for index, image in enumerate(request.images):
            fitted = imaging.fit_bytes(image.data, max_bytes=raw_limit())
            if index == 0:
                first_size = fitted.size
            if fitted.change == "reencoded":
                notices.append(
                    f"Image {index + 1} was re-encoded as {fitted.format} to fit the provider's "
                    "4 MB limit."
                )
            elif fitted.change == "shrunk":
                notices.append(
                    f"Image {index + 1} was shrunk from {image.width}×{image.height} to "
                    f"{fitted.size[0]}×{fitted.size[1]} to fit the provider's 4 MB limit."
                )
            urls.append(data_url(fitted.data, fitted.format))
        body = self._body(request)
        if len(urls) == 1:
            body["imageDataUrl"] = urls[0]
        else:
            body["imageDataUrls"] = urls
        sent_mask = None
        if request.mask is not None:
            # At the size of the first image as sent, after any shrinking.
            sent_mask = imaging.mask_to_white_on_black(request.mask, size=first_size)
            body["maskDataUrl"] = data_url(sent_mask, "PNG")
        result = self._call(body, observer=observer)
        result.notices[:0] = notices
        result.sent_mask = sent_mask
        return result

    def generate(self, request: ImageRequest, *, observer: CallObserver) -> ProviderResult:
        return self._call(self._body(request), observer=observer)

    def results_from_response(
        self, payload: Mapping[str, Any], request: ImageRequest
    ) -> ProviderResult:
        result = self._results(dict(payload), observer=http.NullObserver())
        if request.mask is not None and request.images:
            fitted = imaging.fit_bytes(request.images[0].data, max_bytes=raw_limit())
            result.sent_mask = imaging.mask_to_white_on_black(request.mask, size=fitted.size)
        return result

    def _call(self, body: dict[str, Any], *, observer: CallObserver) -> ProviderResult:
        payload = http.call_json(
            self.config, "POST", "/images/generations", observer=observer, json_body=body
        )
        payload = http.images_answer(self.config, payload, observer=observer)
        return self._results(payload, observer=observer)

    def _results(self, payload: dict[str, Any], *, observer: CallObserver) -> ProviderResult:
        deadline = results.url_deadline(URL_LIFETIME)
        images, notices = results.collect_results(
            self.config, payload, observer=observer, url_deadline=deadline
        )
        usage: dict[str, Any] = {}
        if payload.get("remainingBalance") is not None:
            usage["remaining_balance"] = payload["remainingBalance"]
        cost = None
        if payload.get("cost") is not None:
            try:
                cost = Decimal(str(payload["cost"]))
            except InvalidOperation:
                cost = None
        return ProviderResult(
            images=images,
            usage=usage,
            cost=cost,
            notices=notices,
            result_deadline=deadline if any(image.source_url for image in images) else None,
        )
