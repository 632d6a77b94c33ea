"""Run one job: claim it, call its provider, store what came back."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.db.models import F
from django.utils import timezone

from editor import imaging
from editor.media import image_store
from editor.models import ImageRole, Job, JobKind, JobStage, JobStatus
from editor.providers.base import (
    ImageRequest,
    ProviderError,
    ProviderResult,
    SourceImage,
)
from editor.providers.registry import adapter_for

logger = logging.getLogger(__name__)


class JobObserver:
    """Records a running job's stage (and heartbeat) as the adapter reports it."""

    def __init__(self, job: Job) -> None:
        self.job = job

    def stage(self, stage: str) -> None:
        now = timezone.now()
        changes: dict[str, Any] = {"stage": stage, "heartbeat": now}
        if stage == JobStage.SENDING:
            changes["sent"] = now
        elif stage == JobStage.DOWNLOADING:
            changes["answered"] = now
        Job.objects.filter(pk=self.job.pk).update(**changes)

    def response_received(self, payload: Mapping[str, Any]) -> None:
        Job.objects.filter(pk=self.job.pk).update(answered=timezone.now(), heartbeat=timezone.now())


def job_claim(job_id: str) -> Job | None:
    """Take a queued job for this worker; None if it is gone or not queued.

    The conditional update is what makes a redelivered message harmless.
    """
    now = timezone.now()
    claimed = Job.objects.filter(pk=job_id, status=JobStatus.QUEUED).update(
        status=JobStatus.RUNNING,
        stage=JobStage.PREPARING,
        started=now,
        heartbeat=now,
        deliveries=F("deliveries") + 1,
    )
    if not claimed:
        return None
    return Job.objects.select_related("image_model__provider").get(pk=job_id)


def run_job(*, job_id: str) -> None:
    job = job_claim(job_id)
    if job is None:
        logger.info("Job %s is not queued any more; nothing to do.", job_id)
        return
    try:
        result = _call_provider(job)
        _store_results(job, result)
    except ProviderError as error:
        job_fail(job=job, code=error.code, message=error.message, detail=error.detail)
    except Exception as error:
        logger.exception("Job %s failed unexpectedly", job.pk)
        job_fail(
            job=job,
            code="internal_error",
            message="Darkroom hit an unexpected error while running this job.",
            detail={"type": type(error).__name__},
        )


def _call_provider(job: Job) -> ProviderResult:
    model = job.image_model
    if model is None or not model.enabled or not model.provider.enabled:
        raise ProviderError(
            f"The model “{job.model_label}” is no longer available.", code="model_unavailable"
        )
    request = _build_request(job)
    adapter = adapter_for(model.provider.config())
    observer = JobObserver(job)
    if job.kind == JobKind.EDIT:
        return adapter.edit(request, observer=observer)
    return adapter.generate(request, observer=observer)


def _build_request(job: Job) -> ImageRequest:
    assert job.image_model is not None
    images: list[SourceImage] = []
    mask: bytes | None = None
    for stored in job.images.filter(role__in=[ImageRole.INPUT, ImageRole.MASK]).order_by(
        "position"
    ):
        with stored.file.open("rb") as handle:
            data = handle.read()
        if stored.role == ImageRole.MASK:
            mask = data
        else:
            images.append(
                SourceImage(
                    data=data, width=stored.width, height=stored.height, format=stored.format
                )
            )
    return ImageRequest(
        model_id=job.image_model.model_id,
        prompt=job.prompt,
        params=job.params,
        images=tuple(images),
        mask=mask,
    )


def _store_results(job: Job, result: ProviderResult) -> None:
    Job.objects.filter(pk=job.pk).update(stage=JobStage.STORING, heartbeat=timezone.now())
    if not result.images:
        raise ProviderError("The provider answered without any image.", code="empty_result")
    for position, image in enumerate(result.images):
        try:
            info = imaging.inspect_image(image.data, max_pixels=settings.DARKROOM_MAX_IMAGE_PIXELS)
        except imaging.ImageRejectedError as exc:
            raise ProviderError(
                f"The provider sent back something that is not a usable image ({exc}).",
                code="bad_result",
            ) from exc
        image_store(
            job=job,
            role=ImageRole.RESULT,
            position=position,
            data=image.data,
            info=info,
            thumbnail=True,
        )
    if result.sent_mask is not None:
        info = imaging.inspect_image(
            result.sent_mask, max_pixels=settings.DARKROOM_MAX_IMAGE_PIXELS
        )
        image_store(
            job=job,
            role=ImageRole.SENT_MASK,
            position=0,
            data=result.sent_mask,
            info=info,
            thumbnail=True,
        )
    now = timezone.now()
    # Only a job still running turns succeeded: a job canceled meanwhile keeps
    # its (paid-for) results but stays canceled.
    Job.objects.filter(pk=job.pk, status=JobStatus.RUNNING).update(
        status=JobStatus.SUCCEEDED,
        stage=JobStage.DONE,
        finished=now,
        heartbeat=now,
        usage=result.usage,
        cost=result.cost,
        notices=[*job.notices, *result.notices],
        result_deadline=result.result_deadline,
    )


def job_fail(*, job: Job, code: str, message: str, detail: Mapping[str, Any] | None = None) -> None:
    now = timezone.now()
    Job.objects.filter(pk=job.pk, status=JobStatus.RUNNING).update(
        status=JobStatus.FAILED,
        stage=JobStage.DONE,
        finished=now,
        heartbeat=now,
        error_code=code,
        error_message=message,
        error_detail=dict(detail or {}),
    )
