"""Run one job: claim it, call its provider, store what came back.

The job row, not the Celery message, decides what happens. Messages are
delivered at least once, so every step is a conditional update on the row:

* a job is claimed once (queued -> running); a redelivered message for a
  running or final job does nothing;
* while a job runs, its process's heartbeat (``editor.heartbeat``) touches the
  row every few seconds, so a sweep (``jobs_recover``) can tell a dead worker
  from a slow provider;
* no database connection is held while the provider works: each write takes
  one and gives it back before the wait (``editor.database``), so a worker
  can hold far more calls than the database has connections. A write that
  finds no connection is retried until a deadline, then the job is left to
  the sweep;
* the provider's answer is saved the moment it arrives, before it is
  decoded or downloaded (its images in file storage, the rest on the row:
  ``editor.saved_answers``), so a crash afterwards never loses a paid result.

Each claim increments ``deliveries``; that number is the running worker's
token, so a worker the sweep gave up on cannot overwrite what came after it.
"""

from __future__ import annotations

import itertools
import logging
import uuid
from collections import Counter
from collections.abc import Callable, Collection, Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import OperationalError, connection, transaction
from django.db.models import Case, F, QuerySet, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from editor import events, finishing, imaging, metadata, parameters, pricing, saved_answers
from editor.database import execute_bound, release_connection, with_database_retry
from editor.heartbeat import beating
from editor.media import (
    EXTENSIONS,
    files_delete,
    image_file_write,
    image_store,
    input_upright,
)
from editor.models import (
    CostSource,
    ImageModel,
    ImageRole,
    Job,
    JobImage,
    JobKind,
    JobStage,
    JobStatus,
)
from editor.providers.base import (
    DecodedImage,
    ImageRequest,
    ProviderAdapter,
    ProviderError,
    ProviderResult,
    ResultImage,
    SourceImage,
)
from editor.providers.registry import adapter_for

logger = logging.getLogger(__name__)

MAY_HAVE_CHARGED = (
    "The worker running this job stopped after the request was sent to the provider, "
    "and no answer was saved. The provider may have charged for this; retry if you "
    "still want the result."
)


def _running(job: Job) -> QuerySet[Job]:
    """The job's row while it is still this delivery's to update."""
    return Job.objects.filter(pk=job.pk, status=JobStatus.RUNNING, deliveries=job.deliveries)


class JobObserver:
    """Records a running job's stage and the provider's answer as the adapter reports them."""

    def __init__(self, job: Job) -> None:
        self.job = job
        # The provider's answer once it has come, and as it was saved (its
        # images named, not held: ``editor.saved_answers``).
        self.answer: Mapping[str, Any] = {}
        self.saved_answer: Mapping[str, Any] = {}
        # The answer images kept so far, by position: an adapter that makes
        # one call per image saves the answer gathered so far after each.
        self.kept: dict[int, tuple[str, str]] = {}
        # Their base64 and bytes, so the results are not decoded again.
        self.decoded: list[tuple[str, DecodedImage]] = []

    def stage(self, stage: str) -> None:
        now = timezone.now()
        changes: dict[str, Any] = {"stage": stage, "heartbeat": now}
        if stage == JobStage.SENDING:
            changes["sent"] = now
        elif stage == JobStage.DOWNLOADING:
            changes["answered"] = now
        try:
            updated = with_database_retry(
                lambda: _running(self.job).update(**changes), what=f"job {self.job.pk}: {stage}"
            )
        except OperationalError:
            if stage == JobStage.SENDING:
                # Nothing sent yet: the sweep queues the job again.
                raise
            # Only the stage shown to the user is missing; the call goes on.
            updated = 1
        # What follows each stage is a wait on the network.
        release_connection()
        events.job_changed(self.job.pk, news=events.PROGRESS if updated else events.CHANGED)
        if not updated and stage == JobStage.SENDING:
            # Canceled, or given up on by the sweep: stop before anything is
            # sent, so nobody pays for a call whose result would be dropped.
            raise ProviderError(
                "This job stopped running before its request was sent.", code="job_abandoned"
            )

    def response_received(self, payload: Mapping[str, Any]) -> None:
        """Save the provider's answer, before anything else happens to it:
        its images to file storage, the rest on the row.

        Filtered on the primary key only: a paid answer is kept even if the job
        was canceled or given up on meanwhile.
        """
        now = timezone.now()
        decoded, written = _answer_images_write(self.job, payload, already=self.kept.keys())
        kept = {**self.kept, **{image.position: (str(image.pk), image.sha256) for image in written}}
        saved = saved_answers.answer_noted(payload, stored=kept) if kept else payload
        attempts = itertools.count()
        try:
            with_database_retry(
                lambda: _answer_record(
                    job=self.job,
                    answer=saved,
                    images=written,
                    now=now,
                    retried=next(attempts) > 0,
                ),
                what=f"job {self.job.pk}: saving the provider's answer",
            )
        except BaseException:
            files_delete(image.file.name for image in written)
            raise
        self.answer = payload
        self.saved_answer = saved
        self.kept = kept
        self.decoded.extend(decoded)

    def decoded_image(self, encoded: str) -> DecodedImage | None:
        for text, image in self.decoded:
            # The same string object, as a rule: compared without reading it.
            if text == encoded:
                return image
        return None


