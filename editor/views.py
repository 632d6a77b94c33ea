"""Thin views: parse the request, call a selector or service, render."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.models import User
from django.http import Http404, HttpResponse, JsonResponse, StreamingHttpResponse
from django.http import HttpRequest as DjangoHttpRequest
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect, HttpResponseStopPolling
from django_htmx.middleware import HtmxDetails
from django_ratelimit.core import get_usage

from editor import compositing, events, limits, media, pricing, selectors, services
from editor.database import release_connection
from editor.forms import HistoryFilterForm, JobForm, estimate_for, prefill
from editor.models import (
    ImageModel,
    ImageRole,
    Job,
    JobImage,
    JobKind,
    JobSource,
    JobStatus,
    ProviderKind,
)
from webapp import errors, timezones, uploads


class HttpRequest(DjangoHttpRequest):
    """What our middleware adds to every request, for the type checker."""

    htmx: HtmxDetails
    user: User


@require_http_methods(["GET", "POST"])
def editor(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        data, files = request.POST, request.FILES  # read first: reading may stop an upload
        refused = uploads.refused_upload(request)
        form = JobForm(data, files, user=request.user, refused_upload=refused)
        status = 413 if refused else 400
        if form.is_valid():
            estimate = form.estimate()
            try:
                job = services.job_create(
                    user=request.user,
                    image_model=form.cleaned_data["image_model"],
                    prompt=form.cleaned_data["prompt"],
                    params=form.job_parameters(),
                    images=form.validated_images,
                    mask=form.validated_mask,
                    parent=form.cleaned_data.get("parent"),
                    estimated_cost=estimate.amount if estimate else None,
                    model_available=True,
                )
            except limits.RateLimited as refusal:
                return errors.too_many_requests(
                    request,
                    explanation=refusal.message,
                    wait=timedelta(seconds=refusal.retry_after),
                    links=((reverse("editor:history"), "See your jobs"),),
                    title="Not now: too many jobs",
                )
            except limits.ModelNotAvailable as refusal:
                form.add_error("image_model", refusal.message)
            except limits.SubmissionRefused as refusal:
                # Over budget: shown on the form, which keeps what was entered
                # (a 400 like any form error, which the editor's script shows).
                form.add_error(None, refusal.message)
            else:
                if request.htmx and request.htmx.target == "run-panel":
                    # The workspace keeps the user on the canvas: it shows the
                    # run in place instead of following a redirect to the job page.
                    response = render(request, "editor/_run.html", _run_context(job), status=201)
                    response["X-Darkroom-Job"] = str(job.pk)
                    return response
                url = reverse("editor:job", args=[job.pk])
                return HttpResponseClientRedirect(url) if request.htmx else redirect(url)
    else:
        form = JobForm(initial=prefill(user=request.user, query=request.GET), user=request.user)
        status = 200
    template = "editor/editor.html#job-form" if request.htmx else "editor/editor.html"
    model = form.selected_model
    estimate = (
        estimate_for(model=model, values=form.data, input_images=len(form.source_items))
        if model is not None
        else None
    )
    context = {
        "form": form,
        "picker": model_picker(form),
        "estimate": pricing.format_estimate(estimate),
        "model": model,
        "price": _price(model),
        "limits": _upload_limits(),
        "pick_model": bool(request.GET.get("pick_model")),
        # The script builds image and run URLs from these.
        "placeholder_id": _PLACEHOLDER,
    }
    return render(request, template, context, status=status)


def _upload_limits() -> dict[str, int]:
    return {
        "max_bytes": settings.DARKROOM_MAX_UPLOAD_BYTES,
        "max_pixels": settings.DARKROOM_MAX_IMAGE_PIXELS,
        "max_images": settings.DARKROOM_MAX_INPUT_IMAGES,
    }


@dataclass(frozen=True)
class ModelOption:
    """One model in the picker: what it can do and costs, in words."""

    pk: int
    label: str
    provider: str
    selected: bool
    can_edit: bool
    can_generate: bool
    supports_mask: bool
    max_images: int
    max_prompt_length: int
    price: str

    @property
    def abilities(self) -> str:
        can = []
        if self.can_edit:
            can.append("edits")
            if self.supports_mask:
                can.append("mask")
            if self.max_images > 1:
                can.append(f"up to {self.max_images} images")
        if self.can_generate:
            can.append("generates")
        return ", ".join(can)

    @property
    def text(self) -> str:
        """The option as plain text (no script): label, abilities, price."""
        return " · ".join(part for part in (self.label, self.abilities, self.price) if part)


def model_picker(form: JobForm) -> list[tuple[str, list[ModelOption]]]:
    """The models the user may pick, grouped by provider, the demo last."""
    field = form.fields["image_model"]
    assert isinstance(field, forms.ModelChoiceField)
    selected = form.selected_model.pk if form.selected_model else None
    groups: dict[str, list[ModelOption]] = {}
    assert field.queryset is not None
    for model in field.queryset:
        offline = model.provider.kind == ProviderKind.OFFLINE
        group = "Demo (no AI)" if offline else model.provider.name
        groups.setdefault(group, []).append(
            ModelOption(
                pk=model.pk,
                label=model.label,
                provider=group,
                selected=model.pk == selected,
                can_edit=model.can_edit,
                can_generate=model.can_generate,
                supports_mask=model.supports_mask,
                max_images=model.max_images,
                max_prompt_length=model.max_prompt_length,
                price=pricing.price_summary(model.pricing),
            )
        )
    return sorted(groups.items(), key=lambda item: (item[0] == "Demo (no AI)", item[0]))


@require_GET
def model_fields(request: HttpRequest) -> HttpResponse:
    """The parameter fields of the model picked in the editor (htmx swap)."""
    form = JobForm(initial={"image_model": request.GET.get("image_model")}, user=request.user)
    context = {"form": form, "price": _price(form.selected_model)}
    return render(request, "editor/editor.html#model-fields", context)


@require_GET
def editor_estimate(request: HttpRequest) -> HttpResponse:
    """What a run with the editor's current choices should cost (htmx swap).

    Parameters that do not validate yet count as their defaults; the numbers
    of images and prompt characters come from the page, since the files are
    not sent until Run.
    """
    model = (
        ImageModel.objects.available_to(request.user)
        .filter(pk=_int(request.GET.get("image_model")))
        .first()
    )
    estimate = None
    if model is not None:
        estimate = estimate_for(
            model=model,
            values=request.GET,
            input_images=min(_int(request.GET.get("input_images")), 100),
            prompt_length=min(_int(request.GET.get("prompt_length")), 100_000),
        )
    context = {"estimate": pricing.format_estimate(estimate), "model": model}
    return render(request, "editor/editor.html#cost-estimate", context)


def _int(value: str | None) -> int:
    try:
        return max(0, int(value or 0))
    except ValueError:
        return 0


def _price(model: ImageModel | None) -> str:
    return pricing.price_detail(model.pricing) if model else ""


def _job_json(request: HttpRequest, job: Job) -> dict[str, Any]:
    def timestamp(value: Any) -> str | None:
        return value.isoformat() if value else None

    results = [image for image in job.images.all() if image.role == ImageRole.RESULT]
    raw_outputs = [image for image in job.images.all() if image.role == ImageRole.RAW]
    return {
        "id": str(job.pk),
        "status": job.status,
        "stage": job.stage,
        "kind": job.kind,
        "model": job.model_label,
        "provider": job.provider_name,
        "prompt": job.prompt,
        "parameters": job.params,
        "created": timestamp(job.created),
        "started": timestamp(job.started),
        "finished": timestamp(job.finished),
        "error": job.error,
        "usage": job.usage,
        "cost": str(job.cost) if job.cost is not None else None,
        "cost_source": job.cost_source or None,
        "estimated_cost": str(job.estimated_cost) if job.estimated_cost is not None else None,
        "notices": job.notices,
        "mask_leak": job.mask_leak,
        "results": [
            {
                "url": request.build_absolute_uri(reverse("editor:image", args=[image.pk])),
                "width": image.width,
                "height": image.height,
                "format": image.format,
                "bytes": image.bytes,
            }
            for image in results
        ],
        # The provider's answers as received, where the results differ from them.
        "raw_outputs": [
            {
                "url": request.build_absolute_uri(reverse("editor:image", args=[image.pk])),
                "position": image.position,
                "width": image.width,
                "height": image.height,
                "format": image.format,
            }
            for image in raw_outputs
        ],
    }


def _job_context(job: Job, *, variation: str | None = None) -> dict[str, Any]:
    images = sorted(job.images.all(), key=lambda image: image.position)
    inputs = [image for image in images if image.role == ImageRole.INPUT]
    results = [image for image in images if image.role == ImageRole.RESULT]
    # The variation on show (?variation=2, counted from 1); anything else is the first.
    number = _int(variation) if variation and variation.isdigit() else 1
    number = min(max(number, 1), len(results)) if results else 0
    return {
        "selected": results[number - 1] if results else None,
        "selected_number": number,
        "trash_days": settings.DARKROOM_TRASH_DAYS,
        "job": job,
        "inputs": inputs,
        "first_input": inputs[0] if inputs else None,
        "elapsed": _elapsed(job),
        "mask": next((image for image in images if image.role == ImageRole.MASK), None),
        "sent_mask": next((image for image in images if image.role == ImageRole.SENT_MASK), None),
        "results": results,
        "raw_results": [image for image in images if image.role == ImageRole.RAW],
        "queue_position": selectors.queue_position(job=job),
    }


def _elapsed(job: Job) -> dict[str, int | None]:
    """Whole seconds the job has spent in its current wait, for the progress line."""
    now = timezone.now()

    def since(moment: Any) -> int | None:
        return int((now - moment).total_seconds()) if moment else None

    return {"queued": since(job.created), "running": since(job.started), "sent": since(job.sent)}


@require_GET
def job_detail(request: HttpRequest, job_id: uuid.UUID) -> HttpResponse:
    job = selectors.job_for_user(user=request.user, job_id=job_id)
    if "application/json" in request.headers.get("Accept", ""):
        return JsonResponse(_job_json(request, job))
    return render(
        request, "editor/job.html", _job_context(job, variation=request.GET.get("variation"))
    )


@require_GET
def job_status(request: HttpRequest, job_id: uuid.UUID) -> HttpResponse:
    """The live part of the job page; polling stops (286) once the job is final.

    A poll that sends the ETag of what it shows and finds nothing new gets a
    bare 304 from one query, without rendering.
    """
    version = selectors.job_version(user=request.user, job_id=job_id)
    if not version.is_final and request.headers.get("If-None-Match") == version.etag:
        unchanged = HttpResponse(status=304)
        unchanged["ETag"] = version.etag
        return unchanged
    job = selectors.job_for_user(user=request.user, job_id=job_id)
    context = _job_context(job)
    response = render(request, "editor/job.html#job-status", context)
    if job.is_final:
        # The last poll also refreshes the details (timings, usage, cost),
        # which were rendered while the job was still on its way.
        details = render_to_string(
            "editor/_job_details.html", {**context, "swap_out_of_band": True}, request=request
        )
        response.content += details.encode()
        response.status_code = HttpResponseStopPolling.status_code
    # The version read first: a change since then shows at the next poll.
    response["ETag"] = version.etag
    return response


@require_GET
def job_events(request: HttpRequest, job_id: uuid.UUID) -> HttpResponseBase:
    """Server-sent events for the job page: a ``change`` event whenever the
    job changes (see editor/events.py). 204 when no push is configured: the
    browser stops asking and the page polls ``job_status`` instead."""
    selectors.job_version(user=request.user, job_id=job_id)
    if not events.pages_enabled():
        return HttpResponse(status=204)
    user = request.user

    def read_version() -> selectors.JobVersion | None:
        try:
            return selectors.job_version(user=user, job_id=job_id)
        except Http404:
            return None  # deleted or trashed meanwhile: the stream ends
        finally:
            # The stream mostly waits: it holds no connection meanwhile.
            release_connection()

    response = StreamingHttpResponse(
        events.job_stream(job_id, read_version=read_version), content_type="text/event-stream"
    )
    # Nginx would otherwise hold events back in its buffer.
    response["X-Accel-Buffering"] = "no"
    return response


def _run_context(job: Job) -> dict[str, Any]:
    """What the workspace's run panel shows: progress, then the variations."""
    images = sorted(job.images.all(), key=lambda image: image.position)
    return {
        "job": job,
        "inputs": [image for image in images if image.role == ImageRole.INPUT],
        "results": [image for image in images if image.role == ImageRole.RESULT],
        "elapsed": _elapsed(job),
        "queue_position": selectors.queue_position(job=job) if not job.is_final else None,
    }


