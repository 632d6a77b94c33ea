"""The offline demo kind: Pillow effects chosen from the prompt. No network, no AI.

It makes a fresh install work end to end and gives the tests a free model.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from editor import imaging
from editor.providers.base import (
    CallObserver,
    ImageRequest,
    ModelSpec,
    NullObserver,
    ProviderAdapter,
    ProviderError,
    ProviderResult,
    ResultImage,
)

MODEL_ID = "offline-demo"
GENERATE_SIZES = ["512x512", "1024x1024", "1536x1024", "1024x1536"]

# Words in a prompt -> the effect they ask for. Checked in this order, so
# "black and white" wins over "white" being read as "brighten".
KEYWORDS: list[tuple[str, str]] = [
    (r"black\s*(and|&|n)\s*white|gr[ae]y\s*scale|gr[ae]y|monochrome|b\s*&\s*w", "grayscale"),
    (r"sepia|vintage|old[- ]fashioned", "sepia"),
    (r"invert|negative", "invert"),
    (r"blur|soften|defocus", "blur"),
    (r"sharpen|crisp", "sharpen"),
    (r"bright|lighter|lighten", "brighten"),
    (r"dark|dim", "darken"),
    (r"rotate|turn", "rotate"),
    (r"flip|upside", "flip"),
    (r"mirror", "mirror"),
]


def effects_for(prompt: str) -> list[str]:
    """The effects a prompt asks for, in prompt order; a tint if none."""
    text = prompt.lower()
    found: list[tuple[int, str]] = []
    for pattern, effect in KEYWORDS:
        match = re.search(pattern, text)
        if match and effect not in (name for _, name in found):
            found.append((match.start(), effect))
            # Keep "black and white" from also reading as brighten/darken.
            text = text[: match.start()] + " " * (match.end() - match.start()) + text[match.end() :]
    return [effect for _, effect in sorted(found)] or ["tint"]


OFFLINE_MODEL = ModelSpec(
    model_id=MODEL_ID,
    label="Offline demo (no AI)",
    can_edit=True,
    can_generate=True,
    supports_mask=True,
    max_images=16,
    max_prompt_length=4000,
    parameters={
        "n": {"min": 1, "max": 4, "default": 1},
        "size": {
            "choices": GENERATE_SIZES,
            "default": "1024x1024",
            "modes": ["generate"],
        },
    },
    pricing={"per_image": "0"},
)


class OfflineAdapter(ProviderAdapter):
    kind = "offline"
    needs_api_key = False

    model_table = [OFFLINE_MODEL]

    def edit(self, request: ImageRequest, *, observer: CallObserver) -> ProviderResult:
        if not request.images:
            raise ProviderError("An edit needs at least one image.", code="no_input")
        observer.stage("waiting")
        # The "answer" of the offline kind is the list of effects: like a real
        # provider's, it is saved first and the results are built from it.
        payload = {"effects": effects_for(request.prompt)}
        observer.response_received(payload)
        return self.results_from_response(payload, request)

    def generate(self, request: ImageRequest, *, observer: CallObserver) -> ProviderResult:
        width, height = (
            int(part) for part in str(request.params.get("size", "1024x1024")).split("x")
        )
        seed = int(request.params.get("seed", 0))
        observer.stage("waiting")
        observer.response_received({"drawing": True})
        results = [
            ResultImage(
                data=imaging.draw_picture(
                    prompt=request.prompt, width=width, height=height, seed=seed + index
                )
            )
            for index in range(int(request.params.get("n", 1)))
        ]
        return ProviderResult(images=results, notices=["Offline demo: a drawing, not AI."])

    def results_from_response(
        self, payload: Mapping[str, Any], request: ImageRequest
    ) -> ProviderResult:
        if not request.images:
            return self.generate(request, observer=NullObserver())
        effects = [str(effect) for effect in payload.get("effects", [])] or ["tint"]
        results = []
        for index in range(int(request.params.get("n", 1))):
            # With several inputs and n > 1, each result edits the next input.
            source = request.images[index % len(request.images)]
            mask = request.mask if index % len(request.images) == 0 else None
            data, _ = imaging.apply_effects(source.data, effects=effects, mask=mask)
            results.append(ResultImage(data=data))
        notice = "Offline demo applied: " + ", ".join(effects) + "."
        return ProviderResult(images=results, notices=[notice])