def _answer_images_write(
    job: Job, answer: Mapping[str, Any], *, already: Collection[int]
) -> tuple[list[tuple[str, DecodedImage]], list[JobImage]]:
    """Write the images ``answer`` holds as base64 to file storage, as the
    job's answer images (rows not saved yet); returns them, and each one's
    base64 with its bytes.

    What does not look like an image from its header stays in the saved
    answer, and so does everything when storage fails: the row then holds
    the answer whole, as the only copy of what was paid for.
    """
    release_connection()
    written: list[JobImage] = []
    decoded: list[tuple[str, DecodedImage]] = []
    try:
        for found in saved_answers.answer_images(answer):
            if found.position in already:
                continue
            try:
                info = imaging.probe_image(
                    found.data, max_pixels=settings.DARKROOM_MAX_IMAGE_PIXELS
                )
            except imaging.ImageRejectedError:
                continue
            if info.format not in EXTENSIONS:
                continue
            written.append(
                image_file_write(
                    job=job,
                    role=ImageRole.ANSWER,
                    position=found.position,
                    data=found.data,
                    info=info,
                )
            )
            decoded.append((found.encoded, DecodedImage(data=found.data, sha256=info.sha256)))
    except Exception:
        logger.warning(
            "Job %s: could not keep the answer's images in file storage; the answer is "
            "saved whole on the job instead.",
            job.pk,
            exc_info=True,
        )
        files_delete(image.file.name for image in written)
        return [], []
    return decoded, written


def _answer_record(
    *, job: Job, answer: Mapping[str, Any], images: list[JobImage], now: datetime, retried: bool
) -> None:
    with transaction.atomic():
        # A retried write whose first attempt was committed after all (the
        # connection lost on the way back) must not record the images twice.
        if retried and images and JobImage.objects.filter(pk=images[0].pk).exists():
            images = []
        JobImage.objects.bulk_create(images)
        answer_save(
            job_id=job.pk,
            answer=answer,
            now=now,
            stored_bytes=sum(image.bytes for image in images),
        )


def answer_save(
    *, job_id: uuid.UUID, answer: Mapping[str, Any], now: datetime, stored_bytes: int = 0
) -> None:
    """Save a provider's answer on its job's row (any status: it was paid for),
    counting ``stored_bytes`` more on the job for the answer images stored."""
    if connection.vendor != "postgresql":
        Job.objects.filter(pk=job_id).update(
            provider_response=dict(answer),
            answered=now,
            heartbeat=now,
            stored_bytes=F("stored_bytes") + stored_bytes,
        )
        return
    # An answer whose images could not be kept apart holds megabytes of
    # base64: bound apart from the statement (see execute_bound).
    execute_bound(
        _SAVE_ANSWER_SQL,
        [
            Job._meta.get_field("provider_response").get_prep_value(dict(answer)),
            now,
            now,
            stored_bytes,
            job_id,
        ],
    )


