"""The account's API tokens page (/accounts/tokens/): make, list and revoke.

A new token's secret is shown once: it is kept in the session for the one
page that follows the POST (so a reload does not make another token) and
dropped as that page is rendered.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.models import User
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from editor.api import tokens
from editor.models import ApiToken

NEW_SECRET_SESSION_KEY = "darkroom.api.new-token"  # noqa: S105 (a session key name)


class TokenForm(forms.Form):
    name = forms.CharField(
        max_length=100,
        label="Name",
        help_text="Where you will use it, e.g. “Open WebUI” or “laptop scripts”.",
    )


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


@require_http_methods(["GET", "POST"])
def tokens_page(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        made = tokens.token_create(user=user, name=form.cleaned_data["name"])
        request.session[NEW_SECRET_SESSION_KEY] = {"id": made.token.pk, "secret": made.secret}
        return redirect("api-tokens")
    new = request.session.pop(NEW_SECRET_SESSION_KEY, None)
    context = {
        "form": form,
        "tokens": ApiToken.objects.filter(owner=user).order_by("revoked", "-created", "-id"),
        "new_secret": new["secret"] if new else "",
        "new_token_id": new["id"] if new else None,
        "base_url": request.build_absolute_uri("/v1"),
    }
    return render(request, "editor/api_tokens.html", context, status=400 if form.errors else 200)


@require_POST
def token_revoke(request: HttpRequest, token_id: int) -> HttpResponse:
    token = ApiToken.objects.filter(pk=token_id, owner=_user(request)).first()
    if token is None:
        raise Http404("No such token.")
    if tokens.token_revoke(token=token):
        messages.success(request, f"“{token.name}” is revoked: programs using it are refused.")
    return redirect(reverse("api-tokens"))
