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
from editor.fields import JSONTextField
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
        policy_ids = _restricting_policy_ids(user)
        if not policy_ids:
            return usable
        by_provider = GroupPolicy.providers.through.objects.filter(grouppolicy__in=policy_ids)
        by_model = GroupPolicy.image_models.through.objects.filter(grouppolicy__in=policy_ids)
        return usable.filter(
            models.Q(provider__in=by_provider.values("provider"))
            | models.Q(pk__in=by_model.values("imagemodel"))
        )


def _restricting_policy_ids(user: Any) -> list[int]:
    """The user's groups' policies that restrict models, read once per user
    object: a submission asks three times (the API's lookup, the form, the
    admission), in one request. Kept on the user as Django keeps its
    permissions (``_perm_cache``): a user read again sees changed groups."""
    cached: list[int] | None = getattr(user, "_darkroom_model_policies", None)
    if cached is None:
        restricting = GroupPolicy.objects.filter(group__user=user).filter(
            models.Q(providers__isnull=False) | models.Q(image_models__isnull=False)
        )
        cached = list(restricting.values_list("pk", flat=True).distinct())
        user._darkroom_model_policies = cached
    return cached


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


class ApiToken(models.Model):
    """A user's key to Darkroom's image API (``/v1/``).

    Only a hash of the secret is kept: the secret is shown once, when the
    token is made. ``prefix`` (the secret's first characters) lets its owner
    recognise it in a list.
    """

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16)
    secret_hash = models.CharField(max_length=64, unique=True)
    created = models.DateTimeField(auto_now_add=True)
    last_used = models.DateTimeField(null=True, blank=True)
    revoked = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created", "-id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked is None


