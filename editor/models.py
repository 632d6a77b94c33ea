"""Darkroom's rows: providers, the image models they offer, and jobs.

The job row is the source of truth for a job's life; Celery messages only say
"look at job X".
"""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models

from editor import crypto
from editor.providers.base import ProviderConfig


class ProviderKind(models.TextChoices):
    OFFLINE = "offline", "Offline demo (no AI)"
    OPENAI = "openai", "OpenAI gpt-image"
    DALLE2 = "dalle2", "DALL-E 2 contract"
    IMAGEROUTER = "imagerouter", "ImageRouter"
    NANOGPT = "nanogpt", "NanoGPT-style JSON router"


class Provider(models.Model):
    name = models.SlugField(max_length=64, unique=True)
    kind = models.CharField(max_length=20, choices=ProviderKind.choices)
    base_url = models.CharField(max_length=500, blank=True)
    # Encrypted with DARKROOM_ENCRYPTION_KEYS; read it through ``api_key``.
    api_key_encrypted = models.TextField(blank=True, editable=False)
    enabled = models.BooleanField(default=True)
    connect_timeout = models.FloatField(
        null=True, blank=True, help_text="Seconds; empty uses the site default."
    )
    deadline = models.FloatField(
        null=True,
        blank=True,
        help_text="Total seconds for one provider call; empty uses the site default.",
    )
    result_hosts = models.JSONField(
        default=list,
        blank=True,
        help_text="Extra hosts this provider's result URLs may point to (its own host is "
        "always allowed).",
    )
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def api_key(self) -> str:
        return crypto.decrypt(self.api_key_encrypted) if self.api_key_encrypted else ""

    @api_key.setter
    def api_key(self, value: str) -> None:
        self.api_key_encrypted = crypto.encrypt(value) if value else ""

    def config(self) -> ProviderConfig:
        return ProviderConfig(
            name=self.name,
            kind=self.kind,
            base_url=self.base_url.rstrip("/"),
            api_key=self.api_key,
            connect_timeout=self.connect_timeout or settings.DARKROOM_PROVIDER_CONNECT_TIMEOUT,
            deadline=self.deadline or settings.DARKROOM_PROVIDER_DEADLINE,
            result_hosts=tuple(self.result_hosts or ()),
        )


class ImageModelQuerySet(models.QuerySet["ImageModel"]):
    def usable(self) -> ImageModelQuerySet:
        """Models users may run: switched on, still offered by an enabled provider."""
        return self.filter(enabled=True, retired_reason="", provider__enabled=True).select_related(
            "provider"
        )

    def available_to(self, user: Any) -> ImageModelQuerySet:
        """The usable models this user may see and run: their groups decide.

        A group restricts when its policy names providers or models. A user in
        no restricting group sees every usable model; a user in one or more
        sees what any of them allows. Superusers see everything; anonymous
        visitors nothing (``None``, for code that acts for no user: everything).
        """
        usable = self.usable()
        if user is None or getattr(user, "is_superuser", False):
            return usable
        if not user.is_authenticated:
            return self.none()
        restricting = GroupPolicy.objects.filter(group__user=user).filter(
            models.Q(providers__isnull=False) | models.Q(image_models__isnull=False)
        )
        policy_ids = list(restricting.values_list("pk", flat=True).distinct())
        if not policy_ids:
            return usable
        by_provider = GroupPolicy.providers.through.objects.filter(grouppolicy__in=policy_ids)
        by_model = GroupPolicy.image_models.through.objects.filter(grouppolicy__in=policy_ids)
        return usable.filter(
            models.Q(provider__in=by_provider.values("provider"))
            | models.Q(pk__in=by_model.values("imagemodel"))
        )


