"""Manage providers and their models from the command line."""

from __future__ import annotations

import os
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from editor import catalog, crypto, pricing
from editor.models import Provider, ProviderKind
from editor.providers.base import ProviderError


class Command(BaseCommand):
    help = "List, add, remove or sync image providers."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        actions.add_parser("list", help="List providers and their models.")
        add = actions.add_parser("add", help="Add a provider and sync its models.")
        add.add_argument("--name", required=True)
        add.add_argument("--kind", required=True, choices=ProviderKind.values)
        add.add_argument("--base-url", default="")
        key = add.add_mutually_exclusive_group()
        key.add_argument("--api-key", default="")
        key.add_argument("--api-key-env", default="", help="Read the key from this variable.")
        add.add_argument(
            "--models",
            default="",
            help="Comma-separated model ids, listed or not (default: all it lists).",
        )
        add_models = actions.add_parser(
            "add-models", help="Add models by id to a provider, listed by it or not."
        )
        add_models.add_argument("name")
        add_models.add_argument("models", help="Comma-separated model ids.")
        remove = actions.add_parser("remove", help="Remove a provider and its models.")
        remove.add_argument("name")
        sync = actions.add_parser(
            "sync", help="Refresh a provider's models and capabilities; say what changed."
        )
        sync.add_argument("name", nargs="?", help="The provider (default: every enabled one).")
        actions.add_parser("rotate-keys", help="Re-encrypt API keys with the newest key.")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"].replace("-", "_")
        getattr(self, f"_{action}")(options)

    def _list(self, options: dict[str, Any]) -> None:
        providers = Provider.objects.prefetch_related("models")
        if not providers:
            self.stdout.write("No providers.")
        for provider in providers:
            state = "enabled" if provider.enabled else "disabled"
            key = "key set" if provider.api_key_encrypted else "no key"
            self.stdout.write(
                f"{provider.name}  [{provider.kind}, {state}, {key}]  {provider.base_url or '-'}"
            )
            for model in provider.models.all():
                modes = "/".join(
                    mode
                    for mode, on in (("edit", model.can_edit), ("generate", model.can_generate))
                    if on
                )
                flags = []
                if model.supports_mask:
                    flags.append("mask")
                if model.max_images > 1:
                    flags.append(f"up to {model.max_images} images")
                if price := pricing.price_summary(model.pricing):
                    flags.append(price)
                if model.listed is False:
                    flags.append("not listed by the provider")
                if model.retired_reason:
                    flags.append(f"retired: {model.retired_reason}")
                elif not model.enabled:
                    flags.append("disabled")
                self.stdout.write(
                    f"    {model.model_id}  {model.label}  [{modes}]  {', '.join(flags)}".rstrip()
                )

    def _add(self, options: dict[str, Any]) -> None:
        api_key = options["api_key"]
        if options["api_key_env"]:
            api_key = os.environ.get(options["api_key_env"], "")
            if not api_key:
                raise CommandError(f"The variable {options['api_key_env']} is empty or unset.")
        models = _ids(options["models"])
        try:
            provider = catalog.provider_create(
                name=options["name"],
                kind=options["kind"],
                base_url=options["base_url"],
                api_key=api_key,
                sync=False,
            )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        try:
            if models:
                report = catalog.provider_add_models(provider=provider, model_ids=models)
            else:
                report = catalog.provider_sync_models(provider=provider)
        except ProviderError as exc:
            provider.delete()
            raise CommandError(
                f"Could not list the models of {provider.name}: {exc.message} "
                "(name the models with --models to add them without the listing)."
            ) from exc
        count = provider.models.count()
        self.stdout.write(self.style.SUCCESS(f"Added {provider.name} with {count} model(s)."))
        self._report(report)

    def _add_models(self, options: dict[str, Any]) -> None:
        provider = self._provider(options["name"])
        models = _ids(options["models"])
        if not models:
            raise CommandError("Name at least one model id.")
        report = catalog.provider_add_models(provider=provider, model_ids=models)
        self.stdout.write(self.style.SUCCESS(report.summary()))
        self._report(report, summary=False)

    def _provider(self, name: str) -> Provider:
        provider = Provider.objects.filter(name=name).first()
        if provider is None:
            raise CommandError(f"No provider named {name}.")
        return provider

    def _report(self, report: catalog.SyncReport, *, summary: bool = True) -> None:
        if summary:
            for line in report.lines():
                self.stdout.write(f"  {line}")
        for warning in report.warnings:
            self.stderr.write(self.style.WARNING(f"Warning: {warning}"))

    def _remove(self, options: dict[str, Any]) -> None:
        deleted, _ = Provider.objects.filter(name=options["name"]).delete()
        if not deleted:
            raise CommandError(f"No provider named {options['name']}.")
        self.stdout.write(self.style.SUCCESS(f"Removed {options['name']}."))

    def _sync(self, options: dict[str, Any]) -> None:
        providers = (
            [self._provider(options["name"])]
            if options["name"]
            else list(Provider.objects.filter(enabled=True))
        )
        failed = []
        for provider in providers:
            try:
                report = catalog.provider_sync_models(provider=provider)
            except ProviderError as exc:
                failed.append(f"Could not sync {provider.name}: {exc.message}")
                continue
            self.stdout.write(self.style.SUCCESS(f"Synced {report.summary()}"))
            self._report(report, summary=False)
        if failed:
            raise CommandError(" ".join(failed))

    def _rotate_keys(self, options: dict[str, Any]) -> None:
        with transaction.atomic():
            providers = Provider.objects.select_for_update().exclude(api_key_encrypted="")
            for provider in providers:
                provider.api_key_encrypted = crypto.rotate(provider.api_key_encrypted)
                provider.save(update_fields=["api_key_encrypted"])
        self.stdout.write(self.style.SUCCESS(f"Re-encrypted {len(providers)} key(s)."))


def _ids(text: str) -> list[str]:
    return [model.strip() for model in text.split(",") if model.strip()]
