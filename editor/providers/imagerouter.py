"""The ``imagerouter`` kind: ImageRouter's OpenAI-style routes to many image models.

* Edits: ``POST {base}/openai/images/edits`` multipart with ``image[]`` and
  ``mask[]``; generations: ``POST {base}/openai/images/generations`` JSON.
* No ``n``: Darkroom makes n separate calls and gathers them into one job. If
  a later call fails, the images already made (and paid for) are kept.
* ``response_format=b64_ephemeral``: Darkroom keeps the image itself, so the
  router need not.
* It answers 200 at once, writes spaces while the model runs, then the body,
  which may be an error: the body decides, never the status.
* Models and their capabilities come from ``GET {base}/models``.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from editor import imaging
from editor.providers import http, results
from editor.providers.base import (
    CallObserver,
    ImageRequest,
    Listing,
    NullObserver,
    ProviderAdapter,
    ProviderError,
    ProviderResult,
)

MAX_IMAGES = 16
MAX_PROMPT = 10000
MAX_N = 4
QUALITIES = ["auto", "low", "medium", "high"]
RESPONSE_FORMAT = "b64_ephemeral"


def mask_convention(model_id: str) -> str:
    """OpenAI's models take alpha == 0 as the area to change; the inpainting
    models behind the other routes take white on black."""
    return "alpha" if model_id.startswith("openai/") else "white"


def facts_from_listing(model_id: str, info: Mapping[str, Any]) -> dict[str, Any] | None:
    """The ModelSpec fields one entry of ``GET /models`` states; None for
    models that make no images (video, audio)."""
    outputs = info.get("output")
    if isinstance(outputs, list) and outputs and "image" not in outputs:
        return None
    supported = info.get("supported_params") or {}
    can_edit = bool(supported.get("edit"))
    parameters: dict[str, dict[str, Any]] = {"n": {"min": 1, "max": MAX_N, "default": 1}}
    sizes = [str(size) for size in info.get("sizes") or [] if isinstance(size, str)]
    if sizes:
        parameters["size"] = {
            "choices": sizes,
            "default": "auto" if "auto" in sizes else sizes[0],
            "modes": ["generate"],
        }
    if supported.get("quality"):
        parameters["quality"] = {"choices": QUALITIES, "default": "auto"}
    pricing = info.get("pricing")
    if not isinstance(pricing, dict):
        providers = info.get("providers") or []
        first = providers[0] if providers and isinstance(providers[0], dict) else {}
        pricing = first.get("pricing") if isinstance(first.get("pricing"), dict) else {}
    return {
        "label": str(info.get("name") or model_id),
        "can_edit": can_edit,
        "can_generate": True,
        "supports_mask": can_edit and bool(supported.get("mask")),
        "max_images": MAX_IMAGES if can_edit else 1,
        "max_prompt_length": MAX_PROMPT,
        "parameters": parameters,
        "pricing": listed_pricing(pricing or {}),
    }


def listed_pricing(pricing: Mapping[str, Any]) -> dict[str, Any]:
    """ImageRouter's price in the shape ``editor.pricing`` reads.

    ``fixed`` is a price per image; ``calculated`` (the price depends on the
    size and quality the model picks) comes as a range, with its average.
    """
    kind = pricing.get("type")
    if kind == "fixed" and pricing.get("value") is not None:
        return {"per_image": str(pricing["value"])}
    bounds = pricing.get("range")
    if kind == "calculated" and isinstance(bounds, dict):
        known = {key: str(bounds[key]) for key in ("min", "average", "max") if key in bounds}
        if "min" in known and "max" in known:
            return {"per_image_range": known}
    return {}


class ImageRouterAdapter(ProviderAdapter):
    kind = "imagerouter"
    default_base_url = "https://api.imagerouter.io/v1"

    def listing(self) -> Listing:
        payload = http.call_json(self.config, "GET", "/models")
        if isinstance(payload, list):
            # Tolerate a list of {"id": ...} entries too.
            payload = {str(item.get("id")): item for item in payload if isinstance(item, dict)}
        if not isinstance(payload, dict):
            raise http.safe_error(
                self.config,
                f"{self.config.name} listed its models in a form Darkroom does not know.",
                code="bad_response",
            )
        listed: Listing = {}
        for model_id, info in payload.items():
            facts = facts_from_listing(str(model_id), info) if isinstance(info, dict) else None
            if facts is not None:
                listed[str(model_id)] = facts
        return listed

    # --- Calls ---------------------------------------------------------------

    def edit(self, request: ImageRequest, *, observer: CallObserver) -> ProviderResult:
        if not request.images:
            raise ProviderError("An edit needs at least one image.", code="no_input")
        sent_mask = self._mask(request)
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
        if sent_mask is not None:
            files.append(("mask[]", ("mask.png", sent_mask, "image/png")))
        fields = self._fields(request, edit=True)

        def call() -> Any:
            return http.call_json(
                self.config,
                "POST",
                "/openai/images/edits",
                observer=observer,
                data=[(name, str(value)) for name, value in fields.items()],
                files=files,
            )

        result = self._fan_out(request, call, observer=observer)
        result.sent_mask = sent_mask
        if sent_mask is not None and mask_convention(request.model_id) == "white":
            result.notices.append("Mask sent as white = area to change, as this model expects.")
        return result

    def generate(self, request: ImageRequest, *, observer: CallObserver) -> ProviderResult:
        body = self._fields(request, edit=False)
        return self._fan_out(
            request,
            lambda: http.call_json(
                self.config,
                "POST",
                "/openai/images/generations",
                observer=observer,
                json_body=body,
            ),
            observer=observer,
        )

    def results_from_response(
        self, payload: Mapping[str, Any], request: ImageRequest
    ) -> ProviderResult:
        result = self._results(dict(payload), observer=NullObserver())
        if request.images:
            result.sent_mask = self._mask(request)
        return result

    def _mask(self, request: ImageRequest) -> bytes | None:
        if request.mask is None or not request.images:
            return None
        size = request.images[0].size
        if mask_convention(request.model_id) == "alpha":
            return imaging.mask_to_alpha(request.mask, size=size)
        return imaging.mask_to_white_on_black(request.mask, size=size)

    def _fields(self, request: ImageRequest, *, edit: bool) -> dict[str, Any]:
        fields: dict[str, Any] = {
            "prompt": request.prompt,
            "model": request.model_id,
            "response_format": RESPONSE_FORMAT,
        }
        quality = request.params.get("quality")
        if quality in QUALITIES:
            fields["quality"] = quality
        size = request.params.get("size")
        # The edits route does not take a size; "auto" is the default anyway.
        if not edit and size and size != "auto":
            fields["size"] = str(size)
        return fields

    def _fan_out(
        self, request: ImageRequest, call: Any, *, observer: CallObserver
    ) -> ProviderResult:
        """n calls of one image each, gathered; a failure after the first keeps what was made."""
        wanted = max(1, min(MAX_N, int(request.params.get("n", 1) or 1)))
        gathered: dict[str, Any] = {"data": [], "cost": None, "latency": [], "calls": 0}
        failure: ProviderError | None = None
        for _ in range(wanted):
            try:
                payload = call()
            except ProviderError as error:
                if gathered["calls"] == 0:
                    raise
                failure = error
                break
            payload = http.redact_payload(self.config, payload if isinstance(payload, dict) else {})
            gathered["calls"] += 1
            gathered["data"].extend(
                item for item in payload.get("data") or [] if isinstance(item, dict)
            )
            if payload.get("cost") is not None:
                gathered["cost"] = _add_cost(gathered["cost"], payload["cost"])
            if payload.get("latency") is not None:
                gathered["latency"].append(payload["latency"])
            # Saved after every call: each one is paid for on its own.
            observer.response_received(gathered)
        result = self._results(gathered, observer=observer)
        if failure is not None:
            made = gathered["calls"]
            result.notices.insert(
                0,
                f"Only {made} of {wanted} images were made: {self.config.name} makes one image "
                f"per call, and call {made + 1} failed ({failure.message}). The {made} already "
                "made were kept.",
            )
        return result

    def _results(self, gathered: dict[str, Any], *, observer: CallObserver) -> ProviderResult:
        deadline = results.url_deadline()
        images, notices = results.collect_results(
            self.config, gathered, observer=observer, url_deadline=deadline
        )
        usage: dict[str, Any] = {"calls": gathered.get("calls", 1)}
        if gathered.get("latency"):
            usage["latency_ms"] = gathered["latency"]
        cost = gathered.get("cost")
        return ProviderResult(
            images=images,
            usage=usage,
            cost=Decimal(str(cost)) if cost is not None else None,
            notices=notices,
            result_deadline=deadline if any(image.source_url for image in images) else None,
        )


def _add_cost(total: Any, cost: Any) -> Any:
    """Costs summed exactly (as decimal strings, so the saved answer stays JSON)."""
    try:
        return str(Decimal(str(total or 0)) + Decimal(str(cost)))
    except InvalidOperation:
        return total
