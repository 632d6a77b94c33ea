"""What a job's results become before they are stored: lined up with what was sent.

The Pillow work is ``editor.compositing``'s; this module reads the job (its
mask, its ``keep_outside_mask`` and ``frame`` parameters, what the adapter
says it sent) and says what to store, for ``editor.pipeline``.
"""

from __future__ import annotations

import hashlib
import logging

from django.conf import settings

from editor import compositing, imaging
from editor.models import Job, JobKind
from editor.providers.base import ImageRequest, ProviderError, ProviderResult, ResultImage

logger = logging.getLogger(__name__)


def keeps_outside_mask(*, job: Job, request: ImageRequest) -> bool:
    return bool(request.images and request.mask and job.params.get("keep_outside_mask") is True)


def frame_of(*, job: Job, request: ImageRequest) -> compositing.Box | None:
    """The original's rectangle inside an extended (outpainted) first image."""
    value = job.params.get("frame")
    if not value or not request.images:
        return None
    try:
        return compositing.parse_frame(str(value), image_size=request.images[0].size)
    except compositing.FrameError:
        # Checked when the job was submitted; a stored frame that no longer
        # fits protects the whole image rather than failing a paid result.
        logger.warning("Job %s has a frame that does not fit its image: %r", job.pk, value)
        return None


def finished_result(
    *, job: Job, request: ImageRequest, result: ProviderResult, image: ResultImage
) -> compositing.FinishedResult:
    """The result as shown: cut back to the frame, the original kept outside
    the mask when the job asks for it, and the provider's leak measured."""
    masked_edit = job.kind == JobKind.EDIT and bool(request.images) and request.mask is not None
    if not masked_edit and result.placement is None:
        return compositing.as_received(image.data)  # nothing to line up: no decoding
    try:
        return compositing.finish_result(
            image.data,
            original=request.images[0].data if masked_edit else None,
            mask=request.mask if masked_edit else None,
            placement=result.placement,
            frame=frame_of(job=job, request=request),
            keep_outside_mask=keeps_outside_mask(job=job, request=request),
        )
    except Exception:
        # A paid result is never lost to Darkroom's own post-processing.
        logger.exception("Could not line up a result of job %s; kept as received.", job.pk)
        return compositing.as_received(
            image.data,
            notice="Darkroom could not line this result up with the original; it is shown "
            "as the provider sent it.",
        )


def finished_info(finished: compositing.FinishedResult) -> imaging.ImageInfo:
    """What Darkroom encoded, described without decoding it again."""
    width, height = finished.size
    limit = settings.DARKROOM_MAX_IMAGE_PIXELS
    if width * height > limit:
        raise ProviderError(
            f"The result would be {width}×{height} pixels, over the limit.", code="bad_result"
        )
    return imaging.ImageInfo(
        width=width,
        height=height,
        format=finished.format,
        bytes=len(finished.data),
        sha256=hashlib.sha256(finished.data).hexdigest(),
    )


def lined_up_notice(*, job: Job, request: ImageRequest) -> str:
    if keeps_outside_mask(job=job, request=request):
        return (
            "Kept everything outside the mask: the original's pixels were put back there at "
            "full resolution. The provider's raw output is kept too."
        )
    return (
        "The result was cut back to the frame you chose (the provider was sent a padded "
        "square). The provider's raw output is kept too."
    )
