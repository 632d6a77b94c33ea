"""Create, list and revoke users' image API tokens from the command line."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError, CommandParser

from editor.api import tokens
from editor.models import ApiToken


class Command(BaseCommand):
    help = "Create, list or revoke image API tokens (/v1/)."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        create = actions.add_parser("create", help="Make a token and print its secret once.")
        create.add_argument("--user", required=True, help="The user name.")
        create.add_argument("--name", required=True, help="A label to recognise it by.")
        listing = actions.add_parser("list", help="List tokens (never their secrets).")
        listing.add_argument("--user", default="", help="Only this user's tokens.")
        revoke = actions.add_parser("revoke", help="Revoke a token by id or prefix.")
        revoke.add_argument("token", help="The id (from list) or the prefix (drk_...).")

    def handle(self, *args: Any, **options: Any) -> None:
        getattr(self, f"_{options['action']}")(options)

    def _create(self, options: dict[str, Any]) -> None:
        try:
            user = User.objects.get(username=options["user"])
        except User.DoesNotExist:
            raise CommandError(f"There is no user named {options['user']!r}.") from None
        made = tokens.token_create(user=user, name=options["name"])
        self.stderr.write(
            f"Token {made.token.name!r} for {user.username} (id {made.token.pk}). "
            "Keep the secret below: it is not shown again."
        )
        self.stdout.write(made.secret)

    def _list(self, options: dict[str, Any]) -> None:
        rows = ApiToken.objects.select_related("owner").order_by("owner__username", "-created")
        if options["user"]:
            rows = rows.filter(owner__username=options["user"])
        for token in rows:
            state = f"revoked {token.revoked:%Y-%m-%d %H:%M}" if token.revoked else "active"
            used = f"{token.last_used:%Y-%m-%d %H:%M}" if token.last_used else "never"
            self.stdout.write(
                f"{token.pk}\t{token.owner.username}\t{token.name}\t{token.prefix}…\t"
                f"created {token.created:%Y-%m-%d %H:%M}\tlast used {used}\t{state}"
            )

    def _revoke(self, options: dict[str, Any]) -> None:
        key: str = options["token"].rstrip("…").strip()
        if key.isdigit():
            matches = list(ApiToken.objects.filter(pk=int(key)))
        elif len(key) >= tokens.SHOWN_PREFIX_LENGTH:
            # The prefix as listed, or the whole secret.
            matches = list(ApiToken.objects.filter(prefix=key[: tokens.SHOWN_PREFIX_LENGTH]))
        else:
            matches = list(ApiToken.objects.filter(prefix__startswith=key))
        if not matches:
            raise CommandError(f"No token has the id or prefix {key!r}.")
        if len(matches) > 1:
            raise CommandError(f"{len(matches)} tokens start with {key!r}; give its id instead.")
        token = matches[0]
        if tokens.token_revoke(token=token):
            owner = token.owner.username
            self.stdout.write(f"Revoked {token.name!r} of {owner} ({token.prefix}…).")
        else:
            self.stdout.write(f"{token.name!r} ({token.prefix}…) was already revoked.")