_SAVE_ANSWER_SQL = (
    'UPDATE "editor_job" SET "provider_response" = %s, "answered" = %s, "heartbeat" = %s, '
    '"stored_bytes" = "stored_bytes" + %s WHERE "id" = %s'
)


def job_claim(job_id: str) -> Job | None:
    """Take a queued job for this worker; None if it is gone or not queued.

    The conditional update is what makes a redelivered message harmless. A
    job already delivered ``DARKROOM_MAX_DELIVERIES`` times is failed instead:
    it keeps stopping the workers that run it.
    """
    now = timezone.now()
    limit = settings.DARKROOM_MAX_DELIVERIES
    claimed = Job.objects.filter(pk=job_id, status=JobStatus.QUEUED, deliveries__lt=limit).update(
        status=JobStatus.RUNNING,
        stage=JobStage.PREPARING,
        started=now,
        heartbeat=now,
        deliveries=F("deliveries") + 1,
    )
    if not claimed:
        Job.objects.filter(pk=job_id, status=JobStatus.QUEUED, deliveries__gte=limit).update(
            **_too_many_attempts(limit, now)
        )
        return None
    events.job_changed(job_id, news=events.PROGRESS)
    return Job.objects.select_related("image_model__provider").get(pk=job_id)


def _too_many_attempts(limit: int, now: datetime) -> dict[str, Any]:
    return {
        "status": JobStatus.FAILED,
        "stage": JobStage.DONE,
        "finished": now,
        "heartbeat": now,
        "error_code": "too_many_attempts",
        "error_message": (
            f"This job was started {limit} times and its worker stopped each time, so "
            "Darkroom gave up on it. The provider was not called again after it had "
            "answered or may have charged."
        ),
        "error_detail": {"deliveries": limit},
    }


def run_job(*, job_id: str) -> None:
    try:
        job = with_database_retry(lambda: job_claim(job_id), what=f"claiming job {job_id}")
    except OperationalError:
        # Still queued: the sweep sends it a new message.
        logger.warning("Job %s could not be claimed; it stays queued.", job_id)
        return
    if job is None:
        logger.info("Job %s is not queued any more; nothing to do.", job_id)
        return
    with beating(job.pk):
        try:
            request = with_database_retry(
                lambda: _build_request(job), what=f"reading the images of job {job.pk}"
            )
            result, answer = _results_for(job, request)
            stored = with_database_retry(
                lambda: _store_results(job, result, request),
                what=f"storing the results of job {job.pk}",
            )
            if stored:
                _answer_slim(job, answer)
        except OperationalError:
            # The database stayed out of reach past the retry deadline. The
            # job is left running; once its heartbeat stops, the sweep settles
            # it (from the saved answer, if the provider's answer was saved).
            logger.exception("Job %s left to the recovery sweep: no database", job.pk)
            return
        except ProviderError as error:
            _fail_or_leave(job, partial(_provider_failure, error))
        except Exception as error:
            logger.exception("Job %s failed unexpectedly", job.pk)
            _fail_or_leave(job, partial(_unexpected_failure, job, error))
        finally:
            release_connection()


def _fail_or_leave(job: Job, failure: Callable[[], dict[str, Any]]) -> None:
    """Fail the job with ``failure()``, or leave it to the sweep without a database."""
    try:
        with_database_retry(lambda: job_fail(job=job, **failure()), what=f"failing job {job.pk}")
    except OperationalError:
        logger.exception("Job %s left to the recovery sweep: no database", job.pk)


def _provider_failure(error: ProviderError) -> dict[str, Any]:
    return {"code": error.code, "message": error.message, "detail": error.detail}