@require_GET
def workspace_run(request: HttpRequest, job_id: uuid.UUID) -> HttpResponse:
    """The editor's run panel for one job; polling stops (286) once it is final."""
    job = selectors.job_for_user(user=request.user, job_id=job_id)
    response = render(request, "editor/_run.html", _run_context(job))
    if job.is_final:
        response.status_code = HttpResponseStopPolling.status_code
    return response


@require_POST
def job_cancel(request: HttpRequest, job_id: uuid.UUID) -> HttpResponse:
    job = selectors.job_for_user(user=request.user, job_id=job_id)
    services.job_cancel(job=job)
    if request.htmx and request.htmx.target == "run-panel":
        return render(request, "editor/_run.html", _run_context(job))
    if request.htmx:
        return render(request, "editor/job.html#job-status", _job_context(job))
    return redirect("editor:job", job_id=job.pk)


@require_POST
def job_delete(request: HttpRequest, job_id: uuid.UUID) -> HttpResponse:
    """Move the job to the trash; the history then offers Undo."""
    job = selectors.job_for_user(user=request.user, job_id=job_id)
    trashed = services.jobs_trash(jobs=Job.objects.filter(pk=job.pk))
    _trashed_message(request, trashed)
    url = reverse("editor:history")
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


UNDO_TRASH_TAG = "undo-trash"


