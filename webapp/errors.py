"""Readable refusals.

Every error Darkroom answers with is a page in the site's layout that says
what happened and what to do, or, for an htmx request, a fragment that the
page shows in its messages region (``#messages`` in base.html): the fragment
carries ``HX-Retarget``, and static/editor/messages.js lets htmx swap it in
although its status is an error.
"""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import (
    DisallowedHost,
    RequestDataTooBig,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.http import HttpRequest, HttpResponse
from django.http.multipartparser import MultiPartParserError
from django.middleware.csrf import REASON_NO_CSRF_COOKIE
from django.template.defaultfilters import filesizeformat
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from editor.api import errors as api_errors

TITLES = {
    400: "The request could not be used",
    403: "Not allowed",
    404: "Nothing here",
    405: "Not available this way",
    413: "Too much data",
    429: "Too many attempts",
    500: "Something went wrong",
}
MESSAGES_REGION = "#messages"


def refusal(
    request: HttpRequest,
    *,
    status: int,
    explanation: str,
    title: str = "",
    links: tuple[tuple[str, str], ...] = (),
    use_request_context: bool = True,
) -> HttpResponse:
    """A refusal as a page in the site's layout, or a fragment for htmx.

    ``use_request_context=False`` renders without the request's context
    processors (no session, no database): for a server error, whose cause
    may be exactly those. Under /v1/ (the image API) the refusal is the
    API's JSON error instead, which its clients read.
    """
    if api_errors.is_api_request(request):
        return api_errors.error_response(status=status, message=explanation)
    context = {
        "status": status,
        "title": title or TITLES.get(status, "The request could not be used"),
        "explanation": explanation,
        # (URL, label) pairs: where to go from here.
        "links": links,
        # Messages waiting for the next page stay waiting: this one is about
        # something else.
        "messages": (),
    }
    htmx = bool(getattr(request, "htmx", False))
    template = "errors/_message.html" if htmx else "errors/page.html"
    if use_request_context:
        content = render_to_string(template, context, request=request)
    else:
        content = render_to_string(template, context)
    response = HttpResponse(content, status=status)
    if htmx:
        response["HX-Retarget"] = MESSAGES_REGION
        response["HX-Reswap"] = "innerHTML"
    return response


def too_many_requests(
    request: HttpRequest,
    *,
    explanation: str,
    wait: timedelta,
    links: tuple[tuple[str, str], ...] = (),
    title: str = "",
) -> HttpResponse:
    response = refusal(request, status=429, explanation=explanation, links=links, title=title)
    response["Retry-After"] = str(max(1, math.ceil(wait.total_seconds())))
    return response


def wait_text(wait: timedelta) -> str:
    """A wait as people say it: "14 minutes", "40 seconds"."""
    seconds = max(1, math.ceil(wait.total_seconds()))
    if seconds < 90:
        return _count(seconds, "second")
    minutes = math.ceil(seconds / 60)
    if minutes < 90:
        return _count(minutes, "minute")
    return _count(math.ceil(minutes / 60), "hour")


def _count(number: int, unit: str) -> str:
    return f"{number} {unit}{'' if number == 1 else 's'}"


def upload_too_large_text() -> str:
    limit = settings.DARKROOM_MAX_REQUEST_BYTES
    return (
        f"This request carries more than {filesizeformat(limit)}, the most Darkroom accepts "
        f"at once. Each image may be up to {filesizeformat(settings.DARKROOM_MAX_UPLOAD_BYTES)}, "
        f"at most {settings.DARKROOM_MAX_INPUT_IMAGES} per job. Nothing was saved."
    )


# --- Django's handlers (webapp/urls.py, CSRF_FAILURE_VIEW) ------------------------


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if isinstance(exception, RequestDataTooBig):
        return refusal(
            request,
            status=413,
            explanation=(
                "The text of this form adds up to more than "
                f"{filesizeformat(settings.DATA_UPLOAD_MAX_MEMORY_SIZE)}. A prompt is at most "
                "a few thousand characters: shorten it and send the form again. Nothing was saved."
            ),
        )
    if isinstance(exception, TooManyFilesSent):
        return refusal(
            request,
            status=400,
            explanation=(
                f"You sent more than {settings.DATA_UPLOAD_MAX_NUMBER_FILES} files in one "
                f"request; Darkroom takes at most {settings.DARKROOM_MAX_INPUT_IMAGES} images "
                "and one mask per job. Nothing was saved."
            ),
        )
    if isinstance(exception, TooManyFieldsSent):
        return refusal(
            request,
            status=400,
            explanation=(
                f"You sent more than {settings.DATA_UPLOAD_MAX_NUMBER_FIELDS} form fields in "
                "one request, more than any Darkroom form has. Nothing was changed."
            ),
        )
    if isinstance(exception, MultiPartParserError):
        return refusal(
            request,
            status=400,
            explanation=(
                "The form data could not be read: it was malformed or cut short. "
                "Send the form again; nothing was saved."
            ),
        )
    if isinstance(exception, DisallowedHost):
        return refusal(
            request,
            status=400,
            explanation="This server does not answer to that host name.",
        )
    return refusal(
        request,
        status=400,
        explanation=(
            "The request was malformed, so nothing was done. Reload the page and try again."
        ),
    )


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return refusal(
        request,
        status=403,
        explanation="Your account may not open this page.",
    )


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    # The same answer for "never existed", "deleted" and "someone else's".
    return refusal(
        request,
        status=404,
        explanation=(
            "There is no page at this address. If a link brought you here, what it pointed to "
            "may have been deleted."
        ),
    )


def server_error(request: HttpRequest) -> HttpResponse:
    return refusal(
        request,
        status=500,
        explanation=(
            "Darkroom failed to answer this request. The error was logged; try again in a "
            "moment, and if it keeps happening, tell whoever runs this Darkroom."
        ),
        use_request_context=False,
    )


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    refused = getattr(request, "refused_upload", None)
    if refused is not None:
        # The form's token came after a file that passed the limit, so the
        # token check failed only because the upload was stopped.
        return refusal(request, status=413, explanation=str(refused))
    if reason == REASON_NO_CSRF_COOKIE:
        explanation = (
            "Your browser did not send Darkroom's security cookie with this form. Allow "
            "cookies for this site, reload the page and send the form again."
        )
    else:
        explanation = (
            "This form has expired (you may have logged in or out in another tab) or was sent "
            "from another site. Reload the page and send it again; nothing was changed."
        )
    return refusal(
        request, status=403, title="The form could not be accepted", explanation=explanation
    )


def method_not_allowed(request: HttpRequest, allowed: list[str]) -> HttpResponse:
    if "POST" in allowed and request.method == "GET" and not api_errors.is_api_request(request):
        explanation = "This address takes a form, not a visit: use the button on its page."
    else:
        methods = ", ".join(allowed) or "none"
        explanation = f"This address does not take {request.method} requests (it takes {methods})."
    response = refusal(request, status=405, explanation=explanation)
    response["Allow"] = ", ".join(allowed)
    return response


# --- Logins (django-axes) -------------------------------------------------------------


def login_locked_out(
    request: HttpRequest, response: HttpResponse | None, credentials: dict[str, Any] | None
) -> HttpResponse:
    """AXES_LOCKOUT_CALLABLE: the 429 page of a paused login, with the wait."""
    wait = login_wait(request, credentials)
    return too_many_requests(
        request,
        explanation=(
            "Too many wrong passwords in a row for this account, or from your network. "
            f"Logging in is paused: try again in {wait_text(wait)}."
        ),
        wait=wait,
        links=((reverse("password_reset"), "Forgot your password? Reset it"),),
    )


def login_wait(request: HttpRequest, credentials: dict[str, Any] | None) -> timedelta:
    """How long until the lock that refused this login is lifted.

    A lock lasts AXES_COOLOFF_TIME after the last counted failure of the
    account or the address (attempts during a lock are not counted, see
    settings), so the latest of those failures says when it ends.
    """
    from axes.helpers import get_client_username, get_cool_off
    from axes.models import AccessAttempt
    from django.db.models import Max, Q

    cool_off = get_cool_off(request) or timedelta(0)
    username = get_client_username(request, credentials)
    address = getattr(request, "axes_ip_address", None)
    latest = AccessAttempt.objects.filter(Q(username=username) | Q(ip_address=address)).aggregate(
        latest=Max("attempt_time")
    )["latest"]
    if latest is None:
        return cool_off
    return max(latest + cool_off - timezone.now(), timedelta(seconds=1))