def _unexpected_failure(job: Job, error: Exception) -> dict[str, Any]:
    if isinstance(error, SoftTimeLimitExceeded):
        code, message = "time_limit", "This job ran past Darkroom's time limit and was stopped."
    else:
        code, message = "internal_error", "Darkroom hit an unexpected error while running this job."
    sent, answer = Job.objects.filter(pk=job.pk).values_list("sent", "provider_response").get()
    if sent is not None and not answer:
        message += (
            " Its request had reached the provider, which may have charged for it; "
            "retry if you still want the result."
        )
    return {"code": code, "message": message, "detail": {"type": type(error).__name__}}


def _results_for(job: Job, request: ImageRequest) -> tuple[ProviderResult, Mapping[str, Any]]:
    """The provider's results for ``job``, and its answer as saved."""
    model = job.image_model
    if model is None or not model.is_usable:
        raise ProviderError(
            f"The model “{job.model_label}” is no longer available.", code="model_unavailable"
        )
    adapter = adapter_for(model.provider.config())
    if job.provider_response:
        # A previous delivery saved the provider's answer and then stopped:
        # build the results from it, never pay for a second call.
        return adapter.results_from_response(_answer_read(job), request), job.provider_response
    if job.sent is not None:
        raise ProviderError(MAY_HAVE_CHARGED, code="interrupted_after_sending")
    _check_still_allowed(job, model, request)
    observer = JobObserver(job)
    return _call_provider(adapter, job, request, observer), observer.saved_answer


def _answer_read(job: Job) -> dict[str, Any]:
    """The saved answer of ``job`` as it came, its images read back from storage."""
    try:
        return saved_answers.answer_whole(job=job, answer=job.provider_response)
    except OperationalError:
        raise
    except Exception as error:
        # Storage lost the file (or will not give it): the row still says
        # what was answered, and nothing is called again.
        raise ProviderError(
            "The provider's answer to this job was saved, but its images could not be "
            f"read back from storage ({error}).",
            code="answer_unreadable",
        ) from error


def _answer_slim(job: Job, answer: Mapping[str, Any]) -> None:
    """Drop the stored results' base64 from the saved answer, after the job's
    end is told (off the path of whoever waits for it).

    It only saves room: whatever goes wrong leaves the answer whole (and
    ``slim_answers`` can slim it later), never touches the finished job.
    """
    try:
        saved_answers.job_answer_slim(job=job, answer=answer)
    except Exception:
        logger.warning("Could not slim the saved answer of job %s", job.pk, exc_info=True)


def _check_still_allowed(job: Job, model: ImageModel, request: ImageRequest) -> None:
    """Refuse, before anything is paid, what the model no longer takes.

    The form checked the job against the model when it was submitted; an
    operator's edit or a sync since may have narrowed what the model takes.
    """
    problems = parameters.check_values(job.params, model.parameters, model_label=model.label)
    if request.images and not model.can_edit:
        problems.append(f"{model.label} does not edit images.")
    if len(request.images) > model.max_images:
        problems.append(f"{model.label} takes at most {model.max_images} image(s).")
    if request.mask is not None and not model.supports_mask:
        problems.append(f"{model.label} does not take a mask.")
    if len(request.prompt) > model.max_prompt_length:
        problems.append(
            f"{model.label} takes prompts of at most {model.max_prompt_length} characters."
        )
    if problems:
        raise ProviderError(
            f"This job asks for what {model.label} does not take (the model may have changed "
            "since the job was submitted), so nothing was sent: " + " ".join(problems),
            code="not_supported",
            detail={"problems": problems},
        )


def _call_provider(
    adapter: ProviderAdapter, job: Job, request: ImageRequest, observer: JobObserver
) -> ProviderResult:
    if job.kind == JobKind.EDIT:
        return adapter.edit(request, observer=observer)
    return adapter.generate(request, observer=observer)