def _trashed_message(request: HttpRequest, job_ids: list[uuid.UUID]) -> None:
    """ "Moved N jobs to the trash" with an Undo button: the ids ride in the
    message's tags (see the ``undo_job_ids`` filter), so the button survives
    the redirect to the history and is shown once."""
    count = len(job_ids)
    messages.success(
        request,
        f"Moved {count} job{'' if count == 1 else 's'} to the trash.",
        extra_tags=" ".join([UNDO_TRASH_TAG, *(str(job_id) for job_id in job_ids)]),
    )


@require_GET
def job_row(request: HttpRequest, job_id: uuid.UUID) -> HttpResponse:
    """One history row, for the live status of a running job (htmx poll).

    Polling stops (286) once the job is final; a job gone from the history
    (trashed, or never the user's) answers 404 like any other.
    """
    page = selectors.history_entry(user=request.user, job_id=job_id)
    if not page.jobs:
        raise Http404("No such job.")
    job = page.jobs[0]
    response = render(request, "editor/history.html#history-row", {"row": _history_rows(page)[0]})
    if job.is_final:
        response.status_code = HttpResponseStopPolling.status_code
    return response


@require_GET
def image(request: HttpRequest, image_id: uuid.UUID, variant: str = "") -> HttpResponseBase:
    stored = selectors.image_for_user(user=request.user, image_id=image_id)
    if variant == "thumb":
        stored = media.thumbnail_ensure(stored)
    return media.image_response(
        stored, thumbnail=variant == "thumb", download=variant == "download"
    )


