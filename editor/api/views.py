"""Darkroom's OpenAI-compatible image API under /v1/: thin views.

Each view reads the request (``inputs``), checks it with the editor's own
form, makes an ordinary job through ``services.job_create`` and answers in
OpenAI's shape (``answers``). Errors are ``ApiError``s, answered as JSON.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db import IntegrityError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST
from django_ratelimit.core import get_usage

from editor import limits, media, selectors, services
from editor.api import answers, inputs, lookup, tokens, waiting
from editor.api.errors import ApiError, retry_after
from editor.models import ApiToken, ImageRole, Job, JobImage, JobStatus
from webapp import errors as page_errors

ApiView = Callable[..., HttpResponseBase]
IDEMPOTENCY_KEY_MAX_LENGTH = 255


def api_endpoint(view: ApiView) -> ApiView:
    """Token authentication (``Authorization: Bearer drk_...``), the API switch,
    and ApiError answered as OpenAI-style JSON. No session, no CSRF token:
    the bearer token is the credential, and browsers never send it on their own."""

    @csrf_exempt
    @login_not_required
    @wraps(view)
    def endpoint(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        try:
            _check_enabled()
            token = _authenticate(request)
            # So the response is marked private like every logged-in page.
            request.user = token.owner
            return view(request, token, *args, **kwargs)
        except ApiError as error:
            return error.response()

    return endpoint


def _check_enabled() -> None:
    if not settings.DARKROOM_API_ENABLED:
        raise ApiError(
            403,
            "The image API is switched off on this Darkroom. Use the editor in the browser, "
            "or ask whoever runs it to set DARKROOM_API_ENABLED=true.",
            code="api_disabled",
        )


def _authenticate(request: HttpRequest) -> ApiToken:
    scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
    token = tokens.token_verify(secret=secret.strip()) if scheme.lower() == "bearer" else None
    if token is not None:
        # A valid token is never throttled here: someone sending wrong tokens
        # from the same address (a shared office network) cannot lock its
        # owner out, and valid calls pay no counting queries.
        return token
    usage = get_usage(
        request,
        group="api-bad-token",
        key="ip",
        rate=settings.DARKROOM_API_BAD_TOKEN_RATE,
        increment=True,
    )
    if usage is not None and usage["should_limit"]:
        raise ApiError(
            429,
            "Too many requests with a wrong API token from your address. Try again in "
            f"{max(1, usage['time_left'])} seconds with a valid token.",
            code="too_many_bad_tokens",
            headers=retry_after(usage["time_left"]),
        )
    raise ApiError(
        401,
        "This API token is not valid: it may have been revoked, or mistyped. Make a new "
        "one on your account's API tokens page and send it as 'Authorization: Bearer drk_...'.",
        code="invalid_api_key",
    )


@api_endpoint
@require_POST
def images_edit(request: HttpRequest, token: ApiToken) -> HttpResponseBase:
    return _image_job(request, token, mode="edit")


@api_endpoint
@require_POST
def images_generate(request: HttpRequest, token: ApiToken) -> HttpResponseBase:
    return _image_job(request, token, mode="generate")


def _image_job(request: HttpRequest, token: ApiToken, *, mode: str) -> HttpResponseBase:
    user = token.owner
    api_request = inputs.read_request(request, mode=mode)
    if mode == "edit" and not api_request.images:
        raise ApiError(
            400,
            "Send at least one image to edit (image, image[] or images); "
            "/v1/images/generations makes an image from the prompt alone.",
            param="image",
        )
    respond_async = api_request.respond_async or _prefers_async(request)
    key = _idempotency_key(request)
    fingerprint = api_request.fingerprint()
    if key is not None:
        earlier = Job.objects.filter(owner=user, idempotency_key=key).first()
        if earlier is not None:
            return _replay(request, earlier, fingerprint, api_request, respond_async)
    image_model = lookup.model_lookup(user=user, name=api_request.model, mode=mode)
    form = inputs.job_form(api_request=api_request, image_model=image_model, user=user)
    if not form.is_valid():
        raise inputs.form_error(form)
    if form.validated_mask is not None and form.validated_mask.convention != "transparent":
        raise ApiError(
            400,
            "The mask has no fully transparent pixels. As in OpenAI's API, the transparent "
            "area of the mask (alpha 0) is the area to change: send a PNG with an alpha channel.",
            param="mask",
        )
    estimate = form.estimate()
    try:
        job = services.job_create(
            user=user,
            image_model=form.cleaned_data["image_model"],
            prompt=form.cleaned_data["prompt"],
            params=form.job_parameters(),
            images=form.validated_images,
            mask=form.validated_mask,
            parent=form.cleaned_data.get("parent"),
            estimated_cost=estimate.amount if estimate else None,
            origin=services.JobOrigin(
                api_token=token, idempotency_key=key, request_hash=fingerprint
            ),
            model_available=True,
        )
    except limits.SubmissionRefused as refusal:
        raise _refusal_error(refusal) from None
    except IntegrityError:
        # The same key arrived twice at once: the other request made the job.
        earlier = Job.objects.filter(owner=user, idempotency_key=key).first()
        if key is None or earlier is None:
            raise
        return _replay(request, earlier, fingerprint, api_request, respond_async)
    return _job_answer(request, job, api_request.response_format, respond_async)


def _refusal_error(refusal: limits.SubmissionRefused) -> ApiError:
    """Budgets, caps and model access, as OpenAI's clients expect them."""
    if isinstance(refusal, limits.RateLimited):
        return ApiError(
            429,
            refusal.message,
            code="rate_limit_exceeded",
            headers=retry_after(refusal.retry_after),
        )
    if isinstance(refusal, limits.ModelNotAvailable):
        return ApiError(404, refusal.message, code="model_not_found", param="model")
    if isinstance(refusal, limits.OverBudget):
        return ApiError(403, refusal.message, code="over_budget")
    return ApiError(403, refusal.message, code="submission_refused")


