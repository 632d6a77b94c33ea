"""Validation of what users send. Nothing here writes a file or a row."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth.forms import UserCreationForm
from django.contrib.auth.models import User
from django.core.files.uploadedfile import UploadedFile
from django.template.defaultfilters import filesizeformat

from editor import imaging, parameters
from editor.models import ImageModel, JobKind


@dataclass(frozen=True)
class ValidatedImage:
    data: bytes
    info: imaging.ImageInfo


@dataclass(frozen=True)
class ValidatedMask:
    canonical: bytes
    convention: imaging.MaskConvention


def pluralize(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleImageField(forms.FileField):
    widget = MultipleFileInput

    def clean(self, data: Any, initial: Any = None) -> list[UploadedFile]:
        files = data if isinstance(data, list | tuple) else ([data] if data else [])
        return [super(MultipleImageField, self).clean(item, initial) for item in files]


class ModelChoiceWithProvider(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return obj.display_name


def read_image(upload: UploadedFile) -> ValidatedImage:
    """Read and decode one upload, or raise ValidationError with the reason."""
    limit = settings.DARKROOM_MAX_UPLOAD_BYTES
    name = upload.name or "file"
    if upload.size is not None and upload.size > limit:
        raise forms.ValidationError(
            f"“{name}” is {filesizeformat(upload.size)}; the limit is {filesizeformat(limit)}."
        )
    data = upload.read()
    try:
        info = imaging.inspect_image(data, max_pixels=settings.DARKROOM_MAX_IMAGE_PIXELS)
    except imaging.ImageRejectedError as exc:
        raise forms.ValidationError(f"“{name}”: {exc}") from exc
    return ValidatedImage(data=data, info=info)


class JobForm(forms.Form):
    images = MultipleImageField(
        required=False,
        label="Images",
        help_text="PNG, JPEG or WebP. Leave empty to generate an image from the prompt.",
        widget=MultipleFileInput(attrs={"accept": "image/png,image/jpeg,image/webp"}),
    )
    mask = forms.FileField(
        required=False,
        label="Mask (optional)",
        help_text="The same size as the first image; transparent or white marks the area "
        "to change.",
        widget=forms.ClearableFileInput(attrs={"accept": "image/png,image/webp"}),
    )
    prompt = forms.CharField(
        label="Prompt",
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "make it black and white"}),
    )
    image_model = ModelChoiceWithProvider(
        queryset=ImageModel.objects.none(), label="Model", empty_label=None
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["image_model"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = ImageModel.objects.usable().order_by("provider__name", "label")
        self.selected_model = self._selected_model(field.queryset)
        if self.selected_model is not None:
            self.fields.update(parameters.form_fields(self.selected_model.parameters))
        self.validated_images: list[ValidatedImage] = []
        self.validated_mask: ValidatedMask | None = None

    def _selected_model(self, queryset: Any) -> ImageModel | None:
        key = self.data.get("image_model") if self.is_bound else self.initial.get("image_model")
        if isinstance(key, ImageModel):
            return key
        if key:
            try:
                return queryset.get(pk=key)
            except (ImageModel.DoesNotExist, ValueError, TypeError):
                return None
        return queryset.first()

    @property
    def parameter_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.fields if name in parameters.PARAMETERS]

    @property
    def kind(self) -> str:
        return JobKind.EDIT if self.validated_images else JobKind.GENERATE

    def clean_images(self) -> list[UploadedFile]:
        uploads: list[UploadedFile] = self.cleaned_data["images"]
        if len(uploads) > settings.DARKROOM_MAX_INPUT_IMAGES:
            raise forms.ValidationError(
                f"{len(uploads)} images chosen; at most {settings.DARKROOM_MAX_INPUT_IMAGES} "
                "can be edited together."
            )
        errors: list[forms.ValidationError] = []
        for upload in uploads:
            try:
                self.validated_images.append(read_image(upload))
            except forms.ValidationError as exc:
                errors.append(exc)
        if errors:
            raise forms.ValidationError(errors)
        return uploads

    def clean_mask(self) -> UploadedFile | None:
        upload: UploadedFile | None = self.cleaned_data.get("mask")
        if not upload:
            return None
        image = read_image(upload)
        if not self.validated_images:
            if self.errors.get("images"):
                return upload
            raise forms.ValidationError("A mask needs an image to apply to.")
        first = self.validated_images[0].info
        if image.info.size != first.size:
            raise forms.ValidationError(
                f"The mask is {image.info.width}×{image.info.height}; it must be the same "
                f"size as the first image ({first.width}×{first.height})."
            )
        canonical, convention = imaging.canonical_mask(image.data)
        if imaging.mask_is_empty(canonical):
            raise forms.ValidationError(
                "The mask marks nothing to change: paint the area to change (transparent or white)."
            )
        self.validated_mask = ValidatedMask(canonical=canonical, convention=convention)
        return upload

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        model = cleaned.get("image_model")
        if model is None:
            return cleaned
        if self.validated_images:
            self._check_edit(model)
        elif not self.errors.get("images") and not model.can_generate:
            self.add_error("images", f"{model.label} edits images: add at least one image.")
        prompt = cleaned.get("prompt", "")
        if len(prompt) > model.max_prompt_length:
            self.add_error(
                "prompt",
                f"The prompt is {len(prompt)} characters; {model.label} takes at most "
                f"{model.max_prompt_length}.",
            )
        unsupported = parameters.unsupported(
            {name for name, value in self.data.items() if value not in ("", None)},
            model.parameters,
        )
        if unsupported:
            raise forms.ValidationError(
                f"{model.label} does not support: {', '.join(unsupported)}."
            )
        return cleaned

    def _check_edit(self, model: ImageModel) -> None:
        if not model.can_edit:
            self.add_error("images", f"{model.label} only generates from text: remove the images.")
            return
        if len(self.validated_images) > model.max_images:
            self.add_error(
                "images",
                f"{model.label} takes at most {pluralize(model.max_images, 'image')}; "
                f"{len(self.validated_images)} chosen.",
            )
        if self.validated_mask and not model.supports_mask:
            self.add_error("mask", f"{model.label} does not take a mask.")

    def mode_parameters(self, model: ImageModel) -> dict[str, dict[str, Any]]:
        """The model's parameters that apply to this form's mode (edit or generate)."""
        mode = self.kind
        return {
            name: limits
            for name, limits in model.parameters.items()
            if mode in limits.get("modes", [JobKind.EDIT, JobKind.GENERATE])
        }

    def job_parameters(self) -> dict[str, Any]:
        model = self.cleaned_data["image_model"]
        return parameters.clean_values(self.cleaned_data, self.mode_parameters(model))


class SignupForm(UserCreationForm[User]):
    class Meta:
        model = User
        fields = ("username", "email")
