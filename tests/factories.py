"""Jobs made through the real service, for tests that start after creation."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from editor import imaging, services
from editor.forms import ValidatedImage, ValidatedMask
from editor.models import ImageModel, Job
from tests.images import image_bytes


def validated(data: bytes) -> ValidatedImage:
    """``data`` as the editor form would pass it on: prepared for storing."""
    prepared = imaging.prepare_image(
        data,
        max_pixels=settings.DARKROOM_MAX_IMAGE_PIXELS,
        thumbnail_size=settings.DARKROOM_THUMBNAIL_SIZE,
    )
    return ValidatedImage(
        data=prepared.data,
        info=prepared.info,
        thumbnail=prepared.thumbnail,
        animated=prepared.animated,
    )


def make_job(
    *,
    user: Any,
    prompt: str = "make it black and white",
    images: list[bytes] | None = None,
    mask: bytes | None = None,
    model: ImageModel | None = None,
    params: dict[str, Any] | None = None,
) -> Job:
    model = model or ImageModel.objects.get(provider__kind="offline")
    inputs = [validated(data) for data in (images if images is not None else [image_bytes()])]
    canonical = None
    if mask is not None:
        read = imaging.canonical_mask(mask, max_pixels=settings.DARKROOM_MAX_IMAGE_PIXELS)
        canonical = ValidatedMask(canonical=read.png, convention=read.convention, info=read.info)
    return services.job_create(
        user=user,
        image_model=model,
        prompt=prompt,
        params=params if params is not None else {"n": 1},
        images=inputs,
        mask=canonical,
    )
