"""Validation of what users send. Nothing here writes a file or a row."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.contrib.auth.forms import UserCreationForm
from django.contrib.auth.models import User
from django.core.files.uploadedfile import UploadedFile
from django.forms.utils import ErrorDict
from django.http import Http404
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.html import format_html

from editor import compositing, imaging, limits, parameters, pricing, search, selectors
from editor.models import ImageModel, ImageRole, Job, JobImage, JobKind, JobStatus


@dataclass(frozen=True)
class ValidatedImage:
    data: bytes
    info: imaging.ImageInfo
    # Made from the same decode as the check, when the image was uploaded.
    thumbnail: bytes | None = None
    # It had more frames; only the first is kept.
    animated: bool = False
    # The EXIF orientation ``data`` still carries: a phone photo is stored as
    # received and turned upright by the job's worker (``media.input_upright``).
    orientation: int = 1


@dataclass(frozen=True)
class ValidatedMask:
    canonical: bytes
    convention: imaging.MaskConvention
    info: imaging.ImageInfo


def pluralize(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleImageField(forms.FileField):
    widget = MultipleFileInput

    def clean(self, data: Any, initial: Any = None) -> list[UploadedFile]:
        files = data if isinstance(data, list | tuple) else ([data] if data else [])
        return [super(MultipleImageField, self).clean(item, initial) for item in files]


def canonical_id(value: Any) -> str | None:
    """``value`` as the lower-case UUID the app's URLs and ids use, or None."""
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        return None