def _build_request(job: Job) -> ImageRequest:
    images: list[SourceImage] = []
    mask: bytes | None = None
    # A generation has no images to send: no query for them.
    sources = (
        job.images.filter(role__in=[ImageRole.INPUT, ImageRole.MASK]).order_by("position")
        if job.kind == JobKind.EDIT
        else []
    )
    for stored in sources:
        with stored.file.open("rb") as handle:
            data = handle.read()
        if stored.orientation != 1:
            data = _input_upright(stored, data)
        if stored.role == ImageRole.MASK:
            mask = data
        else:
            # The owner's file keeps its EXIF; the provider gets the picture.
            sent = metadata.without_metadata(data, image_format=stored.format)
            images.append(
                SourceImage(
                    data=sent, width=stored.width, height=stored.height, format=stored.format
                )
            )
    return ImageRequest(
        model_id=job.image_model.model_id if job.image_model else "",
        prompt=job.prompt,
        params=job.params,
        images=tuple(images),
        mask=mask,
    )


def _input_upright(stored: JobImage, data: bytes) -> bytes:
    """A phone photo's input turned upright now (see ``media.input_upright``)."""
    # Turning a 12 MP photo takes a quarter of a second: not over a connection.
    release_connection()
    try:
        return input_upright(stored, data=data)
    except imaging.ImageRejectedError as error:
        raise ProviderError(
            f"Image {stored.position + 1} could not be read ({error}), so nothing was sent.",
            code="bad_input",
        ) from error


def _image_store_released(
    *, job: Job, role: str, position: int, data: bytes, info: imaging.ImageInfo
) -> None:
    """``image_store`` without holding a database connection over the upload.

    Writing a file to object storage takes far longer than writing its row;
    hundreds of jobs storing at once would otherwise need a connection each.
    """
    release_connection()
    image_store(job=job, role=role, position=position, data=data, info=info)


class _AnswerImages:
    """Stores a job's results, each as the answer image that holds its bytes
    when there is one (written when the answer came), else as a new file."""

    def __init__(self, job: Job, answer_images: list[JobImage]) -> None:
        self.job = job
        self.by_sha256: dict[str, list[JobImage]] = {}
        for image in sorted(answer_images, key=lambda image: image.position):
            self.by_sha256.setdefault(image.sha256, []).append(image)

    def store(self, *, role: str, position: int, data: bytes, info: imaging.ImageInfo) -> None:
        same = self.by_sha256.get(info.sha256)
        if same:
            # Same bytes, so the same format and size: only the row changes.
            JobImage.objects.filter(pk=same.pop(0).pk).update(
                role=role, position=position, width=info.width, height=info.height
            )
            return
        _image_store_released(job=self.job, role=role, position=position, data=data, info=info)


