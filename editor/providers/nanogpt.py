"""The ``nanogpt`` kind: a JSON-only router (NanoGPT and routers like it).

Everything goes to ``POST {base}/images/generations`` as JSON. Input images
travel as data URLs (``imageDataUrl`` for one, ``imageDataUrls`` for several),
each at most 4 MB encoded: Darkroom re-encodes or shrinks an image that is
larger and says so. The mask is ``maskDataUrl`` where WHITE marks the area to
change. It may answer ``b64_json`` even when a URL was asked for; both work.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from decimal import Decimal, InvalidOperation
from typing import Any

import pybase64

from editor import imaging
from editor.providers import http, results
from editor.providers.base import (
    CallObserver,
    ImageRequest,
    Listing,
    ModelSpec,
    NullObserver,
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

_KONTEXT_PARAMETERS: dict[str, dict[str, Any]] = {
    "n": _N,
    "size": _SIZE,
    "guidance_scale": {**_GUIDANCE, "default": 3.5},
    "num_inference_steps": {**_STEPS, "default": 28},
    "seed": _SEED,
    "kontext_max_mode": {"choices": ["false", "true"], "default": "false"},
}

# What Darkroom knows of some models NanoGPT-style routers serve: facts the
# listing may leave out (extra parameters), never a list of what a router
# offers. A router's own listing decides which models exist.
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
        # Several references go as imageDataUrls.
        max_images=4,
        max_prompt_length=4000,
        parameters=_KONTEXT_PARAMETERS,
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

# Parameters a listing may describe under ``supported_parameters``, with a range.
_RANGED = ("strength", "guidance_scale", "num_inference_steps", "seed")


def facts_from_listing(entry: Mapping[str, Any]) -> dict[str, Any] | None:
    """The ModelSpec fields one entry of ``GET /image-models?detailed=true`` states.

    None for an entry that makes no images. Fields the entry does not speak of
    are left out, so our knowledge (or the kind's defaults) fills them.
    """
    architecture = entry.get("architecture")
    architecture = architecture if isinstance(architecture, dict) else {}
    outputs = architecture.get("output_modalities")
    if isinstance(outputs, list) and "image" not in outputs:
        return None
    facts: dict[str, Any] = {}
    if entry.get("name"):
        facts["label"] = str(entry["name"])
    capabilities = entry.get("capabilities")
    inputs = architecture.get("input_modalities")
    if isinstance(capabilities, dict):
        if "image_generation" in capabilities:
            facts["can_generate"] = bool(capabilities["image_generation"])
        if "image_to_image" in capabilities or "inpainting" in capabilities:
            facts["can_edit"] = bool(
                capabilities.get("image_to_image") or capabilities.get("inpainting")
            )
        if "inpainting" in capabilities:
            facts["supports_mask"] = bool(capabilities["inpainting"])
    elif isinstance(inputs, list):
        facts["can_edit"] = "image" in inputs
    supported = entry.get("supported_parameters")
    supported = supported if isinstance(supported, dict) else {}
    parameters: dict[str, dict[str, Any]] = {}
    resolutions = [str(value) for value in supported.get("resolutions") or [] if value]
    if resolutions:
        default = "1024x1024" if "1024x1024" in resolutions else resolutions[0]
        parameters["size"] = {"choices": resolutions, "default": default}
    if isinstance(supported.get("fixed_image_count"), int):
        count = supported["fixed_image_count"]
        parameters["n"] = {"min": count, "max": count, "default": count}
    elif isinstance(supported.get("max_images"), int) and supported["max_images"] >= 1:
        parameters["n"] = {"min": 1, "max": supported["max_images"], "default": 1}
    for name in _RANGED:
        limits = supported.get(name)
        if isinstance(limits, dict) and {"min", "max"} <= set(limits):
            parameters[name] = {
                key: limits[key] for key in ("min", "max", "default", "step") if key in limits
            }
    if parameters:
        facts["parameters"] = parameters
    max_inputs = _max_input_images(entry, supported)
    if max_inputs is not None:
        facts["max_images"] = max_inputs
        facts.setdefault("can_edit", max_inputs > 0)
    pricing = _pricing(entry.get("pricing"))
    if pricing:
        facts["pricing"] = pricing
    return facts


def _max_input_images(entry: Mapping[str, Any], supported: Mapping[str, Any]) -> int | None:
    """How many input images the entry says the model takes, where it says so.

    NanoGPT's newer Image API names it ``input_reference_constraints.max_items``;
    routers built on the older listing use ``max_input_images``.
    """
    constraints = entry.get("input_reference_constraints")
    for value in (
        constraints.get("max_items") if isinstance(constraints, dict) else None,
        supported.get("max_input_images"),
        entry.get("max_input_images"),
    ):
        if isinstance(value, int) and value >= 0:
            return value
    return None


def _pricing(pricing: Any) -> dict[str, Any]:
    """A listed price in the shape ``editor.pricing`` reads: one price per
    image, or a price per resolution ("1024*1024" is read as 1024x1024)."""
    if not isinstance(pricing, dict):
        return {}
    per_image = pricing.get("per_image")
    currency = str(pricing.get("currency") or "USD")
    if isinstance(per_image, int | float | str) and _decimal(per_image) is not None:
        return {"per_image": str(per_image), "currency": currency}
    if isinstance(per_image, dict):
        sizes = {
            str(size).replace("*", "x"): str(price)
            for size, price in per_image.items()
            if _decimal(price) is not None
        }
        if sizes:
            return {"per_image_by_size": sizes, "currency": currency}
    return {}


def _decimal(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


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
    return f"data:{mime};base64,{pybase64.b64encode_as_string(data)}"


def raw_limit() -> int:
    """The most bytes an image may have so its data URL stays within the limit."""
    return (MAX_DATA_URL - 64) // 4 * 3


class NanoGPTAdapter(ProviderAdapter):
    kind = "nanogpt"
    default_base_url = "https://nano-gpt.com/api/v1"

    model_table = MODELS

    def listing(self) -> Listing:
        """The router's image models, from ``GET {base}/image-models?detailed=true``."""
        payload = http.call_json(self.config, "GET", "/image-models?detailed=true")
        entries = payload.get("data") if isinstance(payload, dict) else None
        if not isinstance(entries, list):
            raise http.safe_error(
                self.config,
                f"{self.config.name} listed its models in a form Darkroom does not know.",
                code="bad_response",
            )
        listed: Listing = {}
        for entry in entries:
            if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
                continue
            facts = facts_from_listing(entry)
            if facts is not None:
                listed[entry["id"]] = facts
        return listed

    @classmethod
    def default_spec(cls, model_id: str) -> ModelSpec:
        spec = super().default_spec(model_id)
        # Every model on these routers takes a size; 1024x1024 is the one they all know.
        return replace(spec, parameters={**spec.parameters, "size": _SIZE})

    def _body(self, request: ImageRequest) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": request.model_id,
            "prompt": request.prompt,
            "response_format": RESPONSE_FORMAT,
        }
        # The job's parameters were checked against the model's row (the
        # listing, our knowledge, or what the operator set); send them all.
        for name, value in request.params.items():
            if name not in WIRE or value in (None, ""):
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
        result = self._results(dict(payload), observer=NullObserver())
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
