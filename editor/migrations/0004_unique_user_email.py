"""One account per e-mail address, compared without case.

A unique index on lower(email) for non-empty addresses (accounts without an
address stay allowed). Installs made before it may hold several accounts with
one address: the address stays on the account that logged in most recently
(never logged in: the oldest account) and is cleared on the others, which
keep everything else and can set an address again in the admin. Each cleared
account is logged. Reversing drops the index; cleared addresses stay cleared.
"""

import logging

from django.db import migrations
from django.db.models import F, Q, UniqueConstraint
from django.db.models.functions import Lower

logger = logging.getLogger("editor.migrations")

CONSTRAINT = UniqueConstraint(
    Lower("email"), condition=~Q(email=""), name="editor_user_email_unique_ci"
)


def clear_duplicate_emails(apps, schema_editor):
    User = apps.get_model("auth", "User")
    # Grouped by the database's own lower(), which the index compares.
    users = (
        User.objects.exclude(email="")
        .annotate(address=Lower("email"))
        .order_by("address", F("last_login").desc(nulls_last=True), "date_joined", "pk")
        .values_list("pk", "username", "address")
    )
    kept = None
    for pk, username, address in users.iterator():
        if address == kept:
            User.objects.filter(pk=pk).update(email="")
            logger.warning(
                "Cleared the e-mail address of account %r: another account uses %s.",
                username,
                address,
            )
        kept = address


def add_constraint(apps, schema_editor):
    schema_editor.add_constraint(apps.get_model("auth", "User"), CONSTRAINT)


def remove_constraint(apps, schema_editor):
    schema_editor.remove_constraint(apps.get_model("auth", "User"), CONSTRAINT)


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("editor", "0003_shared_cache_table"),
    ]

    operations = [
        migrations.RunPython(clear_duplicate_emails, migrations.RunPython.noop),
        migrations.RunPython(add_constraint, remove_constraint),
    ]