class StoredImagesField(forms.Field):
    """Ids of images the user already has in Darkroom, in the order sent."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value: Any) -> list[str]:
        if not value:
            return []
        items = value if isinstance(value, list | tuple) else [value]
        ids = [canonical_id(item) for item in items]
        if None in ids:
            raise forms.ValidationError("One of the chosen images was not found.")
        return [image_id for image_id in ids if image_id is not None]


class DefaultOnCheckbox(forms.CheckboxInput):
    """A checkbox that is on unless the form it was shown in was sent with it off.

    An unticked checkbox sends nothing, which a plain checkbox cannot tell
    from a client that never showed it; a hidden marker beside it can.
    """

    def marker(self, name: str) -> str:
        return f"{name}-shown"

    def render(self, name: str, value: Any, attrs: Any = None, renderer: Any = None) -> Any:
        box = super().render(name, value, attrs, renderer)
        return box + format_html('<input type="hidden" name="{}" value="1">', self.marker(name))

    def value_from_datadict(self, data: Any, files: Any, name: str) -> bool:
        if self.marker(name) not in data and name not in data:
            return True
        return bool(super().value_from_datadict(data, files, name))


class ModelChoiceWithProvider(forms.ModelChoiceField):
    # The model the form already read from this field's queryset (see
    # JobForm._selected_model): cleaning the same choice takes no query.
    chosen: ImageModel | None = None

    def label_from_instance(self, obj: Any) -> str:
        return obj.display_name

    def to_python(self, value: Any) -> Any:
        chosen = self.chosen
        if chosen is not None and (value is chosen or str(value) == str(chosen.pk)):
            return chosen
        return super().to_python(value)


def read_upload(upload: UploadedFile) -> bytes:
    """The bytes of one upload, or ValidationError if it is over the size limit."""
    limit = settings.DARKROOM_MAX_UPLOAD_BYTES
    if upload.size is not None and upload.size > limit:
        raise forms.ValidationError(
            f"“{upload.name or 'file'}” is {filesizeformat(upload.size)}; "
            f"the limit is {filesizeformat(limit)}."
        )
    return upload.read()


def read_image(upload: UploadedFile) -> ValidatedImage:
    """Read one upload and make it what Darkroom stores (upright, first frame,
    plain mode; see ``imaging.prepare_image``), or raise ValidationError."""
    data = read_upload(upload)
    try:
        prepared = imaging.prepare_image(
            data,
            max_pixels=settings.DARKROOM_MAX_IMAGE_PIXELS,
            thumbnail_size=settings.DARKROOM_THUMBNAIL_SIZE,
            turn_later=True,
        )
    except imaging.ImageRejectedError as exc:
        raise forms.ValidationError(f"“{upload.name or 'file'}”: {exc}") from exc
    return ValidatedImage(
        data=prepared.data,
        info=prepared.info,
        thumbnail=prepared.thumbnail,
        animated=prepared.animated,
        orientation=prepared.orientation,
    )


def read_stored_image(image: JobImage) -> ValidatedImage:
    """The bytes of one of the user's stored images.

    It was decoded and measured when it was stored, so its row describes it;
    only the checksum is compared, to notice a file changed in storage.
    """
    with image.file.open("rb") as handle:
        data = handle.read()
    info = imaging.ImageInfo(
        width=image.width,
        height=image.height,
        format=image.format,
        bytes=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
    )
    if info.sha256 != image.sha256:
        raise forms.ValidationError(
            "A stored image has changed since it was saved; upload it again."
        )
    return ValidatedImage(data=data, info=info, orientation=image.orientation)


# Roles a user may start a new job from: their inputs and results (not masks).
REUSABLE_ROLES = (ImageRole.INPUT, ImageRole.RESULT)


def prefill(*, user: Any, query: Any) -> dict[str, Any]:
    """Initial editor values from ``?from_job=`` (run again) or ``?from_image=&parent=``.

    Every id goes through the user-scoped selectors, so another user's job or
    image is simply not found (404), never shown.
    """
    initial: dict[str, Any] = {}
    if query.get("from_job"):
        job = selectors.job_for_user(user=user, job_id=query["from_job"])
        images = sorted(job.images.all(), key=lambda image: image.position)
        initial.update(
            {
                "prompt": job.prompt,
                "image_model": job.image_model_id,
                "source_image": [str(i.pk) for i in images if i.role == ImageRole.INPUT],
                **job.params,
            }
        )
        mask = next((image for image in images if image.role == ImageRole.MASK), None)
        if mask is not None:
            initial["source_mask"] = str(mask.pk)
        if job.parent_id:
            initial["parent"] = str(job.parent_id)
    if query.get("from_image"):
        image = selectors.image_for_user(user=user, image_id=query["from_image"])
        if image.role not in REUSABLE_ROLES:
            raise Http404("No such image.")
        initial["source_image"] = [str(image.pk)]
        initial.pop("source_mask", None)
        if image.job.image_model_id and "image_model" not in initial:
            initial["image_model"] = image.job.image_model_id
    if query.get("parent"):
        initial["parent"] = str(selectors.job_for_user(user=user, job_id=query["parent"]).pk)
    return initial


class JobForm(forms.Form):
    # Declared before ``images`` and ``mask`` so they are cleaned first.
    source_image = StoredImagesField(required=False)
    image_order = forms.CharField(required=False, widget=forms.HiddenInput)
    source_mask = forms.UUIDField(
        required=False,
        widget=forms.HiddenInput,
        error_messages={"invalid": "The earlier mask this job starts from was not found."},
    )
    parent = forms.UUIDField(
        required=False,
        widget=forms.HiddenInput,
        error_messages={"invalid": "The earlier job this continues was not found."},
    )
    images = MultipleImageField(
        required=False,
        label="Images",
        help_text="PNG, JPEG, WebP or GIF. Leave empty to generate an image from the prompt.",
        widget=MultipleFileInput(attrs={"accept": "image/png,image/jpeg,image/webp,image/gif"}),
    )
    mask = forms.FileField(
        required=False,
        label="Mask (optional)",
        help_text="The same size as the first image; transparent or white marks the area "
        "to change.",
        widget=forms.ClearableFileInput(attrs={"accept": "image/png,image/webp"}),
    )
    keep_outside_mask = forms.BooleanField(
        required=False,
        initial=True,
        label="Keep everything outside the mask",
        help_text="Darkroom puts your original pixels back outside the mask, at full "
        "resolution, whatever the model did there; the provider's raw output is kept too.",
        widget=DefaultOnCheckbox,
    )
    # Set by the editor's outpainting: where the original image sits inside
    # the extended first image ("x,y,width,height"), so only its pixels are
    # protected outside the mask.
    frame = forms.CharField(required=False, max_length=100, widget=forms.HiddenInput)
    prompt = forms.CharField(
        label="Prompt",
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "make it black and white"}),
    )
    image_model = ModelChoiceWithProvider(
        queryset=ImageModel.objects.none(),
        label="Model",
        empty_label=None,
        error_messages={
            "invalid_choice": limits.MODEL_NOT_AVAILABLE,
        },
    )

    def __init__(
        self,
        *args: Any,
        user: Any = None,
        refused_upload: object | None = None,
        image_model: ImageModel | None = None,
        **kwargs: Any,
    ) -> None:
        """``image_model``: the chosen model, when the caller has already
        read it from ``ImageModel.objects.available_to(user)``."""
        super().__init__(*args, **kwargs)
        # A file passed the size limit while the request was read: the form
        # holds only the fields read before it and says that, nothing else.
        self.refused_upload = refused_upload
        # Stored images and parents are looked up as this user only.
        self.user = user
        field = self.fields["image_model"]
        assert isinstance(field, ModelChoiceWithProvider)
        # Only the models this user's groups let them see, so a hidden one is
        # refused with the same words as a switched-off one.
        field.queryset = ImageModel.objects.available_to(user).order_by("provider__name", "label")
        self.selected_model = field.chosen = image_model or self._selected_model(field.queryset)
        if self.selected_model is not None:
            self.fields.update(
                parameters.form_fields(
                    self.selected_model.parameters, model_label=self.selected_model.label
                )
            )
            # The editor shows a parameter only in the modes (edit, generate) it applies to.
            for name, limits in self.selected_model.parameters.items():
                if name in self.fields and limits.get("modes"):
                    self.fields[name].widget.attrs["data-modes"] = " ".join(limits["modes"])
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
        if self.is_bound:
            return None
        return selectors.default_model(user=self.user, models=list(queryset))

    @property
    def parameter_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.fields if name in parameters.PARAMETERS]

    @property
    def kind(self) -> str:
        return JobKind.EDIT if self.validated_images else JobKind.GENERATE

    @property
    def source_items(self) -> list[JobImage]:
        """The user's stored images this form starts from, for previews."""
        ids = (
            self.data.getlist("source_image")
            if self.is_bound and hasattr(self.data, "getlist")
            else self.initial.get("source_image", [])
        )
        items = []
        for image_id in ids:
            try:
                items.append(self._stored_image(image_id, REUSABLE_ROLES))
            except forms.ValidationError:
                continue
        return items

    def _stored_image(self, image_id: str, roles: tuple[str, ...]) -> JobImage:
        image = None
        if self.user is not None:
            try:
                image = selectors.image_for_user(user=self.user, image_id=image_id)
            except Http404:
                image = None
        if image is None or image.role not in roles:
            raise forms.ValidationError("One of the chosen images was not found.")
        return image

    def _ordered_inputs(self, uploads: list[UploadedFile]) -> list[str | UploadedFile]:
        """Stored ids and uploads in the order the user arranged them.

        ``image_order`` lists a stored image's id or ``upload`` for the next
        uploaded file; without it, stored images come first.
        """
        stored: list[str] = self.cleaned_data.get("source_image") or []
        order = [
            entry if entry == "upload" else (canonical_id(entry) or entry)
            for entry in self.cleaned_data.get("image_order", "").split(",")
            if entry
        ]
        count = max(len(order), len(stored) + len(uploads))
        if count > settings.DARKROOM_MAX_INPUT_IMAGES:
            # Checked before matching anything, so a huge list costs nothing.
            raise forms.ValidationError(
                f"{count} images chosen; at most {settings.DARKROOM_MAX_INPUT_IMAGES} "
                "can be edited together."
            )
        if not order:
            return [*stored, *uploads]
        remaining = list(uploads)
        items: list[str | UploadedFile] = []
        for entry in order:
            if entry == "upload":
                if not remaining:
                    raise forms.ValidationError("The image order names more uploads than sent.")
                items.append(remaining.pop(0))
            elif entry in stored:
                items.append(entry)
            else:
                raise forms.ValidationError("The image order names an image that was not sent.")
        if remaining or len([item for item in items if isinstance(item, str)]) != len(stored):
            raise forms.ValidationError("The image order does not match the images sent.")
        return items

    def clean_images(self) -> list[UploadedFile]:
        uploads: list[UploadedFile] = self.cleaned_data["images"]
        items = self._ordered_inputs(uploads)
        errors: list[forms.ValidationError] = []
        for item in items:
            try:
                if isinstance(item, str):
                    stored = self._stored_image(item, REUSABLE_ROLES)
                    self.validated_images.append(read_stored_image(stored))
                else:
                    self.validated_images.append(read_image(item))
            except forms.ValidationError as exc:
                errors.append(exc)
        if errors:
            raise forms.ValidationError(errors)
        return uploads

    def clean_parent(self) -> Job | None:
        parent_id = self.cleaned_data.get("parent")
        if not parent_id:
            return None
        try:
            return selectors.job_for_user(user=self.user, job_id=parent_id)
        except Http404:
            raise forms.ValidationError("The earlier job this continues was not found.") from None

    def _mask_source(self) -> tuple[str, bytes] | None:
        """The uploaded mask, else the stored mask of an earlier job (run again),
        as (how messages name it, bytes)."""
        upload: UploadedFile | None = self.cleaned_data.get("mask")
        if upload:
            return f"“{upload.name or 'mask'}”", read_upload(upload)
        stored: JobImage | None = self.cleaned_data.get("source_mask")
        if stored is not None:
            return "The earlier mask", read_stored_image(stored).data
        return None

    def clean_source_mask(self) -> JobImage | None:
        mask_id = self.cleaned_data.get("source_mask")
        if mask_id is None:
            return None
        try:
            return self._stored_image(str(mask_id), (ImageRole.MASK,))
        except forms.ValidationError:
            raise forms.ValidationError(
                "The earlier mask this job starts from was not found."
            ) from None

    @property
    def source_mask_id(self) -> str | None:
        """The earlier mask the painter starts from, once checked to be the user's."""
        if not self.is_bound:
            return canonical_id(self.initial.get("source_mask"))
        mask = getattr(self, "cleaned_data", {}).get("source_mask")
        return str(mask.pk) if isinstance(mask, JobImage) else None

    def full_clean(self) -> None:
        if self.refused_upload is None:
            super().full_clean()
            return
        self._errors = ErrorDict()
        self.cleaned_data = {}
        self.add_error("images", str(self.refused_upload))

    def clean_mask(self) -> UploadedFile | None:
        upload: UploadedFile | None = self.cleaned_data.get("mask")
        source = self._mask_source()
        if source is None:
            return None
        if not self.validated_images:
            if self.errors.get("images"):
                return upload
            raise forms.ValidationError("A mask needs an image to apply to.")
        name, data = source
        try:
            # One decode: checked, turned upright, read in either convention.
            mask = imaging.canonical_mask(data, max_pixels=settings.DARKROOM_MAX_IMAGE_PIXELS)
        except imaging.ImageRejectedError as exc:
            raise forms.ValidationError(f"{name}: {exc}") from exc
        first = self.validated_images[0].info
        if mask.info.size != first.size:
            raise forms.ValidationError(
                f"The mask is {mask.info.width}×{mask.info.height}; it must be the same "
                f"size as the first image ({first.width}×{first.height})."
            )
        if mask.empty:
            raise forms.ValidationError(
                "The mask marks nothing to change: paint the area to change (transparent or white)."
            )
        self.validated_mask = ValidatedMask(
            canonical=mask.png, convention=mask.convention, info=mask.info
        )
        return upload

    def clean_frame(self) -> compositing.Box | None:
        value: str = self.cleaned_data.get("frame", "").strip()
        if not value:
            return None
        if not self.validated_images:
            if self.errors.get("images"):
                return None
            raise forms.ValidationError("A frame needs an image to apply to.")
        try:
            return compositing.parse_frame(value, image_size=self.validated_images[0].info.size)
        except compositing.FrameError as exc:
            raise forms.ValidationError(str(exc)) from exc

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
        for message in parameters.conflicts(cleaned):
            self.add_error(None, message)
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
        values = parameters.clean_values(self.cleaned_data, self.mode_parameters(model))
        if self.validated_mask is not None:
            # Darkroom's own, not the provider's: adapters send only the
            # parameters they know.
            values["keep_outside_mask"] = bool(self.cleaned_data.get("keep_outside_mask"))
        frame = self.cleaned_data.get("frame")
        if frame is not None:
            values["frame"] = str(frame)
        return values

    def estimate(self) -> pricing.Estimate | None:
        """What the validated job should cost."""
        return pricing.estimate(
            pricing=self.cleaned_data["image_model"].pricing,
            params=self.job_parameters(),
            input_images=len(self.validated_images),
            prompt=self.cleaned_data["prompt"],
        )


