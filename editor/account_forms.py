"""What people send about their own account, and the operator's usage range."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django import forms
from django.contrib.auth.models import User
from django.utils import timezone

from editor.forms import check_email_available

DELETE_WORD = "delete"
MAX_RANGE_DAYS = 366


class PasswordConfirmedForm(forms.Form):
    """A form that asks for the user's current password before it acts."""

    password = forms.CharField(
        label="Your current password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_password(self) -> str:
        password: str = self.cleaned_data["password"]
        if not self.user.check_password(password):
            raise forms.ValidationError("That is not your current password.", code="wrong_password")
        return password


class EmailChangeForm(PasswordConfirmedForm):
    field_order = ["email", "password"]

    email = forms.EmailField(label="New e-mail address", max_length=254)

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].strip()
        if email.lower() == self.user.email.lower():
            raise forms.ValidationError("That is already your address.", code="unchanged")
        return check_email_available(email, user_pk=self.user.pk)


class AccountDeleteForm(PasswordConfirmedForm):
    confirm = forms.CharField(
        label=f"Type “{DELETE_WORD}” to confirm",
        max_length=50,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )

    def clean_confirm(self) -> str:
        word = self.cleaned_data["confirm"].strip().lower()
        if word != DELETE_WORD:
            raise forms.ValidationError(
                f"Type the word “{DELETE_WORD}” to delete your account.", code="not_confirmed"
            )
        return word


class UsageRangeForm(forms.Form):
    """The operator's range of days, read from the query string (GET)."""

    date_from = forms.DateField(
        required=False,
        label="From",
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"invalid": "Enter the first day as YYYY-MM-DD."},
    )
    date_to = forms.DateField(
        required=False,
        label="To",
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"invalid": "Enter the last day as YYYY-MM-DD."},
    )

    def clean(self) -> dict[str, Any] | None:
        cleaned = super().clean() or {}
        today = timezone.localdate()
        last: date = cleaned.get("date_to") or today
        first: date = cleaned.get("date_from") or last - timedelta(days=29)
        if self.errors:
            return cleaned
        if first > last:
            raise forms.ValidationError("The first day comes after the last one.", code="order")
        if (last - first).days + 1 > MAX_RANGE_DAYS:
            raise forms.ValidationError(
                f"Choose at most {MAX_RANGE_DAYS} days at a time.", code="too_long"
            )
        cleaned["first"], cleaned["last"] = first, last
        return cleaned
