"""The ``openai`` kind: gpt-image models on any OpenAI-compatible base URL.

Edits are multipart with ``image[]`` (1-16) and an optional ``mask`` (alpha
0 marks the area to change, the size of the first image); generations are
JSON. Answers are always ``b64_json``, with token ``usage``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

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

SIZES = ["auto", "1024x1024", "1536x1024", "1024x1536"]
# gpt-image-2 takes any size within these rules; the list is what the form offers.
SIZES_2 = [
    "auto",
    "1024x1024",
    "1536x1024",
    "1024x1536",
    "2048x2048",
    "2048x1152",
    "1152x2048",
    "3840x2160",
    "2160x3840",
]
CUSTOM_SIZES_2 = {
    "multiple_of": 16,
    "max_side": 3840,
    "max_ratio": 3,
    "min_pixels": 655_360,
    "max_pixels": 8_294_400,
}


def _parameters(
    *, input_fidelity: bool, sizes: list[str], backgrounds: list[str], custom: bool = False
) -> dict[str, dict[str, Any]]:
    size: dict[str, Any] = {"choices": sizes, "default": "auto"}
    if custom:
        size["custom"] = CUSTOM_SIZES_2
    parameters: dict[str, dict[str, Any]] = {
        "n": {"min": 1, "max": 10, "default": 1},
        "size": size,
        "quality": {"choices": ["auto", "low", "medium", "high"], "default": "auto"},
        "background": {"choices": backgrounds, "default": "auto"},
        "output_format": {"choices": ["png", "jpeg", "webp"], "default": "png"},
        "output_compression": {"min": 0, "max": 100},
    }
    if input_fidelity:
        parameters["input_fidelity"] = {
            "choices": ["low", "high"],
            "default": "low",
            "modes": ["edit"],
        }
    return parameters


def _spec(
    model_id: str,
    label: str,
    *,
    input_fidelity: bool,
    sizes: list[str] = SIZES,
    backgrounds: tuple[str, ...] = ("auto", "transparent", "opaque"),
    custom: bool = False,
) -> ModelSpec:
    return ModelSpec(
        model_id=model_id,
        label=label,
        can_edit=True,
        can_generate=True,
        supports_mask=True,
        max_images=16,
        max_prompt_length=32000,
        parameters=_parameters(
            input_fidelity=input_fidelity,
            sizes=sizes,
            backgrounds=list(backgrounds),
            custom=custom,
        ),
        # Token prices live in editor.pricing, by family.
        pricing={"tokens": model_id},
    )


MODELS: list[ModelSpec] = [
    _spec("gpt-image-2", "GPT Image 2", input_fidelity=False, sizes=SIZES_2, custom=True,
          # It makes no transparent backgrounds.
          backgrounds=("auto", "opaque")),
    _spec("gpt-image-1.5", "GPT Image 1.5", input_fidelity=True),
    _spec("gpt-image-1", "GPT Image 1", input_fidelity=True),
    # The mini model rejects input_fidelity.
    _spec("gpt-image-1-mini", "GPT Image 1 mini", input_fidelity=False),
]  # fmt: skip
# Known when a provider lists it, but not offered unless it does.
KNOWN_ONLY: list[ModelSpec] = [
    # ChatGPT's current image model, under a moving name; it takes what 1.5 takes.
    _spec("chatgpt-image-latest", "ChatGPT Image (latest)", input_fidelity=True),
]

# A dated snapshot ("gpt-image-2-2026-04-21") or a "-latest" alias of a family.
ALIAS = re.compile(r"^(?P<family>.+?)-(?P<tag>\d{4}-\d{2}-\d{2}|latest)$")

# Our parameter name -> the field the API takes (the same names here).
WIRE_NAMES = {
    "n": "n",
    "size": "size",
    "quality": "quality",
    "background": "background",
    "output_format": "output_format",
    "output_compression": "output_compression",
    "input_fidelity": "input_fidelity",
}


def family_spec(model_id: str) -> ModelSpec | None:
    """Our knowledge of ``model_id``: a model of the table, or a dated or
    "-latest" alias of one, labelled as such."""
    spec = next((model for model in [*MODELS, *KNOWN_ONLY] if model.model_id == model_id), None)
    if spec is not None:
        return spec
    match = ALIAS.match(model_id)
    if match is None:
        return None
    family = next((model for model in MODELS if model.model_id == match["family"]), None)
    if family is None:
        return None
    return replace(family, model_id=model_id, label=f"{family.label} ({match['tag']})")


def lists_an_image_model(entry: Mapping[str, Any]) -> bool:
    """Whether a ``/models`` entry we have no knowledge of says it makes images.

    OpenAI's own list names chat, audio and embedding models too; routers that
    describe modalities (OpenRouter's ``architecture``, a ``type``) say which
    ones make images.
    """
    architecture = entry.get("architecture")
    if isinstance(architecture, Mapping):
        outputs = architecture.get("output_modalities")
        if isinstance(outputs, list) and "image" in outputs:
            return True
    return str(entry.get("type", "")).lower() in {"image", "images", "image_generation"}


def wire_parameters(request: ImageRequest, *, edit: bool) -> dict[str, Any]:
    """The request's parameters under the API's names, only those that apply.

    For a model we know, only what it accepts; for another id, what its row
    (which the operator may have edited) let through the form.
    """
    spec = family_spec(request.model_id)
    fields: dict[str, Any] = {}
    for name, value in request.params.items():
        if name not in WIRE_NAMES or value in (None, ""):
            continue
        if spec is not None and name not in spec.parameters:
            continue
        if name == "input_fidelity" and not edit:
            continue
        fields[WIRE_NAMES[name]] = value
    # Compression only means something for lossy formats; the API rejects it for PNG.
    if fields.get("output_format", "png") == "png":
        fields.pop("output_compression", None)
    return fields


class OpenAIAdapter(ProviderAdapter):
    kind = "openai"
    default_base_url = "https://api.openai.com/v1"

    model_table = MODELS

    @classmethod
    def known_spec(cls, model_id: str) -> ModelSpec | None:
        return family_spec(model_id)

    def listing(self) -> Listing | None:
        """The image models among the ids ``GET /models`` lists.

        The list gives ids only: what each can do comes from our knowledge of
        the gpt-image family (dated and "-latest" aliases included). A router
        without a model list (404) leaves our table as the answer.
        """
        try:
            payload = http.call_json(self.config, "GET", "/models")
        except ProviderError as error:
            if error.detail.get("status") in (404, 405):
                return None
            raise
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
            if family_spec(entry["id"]) is not None or lists_an_image_model(entry):
                listed[entry["id"]] = {}
        return listed

    def edit(self, request: ImageRequest, *, observer: CallObserver) -> ProviderResult:
        if not request.images:
            raise ProviderError("An edit needs at least one image.", code="no_input")
        if len(request.images) > 16:
            raise ProviderError(
                f"{self.config.name} takes at most 16 images per edit.", code="too_many_images"
            )
        fields = {"model": request.model_id, "prompt": request.prompt}
        fields.update(wire_parameters(request, edit=True))
        files: list[tuple[str, tuple[str, bytes, str]]] = [
            (
                "image[]",
                (
                    f"image_{index + 1}.{http.EXTENSIONS.get(image.format, 'png')}",
                    image.data,
                    http.MIME_TYPES.get(image.format, "application/octet-stream"),
                ),
            )
            for index, image in enumerate(request.images)
        ]
        sent_mask = None
        if request.mask is not None:
            sent_mask = imaging.mask_to_alpha(request.mask, size=request.images[0].size)
            files.append(("mask", ("mask.png", sent_mask, "image/png")))
        payload = http.call_json(
            self.config,
            "POST",
            "/images/edits",
            observer=observer,
            data=[(name, str(value)) for name, value in fields.items()],
            files=files,
        )
        return self._finish(payload, request, observer=observer, sent_mask=sent_mask)

    def generate(self, request: ImageRequest, *, observer: CallObserver) -> ProviderResult:
        body: dict[str, Any] = {"model": request.model_id, "prompt": request.prompt}
        body.update(wire_parameters(request, edit=False))
        payload = http.call_json(
            self.config, "POST", "/images/generations", observer=observer, json_body=body
        )
        return self._finish(payload, request, observer=observer, sent_mask=None)

    def results_from_response(
        self, payload: Mapping[str, Any], request: ImageRequest
    ) -> ProviderResult:
        sent_mask = None
        if request.mask is not None and request.images:
            # The same conversion gives the same bytes as were sent.
            sent_mask = imaging.mask_to_alpha(request.mask, size=request.images[0].size)
        return self._results(dict(payload), observer=NullObserver(), sent_mask=sent_mask)

    def _finish(
        self,
        payload: Any,
        request: ImageRequest,
        *,
        observer: CallObserver,
        sent_mask: bytes | None,
    ) -> ProviderResult:
        payload = http.images_answer(self.config, payload, observer=observer)
        return self._results(payload, observer=observer, sent_mask=sent_mask)

    def _results(
        self, payload: dict[str, Any], *, observer: CallObserver, sent_mask: bytes | None
    ) -> ProviderResult:
        deadline = results.url_deadline()
        images, notices = results.collect_results(
            self.config, payload, observer=observer, url_deadline=deadline
        )
        usage = payload.get("usage")
        downloaded = any(image.source_url for image in images)
        return ProviderResult(
            images=images,
            usage=usage if isinstance(usage, dict) else {},
            notices=notices,
            sent_mask=sent_mask,
            result_deadline=deadline if downloaded else None,
        )