def estimate_for(
    *, model: ImageModel, values: Any, input_images: int, prompt_length: int = 0
) -> pricing.Estimate | None:
    """The editor's live estimate, from the fields as they stand (unsent).

    A field that does not validate yet (half-typed) counts as its default.
    """
    mode = JobKind.EDIT if input_images else JobKind.GENERATE
    limits = {
        name: spec
        for name, spec in model.parameters.items()
        if mode in spec.get("modes", [JobKind.EDIT, JobKind.GENERATE])
    }
    fields = parameters.form_fields(limits, model_label=model.label)
    cleaned: dict[str, Any] = {}
    for name, field in fields.items():
        try:
            cleaned[name] = field.clean(values.get(name))
        except forms.ValidationError:
            cleaned[name] = None
    return pricing.estimate(
        pricing=model.pricing,
        params=parameters.clean_values(cleaned, limits),
        input_images=input_images,
        prompt="x" * max(0, prompt_length),
    )


EMAIL_TAKEN = (
    "Another account already uses this e-mail address. Log in to it, or reset its password "
    "from the login page."
)


def check_email_available(email: str, *, user_pk: int | None = None) -> str:
    """``email`` if no other account uses it (any case), else ValidationError.

    The database enforces the same with a unique index on lower(email)
    (migration editor 0004); this check gives the clear message first.
    """
    taken = User.objects.filter(email__iexact=email)
    if user_pk is not None:
        taken = taken.exclude(pk=user_pk)
    if email and taken.exists():
        raise forms.ValidationError(EMAIL_TAKEN, code="email_taken")
    return email


