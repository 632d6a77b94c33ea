from __future__ import annotations

import uuid
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.forms import UserChangeForm
from django.contrib.auth.models import Group, User
from django.http import Http404, HttpRequest, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html

from editor import catalog, invites, media, pricing
from editor.api import tokens
from editor.forms import check_email_available
from editor.models import (
    ApiToken,
    GroupPolicy,
    ImageModel,
    Invite,
    Job,
    JobImage,
    Provider,
    SiteLimits,
    UserLimits,
)
from editor.parameters import DEFAULT_LIMITS, PARAMETERS, SIZE
from editor.providers.base import ProviderError


class ProviderForm(forms.ModelForm[Provider]):
    # Write-only: the stored key is never rendered back into the page.
    new_api_key = forms.CharField(
        required=False,
        label="API key",
        widget=forms.PasswordInput(render_value=False),
        help_text="Leave empty to keep the current key.",
    )
    add_models = forms.CharField(
        required=False,
        label="Add models by id",
        help_text="Comma-separated ids, listed by the provider or not (e.g. a model the router "
        "added last week). Unknown ids start with safe defaults: edit them below.",
    )

    class Meta:
        model = Provider
        fields = [
            "name",
            "kind",
            "base_url",
            "enabled",
            "connect_timeout",
            "deadline",
            "result_hosts",
        ]

    def save(self, commit: bool = True) -> Provider:
        provider = super().save(commit=False)
        if self.cleaned_data.get("new_api_key"):
            provider.api_key = self.cleaned_data["new_api_key"]
        if commit:
            provider.save()
        return provider

    def model_ids_to_add(self) -> list[str]:
        text = self.cleaned_data.get("add_models") or ""
        return [model_id.strip() for model_id in text.split(",") if model_id.strip()]


class ImageModelInline(admin.TabularInline[ImageModel, Provider]):
    model = ImageModel
    extra = 0
    # Capabilities are edited on the model's own page; models are added by id
    # through the provider form, so they get the listing's facts.
    fields = ["model_id", "label", "enabled", "listed", "retired_reason"]
    readonly_fields = ["model_id", "label", "listed", "retired_reason"]
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def _report(model_admin: admin.ModelAdmin[Any], request: HttpRequest, report: Any) -> None:
    model_admin.message_user(request, report.summary())
    for warning in report.warnings:
        model_admin.message_user(request, warning, level=messages.WARNING)


@admin.register(Provider)
class ProviderAdmin(admin.ModelAdmin[Provider]):
    form = ProviderForm
    list_display = ["name", "kind", "base_url", "enabled", "has_api_key"]
    inlines = [ImageModelInline]
    actions = ["sync_models"]

    @admin.action(description="Sync models and capabilities from the provider")
    def sync_models(self, request: HttpRequest, queryset: Any) -> None:
        for provider in queryset:
            try:
                report = catalog.provider_sync_models(provider=provider)
            except ProviderError as error:
                # The message never carries the key (see providers.http).
                self.message_user(
                    request, f"{provider.name}: {error.message}", level=messages.ERROR
                )
            else:
                _report(self, request, report)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        if model_ids := form.model_ids_to_add():
            report = catalog.provider_add_models(provider=form.instance, model_ids=model_ids)
            _report(self, request, report)

    @admin.display(boolean=True, description="API key set")
    def has_api_key(self, provider: Provider) -> bool:
        return bool(provider.api_key_encrypted)