# --- History ---------------------------------------------------------------

HISTORY_SELECTION_LIMIT = 500


@require_GET
def history(request: HttpRequest) -> HttpResponse:
    """The user's jobs, filtered by the query string; htmx asks for the results
    only (a filter change) or for the next rows only (load more)."""
    models, providers = selectors.history_choices(user=request.user)
    form = HistoryFilterForm(request.GET, models=models, providers=providers)
    page, status = None, 200
    if form.is_valid():
        page = selectors.history_page(
            user=request.user,
            cursor=form.cleaned_data["after"] or None,
            filters=form.history_filters(),
        )
    elif not request.htmx:
        status = 400
    context = {
        "form": form,
        "page": page,
        "rows": _history_rows(page) if page else [],
        "filtered": page is not None and form.history_filters().active,
        "view": form.cleaned_data.get("view") or "grid",
        "query": form.query_string(),
        "grid_query": form.query_string(view="grid"),
        "list_query": form.query_string(view="list"),
    }
    template = "editor/history.html"
    if request.htmx and request.htmx.target == "load-more" and page is not None:
        template += "#history-rows"
    elif request.htmx:
        template += "#history-results"
    return render(request, template, context, status=status)


@dataclass(frozen=True)
class HistoryRow:
    """What one history entry shows, ready to print: a page has many of them,
    and plain values render several times faster than model lookups."""

    id: str
    url: str
    thumbnail_url: str
    prompt: str
    status: str
    status_label: str
    kind_label: str
    # Made through the image API (/v1/), not the editor.
    from_api: bool
    model: str
    provider: str
    cost: str
    created_iso: str
    created: str
    # Queued or running: the row polls for its status.
    live: bool
    # The share of protected pixels the provider changed, e.g. "52.3 %".
    leak: str = ""


