"""A job's parameters and usage in words, for its page.

A job keeps them as sent to and answered by the provider (``output_format:
webp``, ``input_tokens_details: {...}``); its page says them as the editor's
form does (``Output format: WebP``) and counts as people read them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from editor.parameters import CHOICE_LABELS, PARAMETERS

# Darkroom's own parameters, kept beside the provider's (forms.job_parameters).
# Whether the pixels outside the mask were kept is told under "Mask fidelity".
_OWN_LABELS = {"frame": "Canvas extended"}
_SHOWN_ELSEWHERE = {"keep_outside_mask"}

# Usage as providers report it: OpenAI's tokens, ImageRouter's calls and
# latency, NanoGPT's balance. Others are named from their keys.
_USAGE_LABELS = {
    "input_tokens": "Input tokens",
    "output_tokens": "Output tokens",
    "total_tokens": "Total tokens",
    "input_tokens_details": "Input tokens by kind",
    "output_tokens_details": "Output tokens by kind",
    "text_tokens": "text",
    "image_tokens": "image",
    "calls": "Provider calls",
    "latency_ms": "Provider latency",
    "remaining_balance": "Balance left at the provider",
}


@dataclass(frozen=True)
class Fact:
    label: str
    value: str


def parameter_facts(params: Mapping[str, Any]) -> list[Fact]:
    """The parameters a job was run with, in the form's words and order."""
    order = [*PARAMETERS, *_OWN_LABELS]
    names = sorted(
        (name for name in params if name not in _SHOWN_ELSEWHERE),
        key=lambda name: (order.index(name) if name in order else len(order), name),
    )
    return [Fact(_parameter_label(name), _parameter_value(name, params[name])) for name in names]


def usage_facts(usage: Mapping[str, Any]) -> list[Fact]:
    """What the provider reported using, each figure with its separators."""
    return [
        Fact(_USAGE_LABELS.get(key, _from_key(key)), _usage_value(key, value))
        for key, value in usage.items()
    ]


def _parameter_label(name: str) -> str:
    if name in PARAMETERS:
        return PARAMETERS[name].label
    return _OWN_LABELS.get(name) or _from_key(name)


def _parameter_value(name: str, value: Any) -> str:
    if name == "frame":
        parts = str(value).split(",")
        if len(parts) == 4:
            x, y, width, height = parts
            return f"the picture ({width}×{height}) placed at {x},{y}"
    if name == "size" and isinstance(value, str):
        return value.replace("x", "×")
    if isinstance(value, bool):
        return "On" if value else "Off"
    return CHOICE_LABELS.get(str(value), _figure(value))


def _usage_value(key: str, value: Any) -> str:
    if isinstance(value, Mapping):
        return ", ".join(
            f"{_USAGE_LABELS.get(part, _from_key(part).lower())} {_figure(amount)}"
            for part, amount in value.items()
        )
    if key == "latency_ms" and isinstance(value, int | float):
        return f"{value / 1000:,.1f} s"
    return _figure(value)


def _figure(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def _from_key(key: str) -> str:
    text = str(key).replace("_", " ").strip()
    return text[:1].upper() + text[1:]