def _prefers_async(request: HttpRequest) -> bool:
    prefer = request.headers.get("Prefer", "")
    return "respond-async" in [part.strip().lower() for part in prefer.split(",")]


def _idempotency_key(request: HttpRequest) -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    key = key.strip()
    if not key or len(key) > IDEMPOTENCY_KEY_MAX_LENGTH:
        raise ApiError(
            400,
            f"An Idempotency-Key must be 1 to {IDEMPOTENCY_KEY_MAX_LENGTH} characters.",
            code="invalid_idempotency_key",
        )
    return key


def _replay(
    request: HttpRequest,
    earlier: Job,
    fingerprint: str,
    api_request: inputs.ApiRequest,
    respond_async: bool,
) -> HttpResponseBase:
    """A retry gets the first request's job (never a second provider call);
    the same key with another request is refused."""
    if earlier.request_hash != fingerprint:
        raise ApiError(
            422,
            "This Idempotency-Key was already used with a different request (job "
            f"{earlier.pk}). Use a new key for a new request.",
            code="idempotency_key_reused",
            headers={"x-should-retry": "false"},
        )
    return _job_answer(request, earlier, api_request.response_format, respond_async)


def _job_answer(
    request: HttpRequest, job: Job, response_format: str, respond_async: bool
) -> HttpResponseBase:
    if not respond_async:
        waiting.job_wait(job_id=job.pk, timeout=settings.DARKROOM_API_WAIT_SECONDS)
    job = selectors.api_job_for_user(user=job.owner, job_id=job.pk)
    if not job.is_final:
        response = JsonResponse(answers.accepted_answer(request, job), status=202)
        response["Location"] = answers.job_summary(request, job)["url"]
        return response
    if job.status == JobStatus.SUCCEEDED:
        return answers.json_response(
            answers.images_answer(request, job, response_format=response_format)
        )
    raise _job_error(job)


def _job_error(job: Job) -> ApiError:
    # Never retried by the client on its own: the provider may have charged.
    no_retry = {"x-should-retry": "false"}
    if job.status == JobStatus.CANCELED:
        return ApiError(409, f"Job {job.pk} was canceled.", code="job_canceled", headers=no_retry)
    return ApiError(
        502,
        f"The job failed: {job.error_message} (job {job.pk})",
        code=job.error_code or "job_failed",
        headers=no_retry,
    )


@api_endpoint
@require_GET
def job_detail(request: HttpRequest, token: ApiToken, job_id: uuid.UUID) -> HttpResponse:
    """A job of this token's user: its status, and its images once it succeeded."""
    try:
        job = selectors.api_job_for_user(user=token.owner, job_id=job_id)
    except Http404:
        raise ApiError(404, "No such job.", code="job_not_found") from None
    response_format = request.GET.get("response_format") or "b64_json"
    if response_format not in inputs.RESPONSE_FORMATS:
        raise ApiError(400, "response_format must be b64_json or url.", param="response_format")
    if job.status == JobStatus.SUCCEEDED:
        answer = answers.images_answer(request, job, response_format=response_format)
        return answers.json_response({**answer.pop("darkroom"), **answer})
    return JsonResponse(answers.job_summary(request, job))


@api_endpoint
@require_GET
def models_list(request: HttpRequest, token: ApiToken) -> HttpResponse:
    models = lookup.models_for(token.owner)
    return JsonResponse({"object": "list", "data": [lookup.model_entry(m) for m in models]})


@api_endpoint
@require_GET
def model_detail(request: HttpRequest, token: ApiToken, model_id: str) -> HttpResponse:
    model = lookup.model_lookup(user=token.owner, name=model_id, mode="edit")
    return JsonResponse(lookup.model_entry(model))


@csrf_exempt
@login_not_required
@require_GET
def result_file(request: HttpRequest, signed: str) -> HttpResponseBase:
    """A result by its signed URL (no token: image clients fetch it bare)."""
    try:
        _check_enabled()
    except ApiError as error:
        return error.response()
    found = answers.signed_image(signed)
    image = None
    if found is not None:
        image_id, owner_id = found
        image = JobImage.objects.filter(
            pk=image_id, job__owner_id=owner_id, role=ImageRole.RESULT
        ).first()
    if image is None:
        return page_errors.page_not_found(request)
    return media.image_response(image)
