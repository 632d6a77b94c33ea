"""Fill a user's history with realistic jobs, for benchmarks and demos.

The jobs are inserted in bulk. Their images are real (small generated PNGs with
WebP thumbnails, served by the normal views), but a handful of files is shared
by all seeded jobs so that 100 000 jobs take seconds, not gigabytes. Deleting
one seeded job therefore removes the shared files of the others too: seed a
separate user or a separate data directory, never a real one.
"""

from __future__ import annotations

import hashlib
import random
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, models, transaction
from django.utils import timezone

from editor import imaging, search
from editor.models import (
    ImageModel,
    ImageRole,
    Job,
    JobImage,
    JobKind,
    JobStage,
    JobStatus,
    JobWord,
    Provider,
    ProviderKind,
)

SUBJECTS = [
    "cat",
    "dog",
    "lighthouse",
    "mountain lake",
    "city street",
    "portrait",
    "bicycle",
    "old car",
    "forest path",
    "harbour",
    "kitchen",
    "desert road",
    "bridge",
    "garden",
    "robot",
    "castle",
    "beach",
    "skyline",
    "market",
    "train station",
    "owl",
    "fox",
]
ACTIONS = [
    "make the {s} black and white",
    "remove the {s}",
    "add snow to the {s}",
    "turn the {s} into a watercolour",
    "replace the sky behind the {s}",
    "make the {s} look like a vintage photo",
    "add a sunset glow to the {s}",
    "paint the {s} in the style of Van Gogh",
    "sharpen the {s}",
    "blur the background of the {s}",
    "generate a {s} at night",
    "a {s} made of glass",
    "a cinematic shot of a {s}",
    "invert the colours of the {s}",
    "put a hat on the {s}",
    "a {s} in the rain",
]
STYLES = [
    "",
    "",
    "",
    "photorealistic",
    "soft light",
    "35mm film",
    "high contrast",
    "pastel colours",
    "dramatic clouds",
    "isometric",
    "studio lighting",
    "golden hour",
    "neon",
    "minimalist",
]
RARE_WORDS = ["zeppelin", "quokka", "axolotl", "kaleidoscope", "obsidian"]
STATUS_WEIGHTS = {
    JobStatus.SUCCEEDED: 80,
    JobStatus.FAILED: 9,
    JobStatus.CANCELED: 6,
    JobStatus.RUNNING: 2,
    JobStatus.QUEUED: 3,
}
SEED_PROVIDERS = {
    "demo-openai": ["gpt-image-1", "dall-e-2"],
    "demo-router": ["flux-kontext-pro", "seedream-3", "sdxl-inpaint"],
}
ERRORS = [
    ("content_policy", "The provider refused the prompt (content policy)."),
    ("timeout", "The provider did not answer within 600 seconds."),
    ("rate_limited", "The provider is rate limiting this key; try again later."),
]


@dataclass(frozen=True)
class SharedImage:
    file: str
    thumbnail: str
    width: int
    height: int
    bytes: int
    thumbnail_bytes: int
    sha256: str


class Command(BaseCommand):
    help = "Create N realistic jobs (with small real images) in a user's history."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--user", required=True, help="Username; created if missing.")
        parser.add_argument("--count", type=int, required=True, help="How many jobs to add.")
        parser.add_argument("--months", type=int, default=12, help="Spread over this many months.")
        parser.add_argument(
            "--seed", type=int, default=1, help="Random seed (same seed, same jobs)."
        )
        parser.add_argument("--batch-size", type=int, default=2000)

    def handle(self, *args: Any, **options: Any) -> None:
        count: int = options["count"]
        if count < 1:
            raise CommandError("--count must be at least 1.")
        started = time.monotonic()
        user_model = get_user_model()
        user, created = user_model.objects.get_or_create(username=options["user"])
        if created:
            user.set_unusable_password()
            user.save(update_fields=["password"])
        rng = random.Random(options["seed"])
        models = _seed_models()
        images = _shared_images(rng)
        end = timezone.now()
        span = timedelta(days=30 * options["months"])
        # Oldest first, so every parent exists before the jobs that continue it.
        moments = sorted(end - span * rng.random() for _ in range(count))
        done = 0
        while done < count:
            batch = moments[done : done + options["batch_size"]]
            with transaction.atomic():
                _insert_batch(user=user, moments=batch, rng=rng, models=models, images=images)
            done += len(batch)
            self.stdout.write(f"\r{done}/{count} jobs", ending="")
            self.stdout.flush()
        elapsed = time.monotonic() - started
        self.stdout.write(f"\nAdded {count} jobs for {user.get_username()} in {elapsed:.1f} s.")


def _seed_models() -> list[ImageModel]:
    """A few models on disabled demo providers (so the editor never offers them),
    plus the offline model, so filters by model and provider have choices."""
    models = list(ImageModel.objects.filter(provider__kind=ProviderKind.OFFLINE))
    for provider_name, model_ids in SEED_PROVIDERS.items():
        provider, _ = Provider.objects.get_or_create(
            name=provider_name, defaults={"kind": ProviderKind.OFFLINE, "enabled": False}
        )
        for model_id in model_ids:
            model, _ = ImageModel.objects.get_or_create(
                provider=provider,
                model_id=model_id,
                defaults={"label": model_id, "enabled": False, "can_generate": True},
            )
            models.append(model)
    return [model for model in models if model.provider_id]


