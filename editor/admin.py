from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest

from editor.models import ImageModel, Job, JobImage, Provider


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
    fields = ("role", "position", "file", "width", "height", "format", "bytes")
    readonly_fields = fields

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
