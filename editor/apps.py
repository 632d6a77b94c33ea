from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _ensure_providers(sender: AppConfig, **kwargs: Any) -> None:
    from editor.catalog import providers_ensure_defaults

    providers_ensure_defaults()


class EditorConfig(AppConfig):
    name = "editor"
    verbose_name = "Darkroom editor"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        post_migrate.connect(_ensure_providers, sender=self)