class SignupForm(UserCreationForm[User]):
    class Meta:
        model = User
        fields = ("username", "email")

    def clean_email(self) -> str:
        return check_email_available(self.cleaned_data.get("email") or "")


class HistoryFilterForm(forms.Form):
    """The history's search and filters, read from the query string (GET)."""

    MAX_WORDS = 8

    q = forms.CharField(required=False, max_length=200, label="Search prompts")
    model = forms.TypedChoiceField(required=False, coerce=int, empty_value=None, label="Model")
    provider = forms.ChoiceField(required=False, label="Provider")
    status = forms.ChoiceField(
        required=False, choices=[("", "Any status"), *JobStatus.choices], label="Status"
    )
    kind = forms.ChoiceField(
        required=False, choices=[("", "Any kind"), *JobKind.choices], label="Kind"
    )
    date_from = forms.DateField(
        required=False,
        label="From",
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"invalid": "Enter the start date as YYYY-MM-DD."},
    )
    date_to = forms.DateField(
        required=False,
        label="To",
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"invalid": "Enter the end date as YYYY-MM-DD."},
    )
    view = forms.ChoiceField(
        required=False, choices=[("grid", "Grid"), ("list", "List")], widget=forms.HiddenInput
    )
    after = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(
        self,
        data: Any = None,
        *,
        models: list[tuple[int, str]],
        providers: list[str],
        **kwargs: Any,
    ) -> None:
        super().__init__(data, **kwargs)
        model_field = self.fields["model"]
        provider_field = self.fields["provider"]
        assert isinstance(model_field, forms.ChoiceField)
        assert isinstance(provider_field, forms.ChoiceField)
        model_field.choices = [("", "Any model"), *models]
        provider_field.choices = [("", "Any provider")] + [(p, p) for p in providers]

    def clean_q(self) -> str:
        query: str = self.cleaned_data["q"].strip()
        if query and not search.words_of(query):
            raise forms.ValidationError("Search for at least one word (letters or digits).")
        if len(search.words_of(query)) > self.MAX_WORDS:
            raise forms.ValidationError(f"Search for at most {self.MAX_WORDS} words.")
        return query

    def clean_after(self) -> str:
        cursor: str = self.cleaned_data["after"]
        if cursor and selectors.decode_cursor(cursor) is None:
            raise forms.ValidationError("This page link is broken; start again from the top.")
        return cursor

    def clean(self) -> dict[str, Any] | None:
        cleaned = super().clean()
        start, end = self.cleaned_data.get("date_from"), self.cleaned_data.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", "The end date is before the start date.")
        return cleaned

    def history_filters(self) -> selectors.HistoryFilters:
        data = self.cleaned_data
        zone = timezone.get_current_timezone()

        def day_start(day: date) -> datetime:
            return datetime.combine(day, time.min, tzinfo=zone)

        return selectors.HistoryFilters(
            words=tuple(search.words_of(data["q"])),
            image_model_id=data["model"],
            provider=data["provider"],
            status=data["status"],
            kind=data["kind"],
            created_from=day_start(data["date_from"]) if data["date_from"] else None,
            created_before=(
                day_start(data["date_to"] + timedelta(days=1)) if data["date_to"] else None
            ),
        )

    def query_string(self, **changes: str) -> str:
        """The filters as a query string (no cursor), with ``changes`` applied."""
        values = {name: str(self.data.get(name, "")) for name in self.fields if name != "after"}
        values.update(changes)
        return urlencode({name: value for name, value in values.items() if value})
