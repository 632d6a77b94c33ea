"""Keep provider answers uncompressed on PostgreSQL.

An answer is mostly base64 images, which PostgreSQL's default compression
(pglz) cannot shrink but spends ~90 ms per 4 MB trying to, on the path
between a paid answer arriving and its result being shown. ``EXTERNAL``
keeps large values out of line, as before, without compressing them: saving
a 4 MB answer went from ~95 ms to ~30 ms. Other databases are left alone.
"""

from django.db import migrations

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

    operations = [migrations.RunPython(uncompressed, compressed, elidable=False)]