def _store_results(job: Job, result: ProviderResult, request: ImageRequest) -> bool:
    """Store the results and finish the job; False if it is no longer this delivery's."""
    if not _storing_begin(job):
        # The sweep gave up on this delivery: the answer stays saved on the row.
        logger.info("Job %s is no longer this worker's; results not stored.", job.pk)
        return False
    if not result.images:
        raise ProviderError("The provider answered without any image.", code="empty_result")
    # Every image of the job's run so far, in one query.
    images = list(
        job.images.filter(
            role__in=[ImageRole.RESULT, ImageRole.RAW, ImageRole.ANSWER, ImageRole.SENT_MASK]
        )
    )
    # A delivery that stopped half-way may have stored some results already;
    # the (job, role, position) constraint keeps one file per position.
    stored = {(image.role, image.position) for image in images}
    kept = _AnswerImages(job, [image for image in images if image.role == ImageRole.ANSWER])
    leaks: list[float] = []
    notices: list[str] = []
    lined_up = False
    for position, image in enumerate(result.images):
        info = _result_info(image)
        # Measured again for results a stopped delivery stored already: the
        # job's leak covers every result.
        finished = finishing.finished_result(job=job, request=request, result=result, image=image)
        if finished.leak is not None:
            leaks.append(finished.leak)
        if finished.notice and finished.notice not in notices:
            notices.append(finished.notice)
        lined_up = lined_up or finished.changed
        if finished.changed and (ImageRole.RAW, position) not in stored:
            # The answer as received goes first: it is what was paid for.
            kept.store(role=ImageRole.RAW, position=position, data=image.data, info=info)
        if (ImageRole.RESULT, position) not in stored:
            shown = finishing.finished_info(finished) if finished.changed else info
            kept.store(role=ImageRole.RESULT, position=position, data=finished.data, info=shown)
    if lined_up:
        notices.insert(0, finishing.lined_up_notice(job=job, request=request))
    if result.sent_mask is not None and (ImageRole.SENT_MASK, 0) not in stored:
        info = imaging.inspect_image(
            result.sent_mask, max_pixels=settings.DARKROOM_MAX_IMAGE_PIXELS
        )
        _image_store_released(
            job=job,
            role=ImageRole.SENT_MASK,
            position=0,
            data=result.sent_mask,
            info=info,
        )
    now = timezone.now()
    cost, cost_source = _cost_of(job, result)
    # Only a job still running turns succeeded: a job canceled meanwhile keeps
    # its (paid-for) results but stays canceled.
    outcome: dict[str, Any] = {
        "heartbeat": now,
        "usage": result.usage,
        "cost": cost,
        "cost_source": cost_source,
        "notices": [*job.notices, *result.notices, *notices],
        "result_deadline": result.result_deadline,
        "mask_leak": max(leaks) if leaks else None,
    }
    succeeded = _running(job).update(
        status=JobStatus.SUCCEEDED, stage=JobStage.DONE, finished=now, **outcome
    )
    if not succeeded:
        # Canceled while the provider worked: the provider was paid all the
        # same, so what it cost counts against its owner's budget and in the
        # usage, beside the results it keeps.
        canceled = Job.objects.filter(
            pk=job.pk, status=JobStatus.CANCELED, deliveries=job.deliveries
        )
        canceled.update(**outcome)
    events.job_changed(job.pk, news=events.ENDED if succeeded else events.CHANGED)
    return True


def _storing_begin(job: Job) -> bool:
    """Show the job as storing its results; False if it is no longer this
    delivery's. A job canceled meanwhile is still this delivery's: it keeps
    its (paid-for) results, and its stage."""
    return bool(
        Job.objects.filter(
            pk=job.pk,
            deliveries=job.deliveries,
            status__in=[JobStatus.RUNNING, JobStatus.CANCELED],
        ).update(
            stage=Case(
                When(status=JobStatus.RUNNING, then=Value(JobStage.STORING)), default=F("stage")
            ),
            heartbeat=timezone.now(),
        )
    )


def _cost_of(job: Job, result: ProviderResult) -> tuple[Decimal | None, str]:
    """What the run cost: as the provider reported it, else from its token
    usage, else at the list price when that is exact; None when unknown."""
    if result.cost is not None:
        return result.cost, CostSource.PROVIDER
    model_pricing = job.image_model.pricing if job.image_model else {}
    if (cost := pricing.cost_from_usage(pricing=model_pricing, usage=result.usage)) is not None:
        return cost, CostSource.USAGE
    listed = pricing.list_price(
        pricing=model_pricing, params={**job.params, "n": len(result.images)}
    )
    if listed is not None:
        return listed, CostSource.LIST_PRICE
    return None, ""


def _result_info(image: ResultImage) -> imaging.ImageInfo:
    """What a result is, decoding it only if the adapter has not already."""
    limit = settings.DARKROOM_MAX_IMAGE_PIXELS
    try:
        if image.info is None:
            return imaging.inspect_image(image.data, max_pixels=limit)
        if image.info.width * image.info.height > limit:
            raise imaging.ImageRejectedError(
                f"{image.info.width}×{image.info.height} pixels is over the limit"
            )
        return image.info
    except imaging.ImageRejectedError as exc:
        raise ProviderError(
            f"The provider sent back something that is not a usable image ({exc}).",
            code="bad_result",
        ) from exc