class ImageModel(models.Model):
    """An image model one provider offers, with what it can do.

    ``parameters`` maps a parameter name (see ``editor.parameters``) to the
    constraints this model accepts, e.g. ``{"n": {"min": 1, "max": 10}}``.
    A parameter absent from the map is not supported by the model.

    Capabilities come from the provider's listing where it has one, our
    knowledge where it does not say, and the operator's edits above both:
    a field named in ``operator_overrides`` is never changed by a sync.
    """

    # The fields an operator may edit, which a sync then leaves alone.
    CAPABILITY_FIELDS = (
        "label",
        "can_edit",
        "can_generate",
        "supports_mask",
        "max_images",
        "max_prompt_length",
        "parameters",
        "pricing",
    )

    provider = models.ForeignKey(Provider, on_delete=models.CASCADE, related_name="models")
    model_id = models.CharField(max_length=200)
    label = models.CharField(max_length=200)
    enabled = models.BooleanField(default=True)
    can_edit = models.BooleanField(default=True)
    can_generate = models.BooleanField(default=False)
    supports_mask = models.BooleanField(default=False)
    max_images = models.PositiveSmallIntegerField(default=1)
    max_prompt_length = models.PositiveIntegerField(default=1000)
    parameters = models.JSONField(default=dict, blank=True)
    pricing = models.JSONField(default=dict, blank=True)
    synced = models.DateTimeField(null=True, blank=True)
    # Whether the provider's listing named it at the last sync; None for kinds
    # without a listing.
    listed = models.BooleanField(null=True, blank=True)
    # Added by id by an operator: kept when the provider does not list it.
    added_by_operator = models.BooleanField(default=False)
    # Set when the provider stopped offering it; users are not offered it and
    # past jobs keep their link.
    retired_reason = models.CharField(max_length=300, blank=True)
    operator_overrides = models.JSONField(default=list, blank=True)

    objects = ImageModelQuerySet.as_manager()

    class Meta:
        ordering = ["provider__name", "label"]
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "model_id"], name="unique_model_per_provider"
            )
        ]

    def __str__(self) -> str:
        return f"{self.label} · {self.provider.name}"

    @property
    def display_name(self) -> str:
        if self.provider.kind == ProviderKind.OFFLINE:
            return self.label
        return f"{self.label} ({self.provider.name})"

    @property
    def is_usable(self) -> bool:
        return self.enabled and not self.retired_reason and self.provider.enabled


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELED = "canceled", "Canceled"


FINAL_STATUSES = (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELED)


class JobStage(models.TextChoices):
    """Where a running job is, for the progress display."""

    QUEUED = "queued", "Waiting in the queue"
    PREPARING = "preparing", "Preparing the images"
    SENDING = "sending", "Sending to the provider"
    WAITING = "waiting", "Waiting for the provider"
    DOWNLOADING = "downloading", "Downloading the results"
    STORING = "storing", "Storing the results"
    DONE = "done", "Done"


class JobKind(models.TextChoices):
    EDIT = "edit", "Edit"
    GENERATE = "generate", "Generate"


class CostSource(models.TextChoices):
    PROVIDER = "provider", "reported by the provider"
    USAGE = "usage", "computed from token usage"
    LIST_PRICE = "list_price", "at the list price"


