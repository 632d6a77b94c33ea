"""Provider answers as plain, uncompressed text.

An answer is mostly base64 images. As ``jsonb`` PostgreSQL parsed each one
when it was saved, then tried to compress it with pglz, which cannot shrink
base64 but spent ~90 ms per 4 MB trying: both on the path between a paid
answer arriving and its result being stored. As text with ``EXTERNAL``
storage (out of line, never compressed) the same answer saves in ~10 ms.
Existing answers are kept, as their JSON text. Other databases only change
the column's declared type.
"""

from django.db import migrations

import editor.fields

TABLE = "editor_job"
COLUMN = "provider_response"


def _set_storage(schema_editor, storage: str) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    quote = schema_editor.quote_name
    schema_editor.execute(
        f"ALTER TABLE {quote(TABLE)} ALTER COLUMN {quote(COLUMN)} SET STORAGE {storage}"
    )


def uncompressed(apps, schema_editor) -> None:
    _set_storage(schema_editor, "EXTERNAL")


def compressed(apps, schema_editor) -> None:
    _set_storage(schema_editor, "EXTENDED")


class Migration(migrations.Migration):
    dependencies = [("editor", "0011_merge_api_tokens")]

    operations = [
        migrations.AlterField(
            model_name="job",
            name="provider_response",
            field=editor.fields.JSONTextField(blank=True, default=dict),
        ),
        migrations.RunPython(uncompressed, compressed, elidable=False),
    ]
