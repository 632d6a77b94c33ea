"""The ``dalle2`` kind: the classic OpenAI images contract (DALL-E 2 and its routers).

An edit takes exactly one square PNG under 4 MB in the ``image`` field, and a
``mask`` PNG with transparency at the same size. Darkroom converts the user's
first image to fit (pads or crops to a square as the user chose, converts to
PNG, shrinks until under 4 MB) and says what it did.

Without a mask, the provider edits the image's transparent pixels. Darkroom
sends such an image as it is, and refuses before paying when the image has no
transparent pixels at all: the provider would refuse it, and an edit of
"nowhere" is never what the user meant.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any, Literal

from editor import compositing, imaging
from editor.providers import http, results
from editor.providers.base import (
    CallObserver,
    ImageRequest,
    ModelSpec,
    NullObserver,
    ProviderAdapter,
    ProviderError,
    ProviderResult,
)

MAX_IMAGE_BYTES = 4 * 1024 * 1024
MAX_PROMPT = 1000
SIZES = ["256x256", "512x512", "1024x1024"]
URL_LIFETIME = 60 * 60
# b64 answers need no second fetch and cannot expire; URL answers (from
# routers that ignore this) are downloaded at once all the same.
RESPONSE_FORMAT: Literal["url", "b64_json"] = "b64_json"

MODELS = [
    ModelSpec(
        model_id="dall-e-2",
        label="DALL-E 2",
        can_edit=True,
        can_generate=True,
        supports_mask=True,
        max_images=1,
        max_prompt_length=MAX_PROMPT,
        parameters={
            "n": {"min": 1, "max": 10, "default": 1},
            "size": {"choices": SIZES, "default": "1024x1024"},
            "square_mode": {"choices": ["pad", "crop"], "default": "pad", "modes": ["edit"]},
        },
        # OpenAI's list price per image, by size.
        pricing={
            "per_image_by_size": {"256x256": "0.016", "512x512": "0.018", "1024x1024": "0.02"}
        },
    )
]


def square_mode(request: ImageRequest) -> Literal["pad", "crop"]:
    return "crop" if request.params.get("square_mode") == "crop" else "pad"


def placement_of(squared: imaging.SquaredImage) -> compositing.Placement | None:
    """How the square sent lines up with the user's image, as ``square_png``
    made it (in the square before shrinking: a shrink scales both alike).

    Padded: the image sat centred on the square, and the answer is cut back
    to it. Cropped: the square was the image's centre, and the answer is
    measured and kept against that part.
    """
    width, height = squared.original_size
    if squared.squared == "pad":
        side = max(width, height)
        box = compositing.Box(
            x=(side - width) // 2, y=(side - height) // 2, width=width, height=height
        )
        return compositing.Placement(box=box, sent_size=(side, side))
    if squared.squared == "crop":
        side = min(width, height)
        whole = compositing.Box(x=0, y=0, width=side, height=side)
        region = compositing.Box(
            x=-((side - width) // 2), y=-((side - height) // 2), width=side, height=side
        )
        return compositing.Placement(box=whole, sent_size=(side, side), region=region)
    return None


class Dalle2Adapter(ProviderAdapter):
    kind = "dalle2"
    default_base_url = "https://api.openai.com/v1"

    model_table = MODELS

    @classmethod
    def default_spec(cls, model_id: str) -> ModelSpec:
        # Whatever the router calls it, the classic contract is DALL-E 2's;
        # only the price is unknown.
        return replace(MODELS[0], model_id=model_id, label=model_id, pricing={})

    def _check_prompt(self, request: ImageRequest) -> None:
        if len(request.prompt) > MAX_PROMPT:
            raise ProviderError(
                f"This model takes prompts of at most {MAX_PROMPT} characters; "
                f"this one has {len(request.prompt)}.",
                code="prompt_too_long",
            )

    def _common(self, request: ImageRequest) -> dict[str, str]:
        fields = {
            "model": request.model_id,
            "prompt": request.prompt,
            "response_format": RESPONSE_FORMAT,
        }
        if request.params.get("n"):
            fields["n"] = str(int(request.params["n"]))
        size = request.params.get("size")
        if size in SIZES:
            fields["size"] = str(size)
        return fields

    def edit(self, request: ImageRequest, *, observer: CallObserver) -> ProviderResult:
        if not request.images:
            raise ProviderError("An edit needs an image.", code="no_input")
        self._check_prompt(request)
        mode = square_mode(request)
        first = request.images[0]
        if request.mask is None and not imaging.has_transparent_pixels(first.data):
            raise ProviderError(
                "This model edits only where it is told to: paint a mask over the area to "
                "change, or upload a PNG whose transparent pixels mark it. Nothing was sent.",
                code="mask_required",
            )
        squared = imaging.square_png(
            first.data, mask=request.mask, mode=mode, max_bytes=MAX_IMAGE_BYTES
        )
        notices = self._notices(squared, dropped=len(request.images) - 1)
        files: list[tuple[str, tuple[str, bytes, str]]] = [
            ("image", ("image.png", squared.png, "image/png"))
        ]
        sent_mask = None
        if squared.mask is not None:
            sent_mask = imaging.mask_to_alpha(squared.mask, size=(squared.side, squared.side))
            files.append(("mask", ("mask.png", sent_mask, "image/png")))
        payload = http.call_json(
            self.config,
            "POST",
            "/images/edits",
            observer=observer,
            data=list(self._common(request).items()),
            files=files,
        )
        result = self._finish(payload, observer=observer)
        result.notices[:0] = notices
        result.sent_mask = sent_mask
        result.placement = placement_of(squared)
        return result

    def generate(self, request: ImageRequest, *, observer: CallObserver) -> ProviderResult:
        self._check_prompt(request)
        body: dict[str, Any] = dict(self._common(request))
        if "n" in body:
            body["n"] = int(body["n"])
        payload = http.call_json(
            self.config, "POST", "/images/generations", observer=observer, json_body=body
        )
        return self._finish(payload, observer=observer)

    def results_from_response(
        self, payload: Mapping[str, Any], request: ImageRequest
    ) -> ProviderResult:
        result = self._results(dict(payload), observer=NullObserver())
        if request.images:
            mode = square_mode(request)
            squared = imaging.square_png(
                request.images[0].data, mask=request.mask, mode=mode, max_bytes=MAX_IMAGE_BYTES
            )
            result.placement = placement_of(squared)
            if squared.mask is not None:
                result.sent_mask = imaging.mask_to_alpha(
                    squared.mask, size=(squared.side, squared.side)
                )
        return result

    def _finish(self, payload: Any, *, observer: CallObserver) -> ProviderResult:
        payload = http.images_answer(self.config, payload, observer=observer)
        return self._results(payload, observer=observer)

    def _results(self, payload: dict[str, Any], *, observer: CallObserver) -> ProviderResult:
        deadline = results.url_deadline(URL_LIFETIME)
        images, notices = results.collect_results(
            self.config, payload, observer=observer, url_deadline=deadline
        )
        downloaded = any(image.source_url for image in images)
        return ProviderResult(
            images=images, notices=notices, result_deadline=deadline if downloaded else None
        )

    @staticmethod
    def _notices(squared: imaging.SquaredImage, *, dropped: int) -> list[str]:
        notices: list[str] = []
        width, height = squared.original_size
        if squared.squared == "pad":
            notices.append(
                f"This model takes only square images: your {width}×{height} image was centred "
                "on a transparent square (padding), so nothing of it was cut."
            )
        elif squared.squared == "crop":
            notices.append(
                f"This model takes only square images: the centre square of your {width}×{height} "
                "image was sent (cropping); the edges were left out."
            )
        if squared.original_format != "PNG":
            notices.append(f"Converted from {squared.original_format} to PNG, as the model needs.")
        if squared.shrunk_from:
            notices.append(
                f"Shrunk from {squared.shrunk_from}×{squared.shrunk_from} to "
                f"{squared.side}×{squared.side} pixels to stay under 4 MB."
            )
        if dropped > 0:
            notices.append(
                f"This model edits one image at a time: only the first was sent "
                f"({dropped} left out)."
            )
        return notices