class Job(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="jobs"
    )
    kind = models.CharField(max_length=10, choices=JobKind.choices)
    # The model may be removed later; the job keeps what it ran on by name.
    image_model = models.ForeignKey(
        ImageModel, null=True, blank=True, on_delete=models.SET_NULL, related_name="jobs"
    )
    model_label = models.CharField(max_length=200)
    provider_name = models.CharField(max_length=64)
    prompt = models.TextField()
    params = models.JSONField(default=dict, blank=True)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children"
    )

    status = models.CharField(
        max_length=10, choices=JobStatus.choices, default=JobStatus.QUEUED, db_index=True
    )
    stage = models.CharField(max_length=12, choices=JobStage.choices, default=JobStage.QUEUED)
    created = models.DateTimeField(auto_now_add=True)
    started = models.DateTimeField(null=True, blank=True)
    sent = models.DateTimeField(null=True, blank=True)
    answered = models.DateTimeField(null=True, blank=True)
    finished = models.DateTimeField(null=True, blank=True)
    heartbeat = models.DateTimeField(null=True, blank=True)
    deliveries = models.PositiveSmallIntegerField(default=0)

    error_code = models.CharField(max_length=64, blank=True)
    error_message = models.TextField(blank=True)
    error_detail = models.JSONField(default=dict, blank=True)

    usage = models.JSONField(default=dict, blank=True)
    # What the run was expected to cost when it was submitted (None: unknown).
    estimated_cost = models.DecimalField(max_digits=12, decimal_places=6, null=True, blank=True)
    cost = models.DecimalField(max_digits=12, decimal_places=6, null=True, blank=True)
    # What the job holds of its owner's budget until its real cost is known:
    # the estimate, or the operator's assumed price for a model without one
    # (see editor/limits.py, which derives a user's spend from these rows).
    reserved = models.DecimalField(max_digits=12, decimal_places=6, default=0)
    cost_source = models.CharField(max_length=12, choices=CostSource.choices, blank=True)
    # What Darkroom did to fit the provider ("padded to a square", "mask: white
    # marks the area"), shown to the user beside the job.
    notices = models.JSONField(default=list, blank=True)
    result_deadline = models.DateTimeField(null=True, blank=True)
    # The provider's answer, saved the moment it arrives (before results are
    # decoded or downloaded), so a crash afterwards never loses a paid result.
    provider_response = models.JSONField(default=dict, blank=True)
    # Bytes of every file of the job, thumbnails included (added by
    # media.image_store), so a user's storage is one SUM over an index and
    # leaves with the job when it is deleted.
    stored_bytes = models.PositiveBigIntegerField(default=0)

    class Meta:
        ordering = ["-created", "-id"]
        indexes = [
            models.Index(fields=["owner", "-created", "-id"], name="job_owner_created"),
            models.Index(fields=["owner", "stored_bytes"], name="job_owner_storage"),
            models.Index(fields=["status", "heartbeat"], name="job_status_heartbeat"),
            # A user's queued and running jobs, counted at every submission.
            models.Index(
                fields=["owner"],
                condition=models.Q(status__in=["queued", "running"]),
                name="job_owner_active",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.id} ({self.status})"

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES

    @property
    def error(self) -> dict[str, Any] | None:
        if not self.error_code:
            return None
        return {"code": self.error_code, "message": self.error_message, "detail": self.error_detail}


class ImageRole(models.TextChoices):
    INPUT = "input", "Input"
    MASK = "mask", "Mask"
    SENT_MASK = "sent_mask", "Mask as sent"
    RESULT = "result", "Result"


def image_upload_to(instance: JobImage, filename: str) -> str:
    # Never the user's file name: a random name under the job's folder.
    extension = filename.rsplit(".", 1)[-1].lower() if "." in filename else "bin"
    return f"jobs/{instance.job_id}/{uuid.uuid4().hex}.{extension}"


class JobImage(models.Model):
    """Any image file of a job: an input, the mask, or a result."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="images")
    role = models.CharField(max_length=10, choices=ImageRole.choices)
    position = models.PositiveSmallIntegerField(default=0)
    file = models.FileField(upload_to=image_upload_to, max_length=300)
    thumbnail = models.FileField(upload_to=image_upload_to, max_length=300, blank=True)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    format = models.CharField(max_length=10)
    bytes = models.PositiveBigIntegerField()
    # Kept beside ``bytes`` so storage use is counted without asking the storage.
    thumbnail_bytes = models.PositiveIntegerField(default=0)
    sha256 = models.CharField(max_length=64)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["role", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["job", "role", "position"], name="unique_image_position"
            )
        ]

    def __str__(self) -> str:
        return f"{self.role} {self.position} of {self.job_id}"

    @property
    def content_type(self) -> str:
        return {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}.get(
            self.format, "application/octet-stream"
        )

    @property
    def extension(self) -> str:
        return {"PNG": "png", "JPEG": "jpg", "WEBP": "webp"}.get(self.format, "bin")


class JobWord(models.Model):
    """One distinct word of a job's prompt, so history search is an index walk.

    The owner and the job's ``created`` are copied here so that a search for a
    word reads the (owner, word, created, job) index newest first and stops
    after one page, on SQLite and PostgreSQL alike, instead of scanning every
    prompt of the user with LIKE.
    """

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="words", db_index=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    word = models.CharField(max_length=40)
    created = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["job", "word"], name="unique_job_word")]
        indexes = [
            models.Index(fields=["owner", "word", "-created", "-job"], name="jobword_search"),
        ]

    def __str__(self) -> str:
        return f"{self.word} in {self.job_id}"


# --- Limits and model access (editor/limits.py reads them) ---------------------


class UnpricedPolicy(models.TextChoices):
    """How a run of a model without a known price counts against a budget."""

    BLOCK = "block", "Refuse it while a budget applies"
    ALLOW = "allow", "Allow it, counting nothing until its real cost is known"
    ASSUME = "assume", "Count it at the assumed price below"


class LimitValues(models.Model):
    """Limit fields shared by the site default, a group and a user.

    Empty means "not set here": a user's empty field takes their groups'
    value, a group's the site default's, the site default's its environment
    variable (see README, "Budgets and fair use").
    """

    monthly_limit = models.DecimalField(
        "monthly limit (USD)",
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
    )
    daily_limit = models.DecimalField(
        "daily limit (USD)",
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
    )
    max_active_jobs = models.PositiveIntegerField(
        "most jobs queued or running at once", null=True, blank=True
    )
    jobs_per_minute = models.PositiveIntegerField(
        "most jobs submitted per minute", null=True, blank=True
    )

    class Meta:
        abstract = True


class SiteLimits(LimitValues):
    """The site-wide default limits: one row (pk 1), edited in the admin."""

    unpriced_policy = models.CharField(
        "models without a known price",
        max_length=10,
        choices=UnpricedPolicy.choices,
        blank=True,
        help_text="Empty: DARKROOM_UNPRICED_MODELS decides.",
    )
    unpriced_price = models.DecimalField(
        "assumed price per run (USD)",
        max_digits=12,
        decimal_places=6,
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
        help_text='Used when the choice above is "Count it at the assumed price".',
    )

    class Meta:
        verbose_name = "site-wide default limits"
        verbose_name_plural = "site-wide default limits"

    def __str__(self) -> str:
        return "Site-wide default limits"

    @classmethod
    def current(cls) -> SiteLimits:
        row, _ = cls.objects.get_or_create(pk=1)
        return row


class UserLimits(LimitValues):
    """One user's own limits, over their groups' and the site default."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="limits"
    )

    class Meta:
        verbose_name = "limits"
        verbose_name_plural = "limits"

    def __str__(self) -> str:
        return f"Limits of {self.user}"