class ImageModelForm(forms.ModelForm[ImageModel]):
    """A model's capabilities as the operator sets them; what they change is
    kept through later syncs."""

    sizes = forms.CharField(
        required=False,
        help_text="Comma-separated sizes the form offers (WxH or auto). Empty: no size field.",
    )
    shown_parameters = forms.MultipleChoiceField(
        required=False,
        label="Parameters shown",
        choices=[(name, definition.label) for name, definition in PARAMETERS.items()],
        widget=forms.CheckboxSelectMultiple,
        help_text="Which parameters the editor offers for this model. Limits are in "
        "“parameters” below.",
    )

    class Meta:
        model = ImageModel
        fields = [
            "label",
            "enabled",
            "can_edit",
            "can_generate",
            "supports_mask",
            "max_images",
            "max_prompt_length",
            "parameters",
            "pricing",
        ]
        help_texts = {
            "parameters": 'Each parameter\'s limits, e.g. {"n": {"min": 1, "max": 4}}.',
            "pricing": 'e.g. {"per_image": "0.04"}, {"per_image_by_size": '
            '{"1024x1024": "0.04"}} or {"tokens": "gpt-image-2"}.',
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        current = self.instance.parameters or {}
        self.fields["shown_parameters"].initial = [name for name in current if name in PARAMETERS]
        self.fields["sizes"].initial = ", ".join(current.get("size", {}).get("choices", []))

    def clean_sizes(self) -> list[str]:
        sizes = [size.strip().lower() for size in self.cleaned_data["sizes"].split(",")]
        sizes = [size for size in sizes if size]
        wrong = [size for size in sizes if size != "auto" and not SIZE.match(size)]
        if wrong:
            raise forms.ValidationError(f"Write sizes as WxH or auto, not: {', '.join(wrong)}.")
        return sizes

    def clean(self) -> dict[str, Any] | None:
        cleaned = super().clean() or {}
        limits = dict(cleaned.get("parameters") or {})
        shown = set(cleaned.get("shown_parameters") or [])
        limits = {name: value for name, value in limits.items() if name in shown}
        for name in shown - set(limits):
            limits[name] = dict(DEFAULT_LIMITS[name])
        sizes = cleaned.get("sizes") or []
        if sizes:
            size = dict(limits.get("size") or DEFAULT_LIMITS["size"])
            size["choices"] = sizes
            if size.get("default") not in sizes:
                size["default"] = sizes[0]
            limits["size"] = size
        elif "sizes" in self.changed_data:
            limits.pop("size", None)
        cleaned["parameters"] = limits
        return cleaned

    def save(self, commit: bool = True) -> ImageModel:
        model = super().save(commit=False)
        # What the operator set here is theirs: a sync will not undo it.
        edited = [name for name in ImageModel.CAPABILITY_FIELDS if name in self.changed_data]
        if "sizes" in self.changed_data or "shown_parameters" in self.changed_data:
            edited.append("parameters")
        model.operator_overrides = sorted({*(model.operator_overrides or []), *edited})
        if commit:
            model.save()
        return model


class ImageModelAddForm(forms.ModelForm[ImageModel]):
    class Meta:
        model = ImageModel
        fields = ["provider", "model_id"]
        help_texts = {
            "model_id": "Any id the provider serves, listed or not. Its capabilities come "
            "from the provider's listing, Darkroom's knowledge or safe defaults; edit them next."
        }


@admin.register(ImageModel)
class ImageModelAdmin(admin.ModelAdmin[ImageModel]):
    form = ImageModelForm
    list_display = [
        "label",
        "model_id",
        "provider",
        "enabled",
        "offered",
        "can_edit",
        "supports_mask",
        "max_images",
        "price",
        "listed",
    ]
    list_filter = ["provider", "enabled", "can_edit", "can_generate", "listed"]
    search_fields = ["label", "model_id"]
    actions = ["reset_to_provider"]
    readonly_fields = [
        "provider",
        "model_id",
        "listed",
        "added_by_operator",
        "retired_reason",
        "synced",
        "operator_overrides",
    ]
    fieldsets = [
        (None, {"fields": ["provider", "model_id", "label", "enabled"]}),
        (
            "What it can do",
            {
                "fields": [
                    "can_edit",
                    "can_generate",
                    "supports_mask",
                    "max_images",
                    "max_prompt_length",
                    "sizes",
                    "shown_parameters",
                    "parameters",
                    "pricing",
                ]
            },
        ),
        (
            "From the provider",
            {
                "fields": [
                    "listed",
                    "added_by_operator",
                    "retired_reason",
                    "synced",
                    "operator_overrides",
                ]
            },
        ),
    ]

    def get_form(
        self,
        request: HttpRequest,
        obj: ImageModel | None = None,
        change: bool = False,
        **kwargs: Any,
    ) -> type[forms.ModelForm[ImageModel]]:
        if obj is None:
            kwargs["form"] = ImageModelAddForm
        return super().get_form(request, obj, change, **kwargs)

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return [(None, {"fields": ["provider", "model_id"]})]
        return super().get_fieldsets(request, obj)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return [] if obj is None else self.readonly_fields

    def save_model(self, request: HttpRequest, obj: ImageModel, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        report = catalog.provider_add_models(provider=obj.provider, model_ids=[obj.model_id])
        # The admin goes on to the saved row: hand it the one just made.
        added = ImageModel.objects.get(provider=obj.provider, model_id=obj.model_id)
        obj.pk = added.pk
        obj.refresh_from_db()
        _report(self, request, report)

    @admin.action(description="Forget my edits and take the provider's values again")
    def reset_to_provider(self, request: HttpRequest, queryset: Any) -> None:
        for provider in Provider.objects.filter(models__in=queryset).distinct():
            model_ids = list(queryset.filter(provider=provider).values_list("model_id", flat=True))
            try:
                report = catalog.models_reset(provider=provider, model_ids=model_ids)
            except ProviderError as error:
                self.message_user(
                    request, f"{provider.name}: {error.message}", level=messages.ERROR
                )
            else:
                _report(self, request, report)

    @admin.display(boolean=True, description="Offered to users")
    def offered(self, model: ImageModel) -> bool:
        return model.is_usable

    @admin.display(description="Price")
    def price(self, model: ImageModel) -> str:
        return pricing.price_summary(model.pricing)

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).select_related("provider")


class JobImageInline(admin.TabularInline[JobImage, Job]):
    model = JobImage
    extra = 0
    fields = ("role", "position", "file_link", "width", "height", "format", "bytes")
    readonly_fields = fields

    @admin.display(description="File")
    def file_link(self, image: JobImage) -> str:
        # Media has no public URL: staff read files through the admin's own view.
        url = reverse("admin:editor_job_image", args=[image.job_id, image.pk])
        return format_html('<a href="{}">{}</a>', url, image.file.name)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Job)