def _shared_images(rng: random.Random) -> list[SharedImage]:
    shared = []
    for index in range(6):
        data = imaging.draw_picture(
            prompt=f"seed {index}", width=96, height=72, seed=rng.randrange(1 << 30)
        )
        small = imaging.thumbnail(data, size=settings.DARKROOM_THUMBNAIL_SIZE)
        token = uuid.uuid4().hex
        file = default_storage.save(f"seed/{token}.png", ContentFile(data))
        thumb = default_storage.save(f"seed/{token}-thumb.webp", ContentFile(small))
        shared.append(
            SharedImage(
                file=file,
                thumbnail=thumb,
                width=96,
                height=72,
                bytes=len(data),
                thumbnail_bytes=len(small),
                sha256=hashlib.sha256(data).hexdigest(),
            )
        )
    return shared


def _prompt(rng: random.Random) -> str:
    prompt = rng.choice(ACTIONS).format(s=rng.choice(SUBJECTS))
    if style := rng.choice(STYLES):
        prompt += f", {style}"
    if rng.random() < 0.01:
        prompt += f", with a {rng.choice(RARE_WORDS)}"
    return prompt


def _insert_batch(
    *,
    user: Any,
    moments: list[Any],
    rng: random.Random,
    models: list[ImageModel],
    images: list[SharedImage],
) -> None:
    statuses = list(STATUS_WEIGHTS)
    weights = list(STATUS_WEIGHTS.values())
    jobs: list[Job] = []
    rows: list[JobImage] = []
    previous: Job | None = None
    for created in moments:
        model = rng.choice(models)
        status = rng.choices(statuses, weights)[0]
        kind = JobKind.EDIT if rng.random() < 0.7 else JobKind.GENERATE
        job = Job(
            owner=user,
            kind=kind,
            image_model=model,
            model_label=model.label,
            provider_name=model.provider.name,
            prompt=_prompt(rng),
            params={"n": 1, "size": rng.choice(["1024x1024", "1536x1024", "auto"])},
            # About one job in five continues the one made just before it.
            parent=previous if previous is not None and rng.random() < 0.2 else None,
            status=status,
            stage=JobStage.DONE if status in (JobStatus.SUCCEEDED, JobStatus.FAILED) else status,
            created=created,
        )
        if status != JobStatus.QUEUED:
            job.started = created + timedelta(seconds=rng.uniform(0.05, 3))
            job.sent = job.started + timedelta(seconds=rng.uniform(0.05, 0.5))
        if status in (JobStatus.SUCCEEDED, JobStatus.FAILED) and job.sent:
            job.answered = job.sent + timedelta(seconds=rng.uniform(2, 40))
            job.finished = job.answered + timedelta(seconds=rng.uniform(0.05, 1.5))
        if status == JobStatus.SUCCEEDED:
            tokens = rng.randrange(1000, 6000)
            job.usage = {"input_tokens": tokens // 4, "output_tokens": tokens}
            job.cost = Decimal(rng.randrange(100, 25000)) / Decimal(100000)
        elif status == JobStatus.FAILED:
            job.error_code, job.error_message = rng.choice(ERRORS)
        elif status == JobStatus.CANCELED:
            job.finished = created + timedelta(seconds=rng.uniform(1, 30))
            job.error_code, job.error_message = "canceled", "Canceled by you."
        jobs.append(job)
        own = []
        if kind == JobKind.EDIT:
            own.append(_image_row(job, ImageRole.INPUT, rng.choice(images)))
        if status == JobStatus.SUCCEEDED:
            own.append(_image_row(job, ImageRole.RESULT, rng.choice(images)))
        job.stored_bytes = sum(row.bytes + row.thumbnail_bytes for row in own)
        rows += own
        previous = job
    _insert(Job, jobs)
    _insert(JobImage, rows)
    _insert(JobWord, [word for job in jobs for word in search.job_words(job)])


def _insert(model: type[models.Model], objects: list[Any]) -> None:
    """INSERT the rows in one executemany per batch, values prepared by each field.

    Rather than bulk_create: it would stamp ``created`` (auto_now_add) with
    now() instead of the dates spread over months, and it was a third slower
    here (SQLite caps a statement at 999 parameters, so it builds thousands).
    """
    fields = [
        field
        for field in model._meta.concrete_fields
        if not isinstance(field, models.AutoField | models.BigAutoField)
    ]
    quote = connection.ops.quote_name
    # Only our own table and column names go into the text; values are parameters.
    sql = "INSERT INTO {} ({}) VALUES ({})".format(  # noqa: S608
        quote(model._meta.db_table),
        ", ".join(quote(field.column) for field in fields),
        ", ".join(["%s"] * len(fields)),
    )
    values = [
        [field.get_db_prep_save(getattr(obj, field.attname), connection) for field in fields]
        for obj in objects
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, values)


def _image_row(job: Job, role: str, shared: SharedImage) -> JobImage:
    return JobImage(
        job=job,
        role=role,
        position=0,
        file=shared.file,
        thumbnail=shared.thumbnail,
        width=shared.width,
        height=shared.height,
        format="PNG",
        bytes=shared.bytes,
        thumbnail_bytes=shared.thumbnail_bytes,
        sha256=shared.sha256,
        created=job.created,
    )
