"""The generation parameters Darkroom knows, and how a model's limits shape them.

A model's ``parameters`` map names a subset of ``PARAMETERS`` with its own
limits (``min``/``max``/``choices``/``default``). The editor form is built from
that map, and the same map validates what the server receives, so a field the
browser never showed cannot sneak through either.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from django import forms

ParamType = Literal["int", "float", "choice"]


@dataclass(frozen=True)
class ParameterDefinition:
    name: str
    label: str
    type: ParamType
    help_text: str = ""


PARAMETERS: dict[str, ParameterDefinition] = {
    definition.name: definition
    for definition in [
        ParameterDefinition("n", "Number of images", "int"),
        ParameterDefinition("size", "Size", "choice"),
        ParameterDefinition("quality", "Quality", "choice"),
        ParameterDefinition("background", "Background", "choice"),
        ParameterDefinition("output_format", "Output format", "choice"),
        ParameterDefinition(
            "output_compression", "Compression (%)", "int", "For JPEG and WebP output."
        ),
        ParameterDefinition(
            "input_fidelity", "Input fidelity", "choice", "How closely to keep faces and details."
        ),
        ParameterDefinition("strength", "Strength", "float", "How far to move from the input."),
        ParameterDefinition(
            "guidance_scale", "Guidance", "float", "How closely to follow the prompt."
        ),
        ParameterDefinition("num_inference_steps", "Steps", "int"),
        ParameterDefinition("seed", "Seed", "int", "Same seed, same result (where supported)."),
        ParameterDefinition("kontext_max_mode", "Kontext max mode", "choice"),
        ParameterDefinition(
            "square_mode",
            "Make square by",
            "choice",
            "This model only takes square images.",
        ),
    ]
}

CHOICE_LABELS = {
    "auto": "Auto",
    "pad": "Padding (keeps the whole image)",
    "crop": "Cropping the centre",
    "transparent": "Transparent",
    "opaque": "Opaque",
    "png": "PNG",
    "jpeg": "JPEG",
    "webp": "WebP",
    "true": "On",
    "false": "Off",
    "low": "Low",
    "medium": "Medium",
    "high": "High",
}


def form_fields(spec: dict[str, dict[str, Any]]) -> dict[str, forms.Field]:
    """Form fields for exactly the parameters in a model's ``spec``."""
    fields: dict[str, forms.Field] = {}
    for name, limits in spec.items():
        definition = PARAMETERS.get(name)
        if definition is None:
            continue
        fields[name] = _field(definition, limits)
    return fields


def _field(definition: ParameterDefinition, limits: dict[str, Any]) -> forms.Field:
    common: dict[str, Any] = {
        "label": definition.label,
        "help_text": definition.help_text,
        "required": False,
        "initial": limits.get("default"),
    }
    if definition.type == "choice":
        choices = [(str(c), CHOICE_LABELS.get(str(c), str(c))) for c in limits.get("choices", [])]
        return forms.ChoiceField(choices=choices, **common)
    low, high = limits.get("min"), limits.get("max")
    if definition.type == "int":
        return forms.IntegerField(min_value=low, max_value=high, **common)
    widget = forms.NumberInput(attrs={"step": limits.get("step", 0.1)})
    return forms.FloatField(min_value=low, max_value=high, widget=widget, **common)


def unsupported(names: set[str], spec: dict[str, Any]) -> list[str]:
    """The known parameter names in ``names`` that the model does not take."""
    return sorted(name for name in names if name in PARAMETERS and name not in spec)


def conflicts(values: dict[str, Any]) -> list[str]:
    """Messages for parameter values that each pass alone but not together."""
    messages: list[str] = []
    output_format = values.get("output_format") or "png"
    if values.get("background") == "transparent" and output_format == "jpeg":
        messages.append("A transparent background needs PNG or WebP output; JPEG has no alpha.")
    if values.get("output_compression") not in (None, "") and output_format == "png":
        messages.append("Compression applies to JPEG and WebP output only, not PNG.")
    return messages


def clean_values(values: dict[str, Any], spec: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Fill defaults and drop blanks: the parameters a job will run with."""
    cleaned: dict[str, Any] = {}
    for name, limits in spec.items():
        value = values.get(name)
        if value is None or value == "":
            value = limits.get("default")
        if value is None or value == "":
            continue
        cleaned[name] = value
    return cleaned
