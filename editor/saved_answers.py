"""A provider's saved answer once its results are stored: without the
base64 of the images that storage now holds byte for byte.

The answer is saved on the job, whole, the moment it arrives: until the
results are stored it is the only copy of what was paid for. After that its
base64 is a second copy of stored files, ~4 MB of a 1024² result in the
jobs table for good (400 GB for 100 000 such jobs, in every backup). Each
image is replaced by a note naming the stored image and its SHA-256, and
only when a stored image of the job has exactly those bytes: a result
Darkroom had to convert, or could not read, keeps its base64. Every other
field of the answer (usage, revised prompts, URLs) stays as it came.
"""

from __future__ import annotations

import binascii
import hashlib
from collections.abc import Mapping
from typing import Any

from editor.providers.results import b64_bytes

# The keys of an images answer's ``data`` items that hold an image as base64.
_BASE64_KEYS = ("b64_json", "b64_ephemeral")


def answer_slimmed(
    answer: Mapping[str, Any], *, stored_by_sha256: Mapping[str, str]
) -> dict[str, Any] | None:
    """``answer`` without the base64 of images stored byte for byte (their
    SHA-256 -> the stored image's id), or None when none of it can go."""
    items = answer.get("data")
    if not isinstance(items, list):
        return None
    slimmed: list[Any] = []
    changed = False
    for item in items:
        if isinstance(item, dict):
            item = _item_slimmed(item, stored_by_sha256)
            changed = changed or item.get("darkroom_stored") is not None
        slimmed.append(item)
    return {**answer, "data": slimmed} if changed else None


def _item_slimmed(item: dict[str, Any], stored_by_sha256: Mapping[str, str]) -> dict[str, Any]:
    for key in (*_BASE64_KEYS, "url"):
        value = item.get(key)
        if not isinstance(value, str) or not value:
            continue
        if key == "url" and not value.startswith("data:"):
            continue
        digest = _sha256_of(value)
        if digest is None or digest not in stored_by_sha256:
            continue
        return {
            **item,
            key: f"[stored as image {stored_by_sha256[digest]}]",
            "darkroom_stored": {"image": stored_by_sha256[digest], "sha256": digest},
        }
    return item


def _sha256_of(value: str) -> str | None:
    """The SHA-256 of the bytes ``value`` holds as base64 (or a data URL)."""
    text = value.split(",", 1)[1] if value.startswith("data:") else value
    try:
        data = b64_bytes(text)
    except (binascii.Error, ValueError):
        return None
    return hashlib.sha256(data).hexdigest()
