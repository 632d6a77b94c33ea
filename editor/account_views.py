"""Sign-up (open, by invitation or closed), and the account page: this
month's spend, the e-mail address, deleting the account."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth.decorators import login_not_required
from django.db import IntegrityError, transaction
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from editor import accounts, invites, usage
from editor.account_forms import AccountDeleteForm, EmailChangeForm
from editor.forms import SignupForm
from editor.pricing import format_money
from editor.views import HttpRequest
from webapp import errors


class InviteGone(Exception):
    """The invite was used or expired between the form's check and the save."""


@login_not_required
@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest, token: str = "") -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("editor:editor")
    mode = settings.DARKROOM_SIGNUP
    if mode == "closed":
        return errors.refusal(
            request,
            status=403,
            title="Sign-up is closed",
            explanation="New accounts are not being created here. If you should have one, ask "
            "the operator of this site to create it for you.",
        )
    needs_invite = mode == "invite"
    if needs_invite and not token:
        return errors.refusal(
            request,
            status=403,
            title="Sign-up is by invitation",
            explanation="Sign-up here is by invitation only. Ask the operator of this site for "
            "an invite link, then open it to create your account.",
        )
    if needs_invite and (state := invites.invite_state(token=token)) != invites.InviteState.VALID:
        return _invite_refusal(request, state)
    verify = settings.DARKROOM_SIGNUP_VERIFY_EMAIL
    form = SignupForm(request.POST or None)
    if verify:
        form.fields["email"].required = True
        form.fields["email"].help_text = "We mail you a link: the account works once it is opened."
    if request.method == "POST" and form.is_valid():
        try:
            with transaction.atomic():
                user = form.save(commit=False)
                user.is_active = not verify
                user.save()
                if needs_invite and not invites.invite_redeem(token=token, user=user):
                    raise InviteGone
        except IntegrityError:
            # Someone took the name or the address since the form was checked.
            form.add_error(None, "That username or e-mail address was just taken; try another.")
        except InviteGone:
            return _invite_refusal(request, invites.invite_state(token=token))
        else:
            if verify:
                accounts.email_link_send(
                    user=user,
                    email=user.email,
                    absolute_url=request.build_absolute_uri,
                    purpose="start using your new Darkroom account",
                )
                return render(
                    request,
                    "registration/_message_page.html",
                    {
                        "heading": "Check your e-mail",
                        "message": f"We sent a link to {user.email}. Open it to start using "
                        f"your account; it works for {accounts.EMAIL_LINK_DAYS} days.",
                    },
                )
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            return redirect("editor:editor")
    context = {
        "form": form,
        "heading": "Create your account",
        "button": "Sign up",
        "invited": needs_invite,
    }
    return render(request, "registration/signup.html", context)


def _invite_refusal(request: HttpRequest, state: invites.InviteState) -> HttpResponse:
    titles = {
        invites.InviteState.USED: "This invite was already used",
        invites.InviteState.EXPIRED: "This invite has expired",
    }
    return errors.refusal(
        request,
        status=404 if state == invites.InviteState.UNKNOWN else 410,
        title=titles.get(state, "This invite link is not valid"),
        explanation=invites.STATE_MESSAGES[state],
    )


@login_not_required
@require_GET
def confirm_email(request: HttpRequest, token: str) -> HttpResponse:
    """The link mailed at sign-up or at an e-mail change."""
    link = accounts.email_link_read(token=token)
    user = accounts.email_link_apply(link=link) if link else None
    if user is None:
        return errors.refusal(
            request,
            status=400,
            title="This link does not work",
            explanation="The link is broken, older than "
            f"{accounts.EMAIL_LINK_DAYS} days, or the address is now used by another account. "
            "Sign up again, or change your address again from your account page.",
        )
    message = f"Your e-mail address {link.email if link else ''} is confirmed."
    if request.user.is_authenticated:
        messages.success(request, message)
        return redirect("account")
    return render(
        request,
        "registration/_message_page.html",
        {"heading": "Address confirmed", "message": message + " You can log in now."},
    )


@require_GET
def account(request: HttpRequest) -> HttpResponse:
    return _account_page(request)


@require_POST
def account_email(request: HttpRequest) -> HttpResponse:
    form = EmailChangeForm(request.POST, user=request.user)
    if not form.is_valid():
        return _account_page(request, email_form=form, status=400)
    email = form.cleaned_data["email"]
    if settings.DARKROOM_SIGNUP_VERIFY_EMAIL:
        accounts.email_link_send(
            user=request.user,
            email=email,
            absolute_url=request.build_absolute_uri,
            purpose="use this address for your Darkroom account",
        )
        messages.success(
            request, f"We sent a link to {email}: your address changes when you open it."
        )
        return redirect("account")
    try:
        with transaction.atomic():
            accounts.email_change(user=request.user, email=email)
    except IntegrityError:  # taken between the check and the save
        form.add_error("email", "Another account just took this address; try another.")
        return _account_page(request, email_form=form, status=400)
    messages.success(request, f"Your e-mail address is now {email}.")
    return redirect("account")


@require_POST
def account_delete(request: HttpRequest) -> HttpResponse:
    form = AccountDeleteForm(request.POST, user=request.user)
    if form.is_valid() and (busy := accounts.jobs_in_progress(user=request.user)):
        form.add_error(
            None,
            f"{busy} of your jobs {'is' if busy == 1 else 'are'} still queued or running. Wait "
            "for them to finish, or cancel them and wait a moment, then delete your account.",
        )
    if not form.is_valid():
        return _account_page(request, delete_form=form, status=400)
    user = request.user
    username = user.get_username()
    logout(request)
    accounts.account_delete(user=user)
    return render(
        request,
        "registration/_message_page.html",
        {
            "heading": "Account deleted",
            "message": f"The account {username}, its history and all its images are deleted.",
        },
    )


def _account_page(
    request: HttpRequest,
    *,
    email_form: EmailChangeForm | None = None,
    delete_form: AccountDeleteForm | None = None,
    status: int = 200,
) -> HttpResponse:
    month = usage.month_usage(user=request.user)
    context: dict[str, Any] = {
        "month": month,
        "spent": format_money(month.total.cost),
        "limit": format_money(month.limit) if month.limit is not None else "",
        "left": format_money(month.left) if month.left is not None else "",
        "used_percent": _percent(month.total.cost, month.limit),
        "days": [
            {"day": day, "jobs": totals.jobs, "cost": format_money(totals.cost)}
            for day, totals in month.by_day
        ],
        "models": [
            {
                "label": label,
                "provider": provider,
                "jobs": totals.jobs,
                "cost": format_money(totals.cost),
            }
            for (label, provider), totals in month.by_model
        ],
        "chart": _month_chart(month),
        "email_form": email_form or EmailChangeForm(user=request.user),
        "delete_form": delete_form or AccountDeleteForm(user=request.user),
    }
    return render(request, "registration/account.html", context, status=status)


def _percent(spent: Decimal, limit: Decimal | None) -> int | None:
    if not limit:
        return None
    return min(100, int(spent * 100 / limit))


def _month_chart(month: usage.MonthUsage) -> dict[str, Any]:
    """Stacked bars: one per day of the month, one colour per model (US dollars)."""
    models = [key for key, _ in month.by_model]
    return {
        "labels": [day.isoformat() for day in month.days],
        "datasets": [
            {
                "label": f"{label} ({provider})",
                "data": [
                    float(month.cost_by_day_and_model.get(day, {}).get((label, provider), 0))
                    for day in month.days
                ],
            }
            for label, provider in models
        ],
    }