def job_fail(*, job: Job, code: str, message: str, detail: Mapping[str, Any] | None = None) -> None:
    now = timezone.now()
    failed = _running(job).update(
        status=JobStatus.FAILED,
        stage=JobStage.DONE,
        finished=now,
        heartbeat=now,
        error_code=code,
        error_message=message,
        error_detail=dict(detail or {}),
    )
    if not failed:
        # Canceled while the provider worked, and the call failed before it
        # answered: nothing to pay, so the reservation it held is given back.
        # An answer saved means a paid call: its reservation keeps counting.
        _canceled_unanswered().filter(pk=job.pk).update(reserved=0)
    events.job_changed(job.pk, news=events.ENDED if failed else events.CHANGED)


# --- Recovery ------------------------------------------------------------------


def jobs_recover(
    *,
    enqueue: Callable[[str], None],
    waiting_messages: Callable[[], int] | None = None,
    now: datetime | None = None,
) -> Counter[str]:
    """Find jobs whose worker died or whose message was lost, and settle them.

    A running job whose heartbeat stopped is:

    * finished from its saved answer when the provider had answered (the job
      is queued again and the next delivery builds results without a call);
    * queued again when its request had not been sent;
    * failed with the "may have charged" message when the request was sent
      and no answer was saved: Darkroom never pays twice on its own.

    Queued jobs whose message was lost are sent a new one (see
    ``_jobs_to_send_again``; ``waiting_messages`` counts the messages waiting
    in the broker, None or a failure falls back to the jobs' age alone). A
    duplicate message does no harm: a job is claimed once. Every change is a
    conditional update, so sweeps running at the same time on several
    machines do no harm either.
    """
    now = now or timezone.now()
    counts: Counter[str] = Counter()

    def enqueue_or_log(job_id: str) -> None:
        # The job is queued on its row already: if the broker is away now, a
        # later sweep finds it short of a message and sends it one.
        try:
            enqueue(job_id)
        except Exception:
            logger.exception("Could not enqueue job %s; a later sweep will.", job_id)

    stale = Job.objects.filter(
        status=JobStatus.RUNNING,
        heartbeat__lt=now - timedelta(seconds=settings.DARKROOM_STALE_AFTER_SECONDS),
    )
    answered = set(stale.exclude(provider_response={}).values_list("pk", flat=True))
    for pk, deliveries, heartbeat, sent in stale.values_list(
        "pk", "deliveries", "heartbeat", "sent"
    ):
        row = Job.objects.filter(
            pk=pk, status=JobStatus.RUNNING, deliveries=deliveries, heartbeat=heartbeat
        )
        if pk in answered or sent is None:
            if deliveries >= settings.DARKROOM_MAX_DELIVERIES:
                outcome = (
                    "failed_attempts" if row.update(**_too_many_attempts(deliveries, now)) else ""
                )
            elif row.update(status=JobStatus.QUEUED, stage=JobStage.QUEUED, heartbeat=now):
                enqueue_or_log(str(pk))
                outcome = "requeued_answered" if pk in answered else "requeued"
            else:
                outcome = ""
        else:
            outcome = (
                "failed_sent"
                if row.update(
                    status=JobStatus.FAILED,
                    stage=JobStage.DONE,
                    finished=now,
                    heartbeat=now,
                    error_code="interrupted_after_sending",
                    error_message=MAY_HAVE_CHARGED,
                    error_detail={"sent": sent.isoformat()},
                )
                else ""
            )
        if outcome:
            logger.warning("Recovered job %s from a stopped worker: %s", pk, outcome)
            events.job_changed(pk)
            counts[outcome] += 1
    if released := _canceled_calls_release(now=now):
        logger.info("Gave back the reservations of %d jobs canceled mid-call.", released)
        counts["released_reservations"] = released
    resend = _jobs_to_send_again(waiting_messages=waiting_messages, now=now)
    for pk, heartbeat in resend.values_list("pk", "heartbeat"):
        # The heartbeat of a queued job is when it was last enqueued.
        if Job.objects.filter(pk=pk, status=JobStatus.QUEUED, heartbeat=heartbeat).update(
            heartbeat=now
        ):
            enqueue_or_log(str(pk))
            counts["reenqueued"] += 1
    return counts


