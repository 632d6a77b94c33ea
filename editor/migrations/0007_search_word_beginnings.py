"""Index the beginnings of the words of existing prompts, so a search for
"hous" finds the jobs made before prefix search as well."""

from __future__ import annotations

from typing import Any

from django.db import migrations

BATCH = 2000


def index_word_beginnings(apps: Any, schema_editor: Any) -> None:
    from editor.search import terms_of

    job_model = apps.get_model("editor", "Job")
    word_model = apps.get_model("editor", "JobWord")
    # Trashed jobs have no words in the index; a restore adds them.
    jobs = (
        job_model.objects.filter(trashed__isnull=True)
        .only("id", "owner_id", "prompt", "created")
        .iterator(chunk_size=BATCH)
    )
    rows: list[Any] = []
    for job in jobs:
        rows.extend(
            word_model(job_id=job.pk, owner_id=job.owner_id, word=term, created=job.created)
            for term in terms_of(job.prompt)
        )
        if len(rows) >= BATCH * 10:
            word_model.objects.bulk_create(rows, batch_size=BATCH, ignore_conflicts=True)
            rows = []
    word_model.objects.bulk_create(rows, batch_size=BATCH, ignore_conflicts=True)


class Migration(migrations.Migration):
    dependencies = [
        ("editor", "0006_job_trash"),
    ]

    operations = [
        migrations.RunPython(index_word_beginnings, migrations.RunPython.noop, elidable=True),
    ]