class JobAdmin(admin.ModelAdmin[Job]):
    list_display = ["id", "owner", "kind", "model_label", "status", "created", "finished"]
    list_filter = ["status", "kind", "provider_name"]
    search_fields = ["id", "prompt", "owner__username"]
    raw_id_fields = ["owner", "parent", "image_model"]
    inlines = [JobImageInline]
    list_select_related = ["owner"]

    def get_urls(self) -> list[URLPattern]:
        image = path(
            "<uuid:job_id>/images/<uuid:image_id>/",
            self.admin_site.admin_view(self.image_view),
            name="editor_job_image",
        )
        return [image, *super().get_urls()]

    def image_view(
        self, request: HttpRequest, job_id: uuid.UUID, image_id: uuid.UUID
    ) -> HttpResponseBase:
        """A job's file for staff who may view the job (the only way staff read
        other users' files: the public file views answer their owner only)."""
        job = self.get_object(request, str(job_id))
        if job is None or not self.has_view_permission(request, job):
            raise Http404("No such job.")
        return media.image_response(get_object_or_404(JobImage, pk=image_id, job_id=job.pk))


class UserChangeFormUniqueEmail(UserChangeForm[User]):
    def clean_email(self) -> str:
        return check_email_available(self.cleaned_data.get("email") or "", user_pk=self.instance.pk)


# One account per e-mail address, here too (the database refuses a second one).
admin.site.unregister(User)


class UserLimitsInline(admin.StackedInline[UserLimits, User]):
    model = UserLimits
    can_delete = False
    verbose_name = "limits (empty fields: the user's groups' or the site default)"


@admin.register(User)
class DarkroomUserAdmin(UserAdmin[User]):
    form = UserChangeFormUniqueEmail
    inlines = [UserLimitsInline]


# --- Limits and model access ------------------------------------------------------------


class GroupPolicyInline(admin.StackedInline[GroupPolicy, Group]):
    model = GroupPolicy
    can_delete = False
    filter_horizontal = ("providers", "image_models")
    # One row per group: Django heads it with the singular name.
    verbose_name = (
        "limits and model access (no provider and no model chosen: members see every model)"
    )