_PLACEHOLDER = uuid.UUID(int=0)
# Model.get_FOO_display() rebuilds the choices' dict on each call.
_STATUS_LABELS: dict[str, str] = dict(JobStatus.choices)
_KIND_LABELS: dict[str, str] = dict(JobKind.choices)


def _history_rows(page: selectors.HistoryPage) -> list[HistoryRow]:
    # Reverse once per page, not twice per row.
    job_url = reverse("editor:job", args=[_PLACEHOLDER])
    thumb_url = reverse("editor:image-variant", args=[_PLACEHOLDER, "thumb"])
    rows = []
    for job in page.jobs:
        cover = page.covers.get(job.pk)
        created = timezone.localtime(job.created)
        rows.append(
            HistoryRow(
                id=str(job.pk),
                url=job_url.replace(str(_PLACEHOLDER), str(job.pk)),
                thumbnail_url=thumb_url.replace(str(_PLACEHOLDER), str(cover)) if cover else "",
                prompt=job.prompt if len(job.prompt) <= 90 else job.prompt[:89].rstrip() + "…",
                status=job.status,
                status_label=_STATUS_LABELS.get(job.status, job.status),
                kind_label=_KIND_LABELS.get(job.kind, job.kind),
                from_api=job.source == JobSource.API,
                model=job.model_label,
                provider=job.provider_name,
                cost=_cost_text(job),
                created_iso=created.isoformat(),
                created=timezones.when_text(created),
                live=not job.is_final,
                leak=compositing.format_leak(job.mask_leak) if job.mask_leak is not None else "",
            )
        )
    return rows


def _cost_text(job: Job) -> str:
    """A job's cost as people read it: the real one, else the estimate while it runs."""
    if job.cost is not None:
        return pricing.format_money(job.cost)
    if job.estimated_cost is not None and job.status in (JobStatus.QUEUED, JobStatus.RUNNING):
        return pricing.format_money(job.estimated_cost, approximate=True)
    return ""


