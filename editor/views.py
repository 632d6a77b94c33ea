"""Thin views: parse the request, call a selector or service, render."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib.auth import login
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.models import User
from django.http import HttpRequest as DjangoHttpRequest
from django.http import HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect, HttpResponseStopPolling
from django_htmx.middleware import HtmxDetails

from editor import media, selectors, services
from editor.forms import JobForm, SignupForm
from editor.models import ImageRole, Job


class HttpRequest(DjangoHttpRequest):
    """What our middleware adds to every request, for the type checker."""

    htmx: HtmxDetails
    user: User


@require_http_methods(["GET", "POST"])
def editor(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = JobForm(request.POST, request.FILES)
        if form.is_valid():
            job = services.job_create(
                user=request.user,
                image_model=form.cleaned_data["image_model"],
                prompt=form.cleaned_data["prompt"],
                params=form.job_parameters(),
                images=form.validated_images,
                mask=form.validated_mask,
            )
            url = reverse("editor:job", args=[job.pk])
            return HttpResponseClientRedirect(url) if request.htmx else redirect(url)
        status = 400
    else:
        form = JobForm()
        status = 200
    template = "editor/editor.html#job-form" if request.htmx else "editor/editor.html"
    return render(request, template, {"form": form}, status=status)


@require_GET
def model_fields(request: HttpRequest) -> HttpResponse:
    """The parameter fields of the model picked in the editor (htmx swap)."""
    form = JobForm(initial={"image_model": request.GET.get("image_model")})
    return render(request, "editor/editor.html#model-fields", {"form": form})


def _job_json(request: HttpRequest, job: Job) -> dict[str, Any]:
    def timestamp(value: Any) -> str | None:
        return value.isoformat() if value else None

    results = [image for image in job.images.all() if image.role == ImageRole.RESULT]
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
        "notices": job.notices,
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
    }


def _job_context(job: Job) -> dict[str, Any]:
    images = list(job.images.all())
    return {
        "job": job,
        "inputs": [image for image in images if image.role == ImageRole.INPUT],
        "mask": next((image for image in images if image.role == ImageRole.MASK), None),
        "sent_mask": next((image for image in images if image.role == ImageRole.SENT_MASK), None),
        "results": [image for image in images if image.role == ImageRole.RESULT],
        "queue_position": selectors.queue_position(job=job),
    }


@require_GET
def job_detail(request: HttpRequest, job_id: uuid.UUID) -> HttpResponse:
    job = selectors.job_for_user(user=request.user, job_id=job_id)
    if "application/json" in request.headers.get("Accept", ""):
        return JsonResponse(_job_json(request, job))
    return render(request, "editor/job.html", _job_context(job))


@require_GET
def job_status(request: HttpRequest, job_id: uuid.UUID) -> HttpResponse:
    """The live part of the job page; polling stops (286) once the job is final."""
    job = selectors.job_for_user(user=request.user, job_id=job_id)
    response = render(request, "editor/job.html#job-status", _job_context(job))
    if job.is_final:
        response.status_code = HttpResponseStopPolling.status_code
    return response


@require_POST
def job_cancel(request: HttpRequest, job_id: uuid.UUID) -> HttpResponse:
    job = selectors.job_for_user(user=request.user, job_id=job_id)
    services.job_cancel(job=job)
    if request.htmx:
        return render(request, "editor/job.html#job-status", _job_context(job))
    return redirect("editor:job", job_id=job.pk)


@require_POST
def job_delete(request: HttpRequest, job_id: uuid.UUID) -> HttpResponse:
    job = selectors.job_for_user(user=request.user, job_id=job_id)
    services.job_delete(job=job)
    url = reverse("editor:history")
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


@require_GET
def image(request: HttpRequest, image_id: uuid.UUID, variant: str = "") -> HttpResponseBase:
    stored = selectors.image_for_user(user=request.user, image_id=image_id)
    return media.image_response(
        stored, thumbnail=variant == "thumb", download=variant == "download"
    )


@require_GET
def history(request: HttpRequest) -> HttpResponse:
    page = selectors.history_page(user=request.user, cursor=request.GET.get("after"))
    template = "editor/history.html#history-rows" if request.htmx else "editor/history.html"
    return render(request, template, {"page": page})


@login_not_required
@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("editor:editor")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return redirect("editor:editor")
    context = {"form": form, "heading": "Create your account", "button": "Sign up"}
    return render(request, "registration/signup.html", context)