admin.site.unregister(Group)


@admin.register(Group)
class DarkroomGroupAdmin(GroupAdmin):
    inlines = [GroupPolicyInline]


@admin.register(SiteLimits)
class SiteLimitsAdmin(admin.ModelAdmin[SiteLimits]):
    """One row: the list opens it directly, and it is never added or deleted."""

    fieldsets = (
        (
            None,
            {
                "description": "Every user's limits unless their groups or their own limits "
                "say otherwise. An empty field takes its environment variable "
                "(DARKROOM_MONTHLY_LIMIT, DARKROOM_DAILY_LIMIT, DARKROOM_MAX_ACTIVE_JOBS, "
                "DARKROOM_JOBS_PER_MINUTE, DARKROOM_UNPRICED_MODELS); with that empty too, "
                "there is no limit.",
                "fields": (
                    "monthly_limit",
                    "daily_limit",
                    "max_active_jobs",
                    "jobs_per_minute",
                    "unpriced_policy",
                    "unpriced_price",
                ),
            },
        ),
    )

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponseRedirect:
        row = SiteLimits.current()
        return HttpResponseRedirect(reverse("admin:editor_sitelimits_change", args=[row.pk]))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: SiteLimits | None = None) -> bool:
        return False


class InviteAddForm(forms.ModelForm[Invite]):
    expires_days = forms.FloatField(
        initial=invites.DEFAULT_EXPIRES_DAYS,
        min_value=0.01,
        max_value=365,
        label="Works for (days)",
    )

    class Meta:
        model = Invite
        fields = ["note"]


@admin.register(Invite)
class InviteAdmin(admin.ModelAdmin[Invite]):
    """Staff create invites here; the link is shown once, on creation."""

    list_display = ["__str__", "created", "expires", "used", "used_by", "created_by"]
    readonly_fields = ["created", "expires", "used", "used_by", "created_by"]

    def get_form(
        self, request: HttpRequest, obj: Invite | None = None, change: bool = False, **kwargs: Any
    ) -> Any:
        if obj is None:
            kwargs["form"] = InviteAddForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request: HttpRequest, obj: Invite | None = None) -> Any:
        return ["note", "expires_days"] if obj is None else ["note", *self.readonly_fields]

    def get_readonly_fields(self, request: HttpRequest, obj: Invite | None = None) -> Any:
        return [] if obj is None else self.readonly_fields

    def save_model(self, request: HttpRequest, obj: Invite, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        created = invites.invite_create(
            created_by=request.user,  # type: ignore[arg-type]
            expires_days=form.cleaned_data["expires_days"],
            note=form.cleaned_data["note"],
        )
        # The admin goes on with this object (its change link, its message).
        obj.pk, obj.token_hash, obj.expires = (
            created.invite.pk,
            created.invite.token_hash,
            created.invite.expires,
        )
        messages.warning(
            request,
            format_html(
                "Invite link (shown only now; copy it): <code>{}</code>",
                request.build_absolute_uri(created.path),
            ),
        )


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin[ApiToken]):
    """Every user's image API tokens; staff revoke them, never read a secret
    (only its hash is stored)."""

    list_display = ("name", "owner", "prefix_shown", "created", "last_used", "revoked")
    list_filter = ("revoked",)
    search_fields = ("name", "prefix", "owner__username")
    list_select_related = ("owner",)
    readonly_fields = ("owner", "name", "prefix", "created", "last_used", "revoked")
    exclude = ("secret_hash",)
    actions = ["revoke_tokens"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        # A secret is shown once to its owner: users make tokens on their
        # account page, operators with `manage.py apitoken create`.
        return False

    @admin.display(description="Prefix")
    def prefix_shown(self, token: ApiToken) -> str:
        return f"{token.prefix}…"

    @admin.action(description="Revoke the selected tokens")
    def revoke_tokens(self, request: HttpRequest, queryset: Any) -> None:
        revoked = sum(tokens.token_revoke(token=token) for token in queryset)
        self.message_user(request, f"Revoked {revoked} token(s).", messages.SUCCESS)