@require_GET
def history_storage(request: HttpRequest) -> HttpResponse:
    """How much storage the user's history takes and what it cost by month
    (loaded after the page: these sum over many jobs, the one cost that grows
    with the history)."""
    now = timezone.localtime()
    year_ago = now.replace(year=now.year - 1, day=1, hour=0, minute=0, second=0, microsecond=0)
    context = {
        "storage_used": selectors.storage_used(user=request.user),
        "months": [
            (month, pricing.format_money(total), jobs)
            for month, total, jobs in selectors.monthly_spend(user=request.user, since=year_ago)
        ],
    }
    return render(request, "editor/history.html#storage-used", context)


def _selected_job_ids(request: HttpRequest, *, action: str) -> list[uuid.UUID] | str:
    """The UUIDs posted as ``jobs``, or a message saying what is wrong."""
    raw = request.POST.getlist("jobs")
    if not raw:
        return f"No job was selected, so nothing was {action}. Tick the jobs first."
    if len(raw) > HISTORY_SELECTION_LIMIT:
        return f"Select at most {HISTORY_SELECTION_LIMIT} jobs at a time; nothing was {action}."
    try:
        return [uuid.UUID(value) for value in raw]
    except ValueError:
        return f"The selection holds something that is not a job, so nothing was {action}."


@require_POST
def history_delete(request: HttpRequest) -> HttpResponse:
    """Move the selected jobs (the user's own only) to the trash, with Undo."""
    selected = _selected_job_ids(request, action="deleted")
    if isinstance(selected, str):
        return errors.refusal(request, status=400, title="Nothing deleted", explanation=selected)
    jobs = selectors.jobs_for_user(user=request.user, job_ids=selected)
    _trashed_message(request, services.jobs_trash(jobs=jobs))
    url = reverse("editor:history")
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


@require_GET
def trash(request: HttpRequest) -> HttpResponse:
    """The jobs in the trash, to restore or delete for good."""
    page = selectors.trash_page(user=request.user)
    purge_after = timedelta(days=settings.DARKROOM_TRASH_DAYS)
    rows = [
        (row, timezone.localtime(job.trashed + purge_after))
        for row, job in zip(_history_rows(page), page.jobs, strict=True)
        if job.trashed is not None
    ]
    context = {"page": page, "rows": rows, "trash_days": settings.DARKROOM_TRASH_DAYS}
    return render(request, "editor/trash.html", context)


@require_POST
def trash_restore(request: HttpRequest) -> HttpResponse:
    """Bring the selected jobs back from the trash (Undo, or the trash page)."""
    selected = _selected_job_ids(request, action="restored")
    if isinstance(selected, str):
        return errors.refusal(request, status=400, title="Nothing restored", explanation=selected)
    jobs = selectors.jobs_for_user(user=request.user, job_ids=selected, trashed=True)
    restored = services.jobs_restore(jobs=jobs)
    messages.success(request, f"Restored {restored} job{'' if restored == 1 else 's'}.")
    # From the trash page back to it; Undo goes to the history.
    back = "editor:trash" if request.POST.get("back") == "trash" else "editor:history"
    url = reverse(back)
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


@require_POST
def trash_delete(request: HttpRequest) -> HttpResponse:
    """Delete the selected trashed jobs for good, with all their files."""
    selected = _selected_job_ids(request, action="deleted")
    if isinstance(selected, str):
        return errors.refusal(request, status=400, title="Nothing deleted", explanation=selected)
    jobs = selectors.jobs_for_user(user=request.user, job_ids=selected, trashed=True)
    deleted = services.jobs_delete(jobs=jobs)
    messages.success(request, f"Deleted {deleted} job{'' if deleted == 1 else 's'} for good.")
    url = reverse("editor:trash")
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


