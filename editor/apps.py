from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_delete, post_migrate, post_save


def _ensure_providers(sender: AppConfig, **kwargs: Any) -> None:
    from editor.catalog import providers_ensure_defaults

    providers_ensure_defaults()


class EditorConfig(AppConfig):
    name = "editor"
    verbose_name = "Darkroom editor"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        post_migrate.connect(_ensure_providers, sender=self)
        from django.contrib.auth import get_user_model

        from editor.user_cache import forget_user

        # Connected in every process (web, worker, management commands), so a
        # password changed anywhere ends the cached sessions of the old one.
        post_save.connect(forget_user, sender=get_user_model())
        post_delete.connect(forget_user, sender=get_user_model())