def _canceled_calls_release(*, now: datetime) -> int:
    """Give back the reservations of jobs canceled mid-call whose call is surely over.

    A job canceled after its request was sent holds its reservation while
    the provider may still charge (``limits.JOB_CHARGE``); its worker records
    the cost when the answer comes, or gives the reservation back when the
    call fails. A worker that stopped meanwhile did neither. Once a whole
    call's deadline (and the heartbeat's slack) has passed since its last
    heartbeat (a job's heartbeat stops when it is canceled) without an answer
    saved, no answer can come any more. Only a day's worth is looked at, on
    the (status, heartbeat) index: the sweep runs every minute.
    """
    over = now - timedelta(
        seconds=settings.DARKROOM_PROVIDER_DEADLINE + settings.DARKROOM_STALE_AFTER_SECONDS
    )
    return (
        _canceled_unanswered()
        .filter(heartbeat__gte=over - timedelta(days=1), heartbeat__lt=over, sent__isnull=False)
        .exclude(reserved=0)
        .update(reserved=0)
    )


def _canceled_unanswered() -> QuerySet[Job]:
    """Canceled jobs with no answer saved and no cost: nothing was paid for
    them, so their reservation may go back once their call is over."""
    return Job.objects.filter(status=JobStatus.CANCELED, cost__isnull=True, provider_response={})


def _jobs_to_send_again(
    *, waiting_messages: Callable[[], int] | None, now: datetime
) -> QuerySet[Job]:
    """The queued jobs to send a new message, the longest waiting first.

    Each queued job was sent one message (or more: duplicates do no harm).
    When the broker holds fewer waiting messages than there are queued jobs,
    that many messages were lost (a broker restarted without its data, a
    publish that failed, a message file set aside as unreadable, messages a
    killed worker had taken but not started). The jobs queued longest, and
    for at least ``DARKROOM_LOST_AFTER_SECONDS`` since their last message,
    get new ones, at most as many as are missing. A long queue that is
    simply busy holds a message per job and gets nothing. Every queued job
    is counted, however new: its message is among the waiting ones.

    The rule reasons in counts, not in which job's message is missing: no
    broker can say that cheaply. Messages that workers hold are not
    waiting; their jobs are running, or about to be claimed (a harmless
    duplicate at worst). Messages of finished jobs or of the sweep itself
    only delay a re-send to a later sweep.

    When the broker cannot say how many messages wait, a job is sent a new
    message once it has waited ``DARKROOM_REQUEUE_AFTER_SECONDS`` (longer:
    this also re-sends to jobs that only wait their turn).
    """
    queued = (
        Job.objects.filter(status=JobStatus.QUEUED)
        .alias(last_sent=Coalesce("heartbeat", "created"))
        .order_by("last_sent", "pk")
    )
    if waiting_messages is not None:
        try:
            # Messages first: a job exists before its message is published.
            waiting = waiting_messages()
        except Exception:
            logger.warning(
                "Could not count the messages waiting in the broker; re-sending only to "
                "jobs queued longer than DARKROOM_REQUEUE_AFTER_SECONDS.",
                exc_info=True,
            )
        else:
            missing = max(queued.count() - waiting, 0)
            lost_before = now - timedelta(seconds=settings.DARKROOM_LOST_AFTER_SECONDS)
            return queued.filter(last_sent__lt=lost_before)[:missing]
    waited_before = now - timedelta(seconds=settings.DARKROOM_REQUEUE_AFTER_SECONDS)
    return queued.filter(last_sent__lt=waited_before)