def _zip_response(members: Iterable[media.ZipMember], filename: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(media.zip_stream(members), content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    return response


def _zip_members(images: Iterable[JobImage], *, folders: bool) -> Iterator[media.ZipMember]:
    for stored in images:
        name = f"result-{stored.position + 1}.{stored.extension}"
        if folders:
            job = stored.job
            name = f"{job.created:%Y%m%d-%H%M%S}-{str(job.pk)[:8]}/{name}"
        yield media.ZipMember(name=name, image=stored)


@require_GET
def job_download(request: HttpRequest, job_id: uuid.UUID) -> HttpResponseBase:
    """All results of one job as a ZIP, streamed."""
    job = selectors.job_for_user(user=request.user, job_id=job_id)
    images = selectors.result_images_for_user(user=request.user, job_ids=[job.pk])
    return _zip_response(_zip_members(images, folders=False), f"darkroom-{job.pk}.zip")


@require_POST
def history_download(request: HttpRequest) -> HttpResponseBase:
    """All results of the selected jobs as one ZIP, streamed, a folder per job."""
    selected = _selected_job_ids(request, action="downloaded")
    if isinstance(selected, str):
        return errors.refusal(
            request, status=400, title="Nothing to download", explanation=selected
        )
    images = selectors.result_images_for_user(user=request.user, job_ids=selected)
    if not images.exists():
        return errors.refusal(
            request,
            status=404,
            title="Nothing to download",
            explanation="None of the selected jobs has results to download.",
        )
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    return _zip_response(_zip_members(images, folders=True), f"darkroom-{stamp}.zip")


@require_http_methods(["GET", "POST"])
def time_zone(request: HttpRequest) -> HttpResponse:
    """Which time zone dates are shown in: the browser's, or one the person picks."""
    current = timezone.get_current_timezone_name()
    if request.method == "POST":
        chosen = str(request.POST.get("time_zone", ""))
        if chosen == "auto":
            response = redirect("time_zone")
            # The browser reports its own zone again on the next page.
            response.delete_cookie(timezones.COOKIE_NAME)
            messages.success(request, "Dates follow your browser's time zone.")
            return response
        if timezones.zone_from(chosen) is not None:
            response = redirect("time_zone")
            response.set_cookie(
                timezones.COOKIE_NAME,
                chosen,
                max_age=timezones.COOKIE_MAX_AGE,
                samesite="Lax",
                secure=settings.SESSION_COOKIE_SECURE,
            )
            messages.success(request, f"Dates are now shown in {chosen}.")
            return response
        return errors.refusal(
            request,
            status=400,
            title="Time zone not changed",
            explanation="Pick a time zone from the list, such as Europe/Paris.",
        )
    context = {
        "heading": "Time zone",
        "current": current,
        "zones": sorted(timezones.zone_names()),
        "now": timezone.localtime(),
    }
    return render(request, "registration/time_zone.html", context)


_password_reset_view = auth_views.PasswordResetView.as_view(
    extra_context={
        "heading": "Reset your password",
        "button": "Send reset link",
        "message": "",
    }
)


def _address_asked_for(group: str, request: DjangoHttpRequest) -> str:
    return str(request.POST.get("email", "")).strip().lower()


@login_not_required
@require_http_methods(["GET", "POST"])
def password_reset(request: HttpRequest) -> HttpResponseBase:
    """Django's password reset, throttled per address asked for and per client
    (DARKROOM_PASSWORD_RESET_RATE), so it cannot be used to flood a mailbox."""
    if request.method == "POST":
        for key in (_address_asked_for, "ip"):
            usage = get_usage(
                request,
                group="password-reset",
                key=key,
                rate=settings.DARKROOM_PASSWORD_RESET_RATE,
                method="POST",
                increment=True,
            )
            if usage is not None and usage["should_limit"]:
                wait = timedelta(seconds=max(1, usage["time_left"]))
                return errors.too_many_requests(
                    request,
                    explanation=(
                        "Too many password reset requests for this address, or from your "
                        f"network. Try again in {errors.wait_text(wait)}; a link already sent "
                        "still works."
                    ),
                    wait=wait,
                )
    response: HttpResponseBase = _password_reset_view(request)
    return response