class JobSource(models.TextChoices):
    WEB = "web", "Editor"
    API = "api", "API"


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
    # Of a masked edit: the share (0..1) of the pixels fully outside the mask
    # that the provider changed, the highest among its results (see
    # editor.compositing). None when not measured.
    mask_leak = models.FloatField(null=True, blank=True)
    result_deadline = models.DateTimeField(null=True, blank=True)
    # The provider's answer, saved the moment it arrives (before results are
    # decoded or downloaded), so a crash afterwards never loses a paid result.
    # Text, not jsonb: see JSONTextField.
    provider_response = JSONTextField(default=dict, blank=True)
    # Bytes of every file of the job, thumbnails included (added by
    # media.image_store), so a user's storage is one SUM over an index and
    # leaves with the job when it is deleted.
    stored_bytes = models.PositiveBigIntegerField(default=0)
    # When the owner moved the job to the trash (None: not in the trash). A
    # trashed job leaves the history, search, ZIPs and storage totals, keeps
    # its files until it is restored or purged, and still counts in spend.
    trashed = models.DateTimeField(null=True, blank=True)

    # Where the job came from: the editor, or the image API with which token.
    source = models.CharField(max_length=3, choices=JobSource.choices, default=JobSource.WEB)
    api_token = models.ForeignKey(
        ApiToken, null=True, blank=True, on_delete=models.SET_NULL, related_name="jobs"
    )
    # An API client's Idempotency-Key and a hash of the request it came with:
    # a retry with the same key gets this job back instead of a second call.
    # NULL, not "": the unique constraint must let every job without a key be.
    idempotency_key = models.CharField(max_length=255, null=True, blank=True)  # noqa: DJ001
    request_hash = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-created", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "idempotency_key"], name="unique_idempotency_key_per_owner"
            )
        ]
        indexes = [
            models.Index(fields=["owner", "-created", "-id"], name="job_owner_created"),
            models.Index(fields=["owner", "stored_bytes"], name="job_owner_storage"),
            models.Index(fields=["status", "heartbeat"], name="job_status_heartbeat"),
            # Partial: the trash is a sliver of the jobs, so these stay small
            # and the history's own indexes are left as they were.
            models.Index(
                fields=["owner", "-trashed", "stored_bytes"],
                condition=models.Q(trashed__isnull=False),
                name="job_owner_trash",
            ),
            models.Index(
                fields=["trashed"], condition=models.Q(trashed__isnull=False), name="job_trash_age"
            ),
            # A user's queued and running jobs, counted at every submission.
            models.Index(
                fields=["owner"],
                condition=models.Q(status__in=["queued", "running"]),
                name="job_owner_active",
            ),
            # Usage totals by day (editor/usage.py) read the days not yet
            # rolled up from this index alone on PostgreSQL (an index-only
            # scan); SQLite, without INCLUDE, reads the rows it points to.
            models.Index(
                fields=["created"],
                include=[
                    "owner",
                    "status",
                    "cost",
                    "model_label",
                    "provider_name",
                    "sent",
                    "answered",
                ],
                name="job_created_usage",
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
    # The provider's answer as received, kept when the shown result differs
    # from it (cropped back, or the original put back outside the mask).
    RAW = "raw", "Provider's raw output"
    # An image of the provider's answer, kept in storage the moment it
    # arrived (``editor.saved_answers``). Storing the results turns it into
    # the result or raw output that holds its bytes; one Darkroom had to
    # convert leaves it as it came.
    ANSWER = "answer", "Provider's answer as received"


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
    # The EXIF orientation the stored file still carries (1: it is upright).
    # A phone photo is stored as received and turned by the job's worker
    # (``media.input_upright``); ``width`` and ``height`` are upright already.
    orientation = models.PositiveSmallIntegerField(default=1)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["role", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["job", "role", "position"], name="unique_image_position"
            )
        ]
        indexes = [
            # The few photos still to turn upright, found by the sweep each
            # minute without reading every image's row.
            models.Index(
                fields=["orientation"],
                name="jobimage_still_to_turn",
                condition=models.Q(orientation__gt=1),
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
    """One distinct word of a job's prompt, or the beginning of one (see
    ``editor.search``), so history search is an index walk.

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


class DailyUsage(models.Model):
    """One user's jobs on one model on one day, summed: what usage pages read.

    Kept by the periodic roll-up (editor/usage.py) for days that are over, so
    a month or a year of usage is a few thousand rows, not a million jobs.
    Deleting a job from the history later leaves its day's totals as they
    were: it was spent.
    """

    day = models.DateField()
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    provider_name = models.CharField(max_length=64)
    model_label = models.CharField(max_length=200)
    jobs = models.PositiveIntegerField()
    failures = models.PositiveIntegerField()
    cost = models.DecimalField(max_digits=14, decimal_places=6)
    # The provider's own time (answered - sent), summed over the jobs that
    # have both, so an average over any range is one division.
    provider_seconds = models.FloatField()
    timed_jobs = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["day", "owner", "provider_name", "model_label"], name="unique_daily_usage"
            )
        ]
        indexes = [models.Index(fields=["owner", "day"], name="dailyusage_owner_day")]

    def __str__(self) -> str:
        return f"{self.day} {self.owner_id} {self.model_label}"


class UsageRollup(models.Model):
    """The single row saying through which day DailyUsage is complete.

    Days after it are summed from the jobs themselves, so totals are right
    even before the first roll-up ran.
    """

    complete_through = models.DateField()

    def __str__(self) -> str:
        return f"usage rolled up through {self.complete_through}"


class Invite(models.Model):
    """A single-use sign-up link. Only a hash of its token is kept, so the
    database alone cannot be used to sign up."""

    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    note = models.CharField(
        max_length=200, blank=True, help_text="Who it is for, to recognise it later."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    created = models.DateTimeField(auto_now_add=True)
    expires = models.DateTimeField()
    used = models.DateTimeField(null=True, blank=True, editable=False)
    used_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )

    class Meta:
        ordering = ["-created"]

    def __str__(self) -> str:
        return self.note or f"invite #{self.pk}"