class GroupPolicy(LimitValues):
    """A group's limits and which providers and models its members may use.

    With no provider and no model chosen, the group restricts nothing. A user
    in at least one restricting group sees only what those groups allow.
    """

    group = models.OneToOneField("auth.Group", on_delete=models.CASCADE, related_name="policy")
    providers = models.ManyToManyField(
        Provider,
        blank=True,
        related_name="group_policies",
        help_text="Every model of these providers is allowed.",
    )
    image_models = models.ManyToManyField(
        ImageModel,
        blank=True,
        related_name="group_policies",
        help_text="These models are allowed (beside those of the providers above).",
    )

    class Meta:
        verbose_name = "limits and model access"
        verbose_name_plural = "limits and model access"

    def __str__(self) -> str:
        return f"Limits and model access of {self.group}"


class RemovedJobSpend(models.Model):
    """What a deleted job had spent or still held of its owner's budget.

    Spend is summed from job rows; deleting a job must not give its money
    back, so its share stays here, dated as the job was.
    """

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    created = models.DateTimeField()
    amount = models.DecimalField(max_digits=12, decimal_places=6)

    class Meta:
        indexes = [models.Index(fields=["owner", "created"], name="removed_spend_owner_created")]

    def __str__(self) -> str:
        return f"{self.amount} of {self.owner_id} from {self.created:%Y-%m-%d}"
