"""The ``openai`` kind: gpt-image models on any OpenAI-compatible base URL.

Edits are multipart with ``image[]`` (1-16) and an optional ``mask`` (alpha
0 marks the area to change, the size of the first image); generations are
JSON. Answers are always ``b64_json``, with token ``usage``.
"""

from __future__ import annotations

from collections.abc import Mapping
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

SIZES = ["auto", "1024x1024", "1536x1024", "1024x1536"]


def _parameters(*, input_fidelity: bool) -> dict[str, dict[str, Any]]:
    parameters: dict[str, dict[str, Any]] = {
        "n": {"min": 1, "max": 10, "default": 1},
        "size": {"choices": SIZES, "default": "auto"},
        "quality": {"choices": ["auto", "low", "medium", "high"], "default": "auto"},
        "background": {"choices": ["auto", "transparent", "opaque"], "default": "auto"},
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


def _spec(model_id: str, label: str, *, input_fidelity: bool) -> ModelSpec:
    return ModelSpec(
        model_id=model_id,
        label=label,
        can_edit=True,
        can_generate=True,
        supports_mask=True,
        max_images=16,
        max_prompt_length=32000,
        parameters=_parameters(input_fidelity=input_fidelity),
    )


MODELS: list[ModelSpec] = [
    _spec("gpt-image-1", "GPT Image 1", input_fidelity=True),
    _spec("gpt-image-1.5", "GPT Image 1.5", input_fidelity=True),
    # The mini model rejects input_fidelity.
    _spec("gpt-image-1-mini", "GPT Image 1 mini", input_fidelity=False),
]

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


def wire_parameters(request: ImageRequest, *, edit: bool) -> dict[str, Any]:
    """The request's parameters under the API's names, only those that apply."""
    spec = next((model for model in MODELS if model.model_id == request.model_id), None)
    allowed = spec.parameters if spec is not None else _parameters(input_fidelity=True)
    fields: dict[str, Any] = {}
    for name, value in request.params.items():
        if name not in WIRE_NAMES or name not in allowed or value in (None, ""):
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

    def list_models(self) -> list[ModelSpec]:
        """Our table, narrowed to what ``GET /models`` lists when it lists any of them."""
        try:
            payload = http.call_json(self.config, "GET", "/models")
        except ProviderError as error:
            if error.code == "auth_failed":
                raise
            return list(MODELS)
        listed = {
            str(item.get("id"))
            for item in (payload.get("data") if isinstance(payload, dict) else None) or []
            if isinstance(item, dict)
        }
        offered = [model for model in MODELS if model.model_id in listed]
        return offered or list(MODELS)

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
        return self._results(dict(payload), observer=http.NullObserver(), sent_mask=sent_mask)

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
