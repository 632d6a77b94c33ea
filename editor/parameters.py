"""The generation parameters Darkroom knows, and how a model's limits shape them.

A model's ``parameters`` map names a subset of ``PARAMETERS`` with its own
limits (``min``/``max``/``choices``/``default``). The editor form is built from
that map, and the same map validates what the server receives, so a field the
browser never showed cannot sneak through either.
"""

from __future__ import annotations

import json
import re
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


# What a parameter offers when an operator switches it on for a model that
# had no limits for it (the admin's "parameters shown" boxes).
DEFAULT_LIMITS: dict[str, dict[str, Any]] = {
    "n": {"min": 1, "max": 4, "default": 1},
    "size": {"choices": ["1024x1024"], "default": "1024x1024"},
    "quality": {"choices": ["auto", "low", "medium", "high"], "default": "auto"},
    "background": {"choices": ["auto", "transparent", "opaque"], "default": "auto"},
    "output_format": {"choices": ["png", "jpeg", "webp"], "default": "png"},
    "output_compression": {"min": 0, "max": 100},
    "input_fidelity": {"choices": ["low", "high"], "default": "low", "modes": ["edit"]},
    "strength": {"min": 0, "max": 1, "step": 0.05, "default": 0.8, "modes": ["edit"]},
    "guidance_scale": {"min": 0, "max": 20, "step": 0.5, "default": 3.5},
    "num_inference_steps": {"min": 1, "max": 100, "default": 28},
    "seed": {"min": 0, "max": 2**31 - 1},
    "kontext_max_mode": {"choices": ["false", "true"], "default": "false"},
    "square_mode": {"choices": ["pad", "crop"], "default": "pad", "modes": ["edit"]},
}


def form_fields(
    spec: dict[str, dict[str, Any]], *, model_label: str = "This model"
) -> dict[str, forms.Field]:
    """Form fields for exactly the parameters in a model's ``spec``."""
    fields: dict[str, forms.Field] = {}
    for name, limits in spec.items():
        definition = PARAMETERS.get(name)
        if definition is None:
            continue
        fields[name] = _field(definition, limits, model_label)
    return fields


def _field(
    definition: ParameterDefinition, limits: dict[str, Any], model_label: str
) -> forms.Field:
    common: dict[str, Any] = {
        "label": definition.label,
        "help_text": definition.help_text,
        "required": False,
        "initial": limits.get("default"),
    }
    if definition.name == "size" and limits.get("custom"):
        return SizeField(limits=limits, model_label=model_label, **common)
    if definition.type == "choice":
        offered = [str(choice) for choice in limits.get("choices", [])]
        choices = [(value, CHOICE_LABELS.get(value, value)) for value in offered]
        invalid = (
            f"{model_label} does not take {definition.label.lower()} “%(value)s”; "
            f"it takes {_either(offered)}."
        )
        return forms.ChoiceField(
            choices=choices, error_messages={"invalid_choice": invalid}, **common
        )
    low, high = limits.get("min"), limits.get("max")
    if definition.type == "int":
        return forms.IntegerField(min_value=low, max_value=high, **common)
    widget = forms.NumberInput(attrs={"step": limits.get("step", 0.1)})
    return forms.FloatField(min_value=low, max_value=high, widget=widget, **common)


def _either(values: list[str]) -> str:
    if len(values) <= 1:
        return "".join(values) or "nothing here"
    return ", ".join(values[:-1]) + " or " + values[-1]


# --- Sizes ---------------------------------------------------------------------

SIZE = re.compile(r"^(\d{1,5})x(\d{1,5})$")


def size_rule_text(rule: dict[str, Any]) -> str:
    """A model's custom-size rule in words."""
    parts = []
    if rule.get("multiple_of"):
        parts.append(f"width and height multiples of {rule['multiple_of']}")
    if rule.get("max_side"):
        parts.append(f"the longer side at most {rule['max_side']} px")
    if rule.get("max_ratio"):
        parts.append(f"no longer than {rule['max_ratio']}:1 either way")
    if rule.get("min_pixels") and rule.get("max_pixels"):
        parts.append(f"{rule['min_pixels']:,} to {rule['max_pixels']:,} pixels in all")
    return ", ".join(parts)


def size_problem(width: int, height: int, rule: dict[str, Any]) -> str | None:
    """Why ``width``×``height`` breaks ``rule``, or None if it fits.

    The checks run from the plainest reason to the finest, so 100x100 is
    "too few pixels" rather than "not a multiple of 16".
    """
    pixels = width * height
    if rule.get("min_pixels") and pixels < rule["min_pixels"]:
        return f"it has {pixels:,} pixels, fewer than the {rule['min_pixels']:,} required"
    if rule.get("max_pixels") and pixels > rule["max_pixels"]:
        return f"it has {pixels:,} pixels, more than the {rule['max_pixels']:,} allowed"
    if rule.get("max_side") and max(width, height) > rule["max_side"]:
        return f"the longer side may be at most {rule['max_side']} px"
    if rule.get("max_ratio") and max(width, height) > rule["max_ratio"] * min(width, height):
        return f"it may be at most {rule['max_ratio']}:1 either way"
    multiple = rule.get("multiple_of")
    if multiple and (width % multiple or height % multiple):
        return f"width and height must be multiples of {multiple}"
    return None


class SizeField(forms.CharField):
    """A size from the model's list, or any WxH its custom-size rule allows."""

    def __init__(self, *, limits: dict[str, Any], model_label: str, **kwargs: Any) -> None:
        self.choices = [str(choice) for choice in limits.get("choices", [])]
        self.rule: dict[str, Any] = dict(limits.get("custom") or {})
        self.model_label = model_label
        rule = size_rule_text(self.rule)
        kwargs["help_text"] = f"A size from the list, or your own WxH: {rule}."
        super().__init__(max_length=11, strip=True, **kwargs)
        self.widget.attrs.update(
            {
                "list": "size-choices",
                "placeholder": "e.g. 2048x1152",
                # The same rule, for the browser to say at once what the server would.
                "data-size-rule": json.dumps(self.rule),
                "data-size-choices": json.dumps(self.choices),
                "data-model-label": model_label,
            }
        )

    def clean(self, value: Any) -> str:
        text = str(super().clean(value) or "").lower().replace(" ", "").replace("×", "x")
        if not text or text in self.choices:
            return text
        match = SIZE.match(text)
        problem = (
            size_problem(int(match[1]), int(match[2]), self.rule)
            if match
            else "write it as width x height, e.g. 2048x1152"
        )
        if problem is None:
            return text
        raise forms.ValidationError(
            f"{self.model_label} cannot make {value}: {problem}. It takes "
            f"{_either(self.choices)}, or any size with {size_rule_text(self.rule)}."
        )


def check_values(
    values: dict[str, Any], spec: dict[str, dict[str, Any]], *, model_label: str
) -> list[str]:
    """Problems of a job's stored parameters against the model's current limits.

    The form checked them at submit; a model edited or re-synced since may
    take less, and that must stop the job before anything is paid.
    """
    problems = []
    fields = form_fields(spec, model_label=model_label)
    for name, value in values.items():
        if name not in PARAMETERS:
            continue
        field = fields.get(name)
        if field is None:
            problems.append(f"{model_label} does not take {PARAMETERS[name].label.lower()}.")
            continue
        try:
            field.clean(value)
        except forms.ValidationError as error:
            problems.extend(f"{PARAMETERS[name].label}: {message}" for message in error.messages)
    return problems


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
