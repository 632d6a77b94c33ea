"""The database cache's table (settings.CACHES), so that `migrate` alone sets
up a new install or release: the password reset rate limit counts there."""

from django.core.management import call_command
from django.db import migrations


def create_cache_tables(apps, schema_editor):
    # Creates only the tables that are missing, for every database cache.
    call_command("createcachetable", database=schema_editor.connection.alias, verbosity=0)


class Migration(migrations.Migration):
    dependencies = [("editor", "0002_history_search_and_storage")]

    operations = [migrations.RunPython(create_cache_tables, migrations.RunPython.noop)]
