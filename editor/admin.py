from __future__ import annotations

import uuid
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.forms import UserChangeForm
from django.contrib.auth.models import User
from django.http import Http404, HttpRequest
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html

from editor import media, services
from editor.forms import check_email_available
from editor.models import ImageModel, Job, JobImage, Provider
from editor.providers.base import ProviderError


class ProviderForm(forms.ModelForm[Provider]):
    # Write-only: the stored key is never rendered back into the page.
    new_api_key = forms.CharField(
        required=False,
        label="API key",
        widget=forms.PasswordInput(render_value=False),
        help_text="Leave empty to keep the current key.",
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


class ImageModelInline(admin.TabularInline[ImageModel, Provider]):
    model = ImageModel
    extra = 0
    fields = [
        "model_id",
        "label",
        "enabled",
        "can_edit",
        "can_generate",
        "supports_mask",
        "max_images",
    ]


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
                models = services.provider_sync_models(provider=provider)
            except ProviderError as error:
                # The message never carries the key (see providers.http).
                self.message_user(
                    request, f"{provider.name}: {error.message}", level=messages.ERROR
                )
            else:
                self.message_user(request, f"{provider.name}: {len(models)} model(s) synced.")

    @admin.display(boolean=True, description="API key set")
    def has_api_key(self, provider: Provider) -> bool:
        return bool(provider.api_key_encrypted)


@admin.register(ImageModel)
class ImageModelAdmin(admin.ModelAdmin[ImageModel]):
    list_display = [
        "label",
        "model_id",
        "provider",
        "enabled",
        "can_edit",
        "can_generate",
        "supports_mask",
    ]
    list_filter = ["provider", "enabled", "can_edit", "can_generate"]
    search_fields = ["label", "model_id"]


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


@admin.register(User)
class DarkroomUserAdmin(UserAdmin[User]):
    form = UserChangeFormUniqueEmail
