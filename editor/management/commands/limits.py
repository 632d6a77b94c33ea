"""Set and show spending limits and fair-use caps from the command line."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from editor import limits
from editor.models import SiteLimits, UnpricedPolicy, UserLimits
from editor.pricing import format_money

# Options of `set`, and the fields they change.
OPTIONS = {
    "monthly": "monthly_limit",
    "daily": "daily_limit",
    "max_active": "max_active_jobs",
    "per_minute": "jobs_per_minute",
}
CLEAR = "none"
SOURCES = {
    "user": "the user's own",
    "group": "from a group",
    "site": "site default",
    "environment": "environment default",
}


def money(value: str) -> Decimal | str:
    if value.strip().lower() == CLEAR:
        return CLEAR
    try:
        amount = Decimal(value.strip().lstrip("$"))
    except InvalidOperation as error:
        raise CommandError(f"Not an amount in USD: {value!r} (e.g. 5 or 2.50).") from error
    if not amount.is_finite() or amount < 0:
        raise CommandError(f"A limit is 0 or more, not {value!r}.")
    if amount != amount.quantize(Decimal("0.01")):
        raise CommandError(f"A limit is in whole cents (such as 2.50), not {value!r}.")
    return amount


def count(value: str) -> int | str:
    if value.strip().lower() == CLEAR:
        return CLEAR
    if not value.strip().isdigit():
        raise CommandError(f"Not a whole number of jobs: {value!r}.")
    return int(value)


class Command(BaseCommand):
    help = "Set or show spending limits and fair-use caps (a user's or the site default)."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        set_ = actions.add_parser(
            "set",
            help="Set limits; 'none' clears one (the user's groups' or the default applies).",
        )
        who = set_.add_mutually_exclusive_group(required=True)
        who.add_argument("--user", metavar="NAME")
        who.add_argument("--default", action="store_true", help="The site-wide default.")
        set_.add_argument("--monthly", type=money, metavar="USD")
        set_.add_argument("--daily", type=money, metavar="USD")
        set_.add_argument("--max-active", type=count, metavar="N", help="Jobs queued or running.")
        set_.add_argument("--per-minute", type=count, metavar="N", help="Jobs submitted.")
        set_.add_argument(
            "--unpriced",
            metavar="block|allow|USD",
            help="With --default: how runs of models without a known price count.",
        )
        show = actions.add_parser("show", help="Show limits and this period's spend.")
        show.add_argument("--user", metavar="NAME")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "set":
            self._set(options)
        self._show(options)

    def _set(self, options: dict[str, Any]) -> None:
        changes = {
            field: None if options[option] == CLEAR else options[option]
            for option, field in OPTIONS.items()
            if options[option] is not None
        }
        if options["unpriced"] is not None:
            if not options["default"]:
                raise CommandError("--unpriced applies to the site default only (--default).")
            changes.update(_unpriced(options["unpriced"]))
        if not changes:
            raise CommandError(
                "Nothing to set: give --monthly, --daily, --max-active or --per-minute."
            )
        if options["default"]:
            row: SiteLimits | UserLimits = SiteLimits.current()
        else:
            row, _ = UserLimits.objects.get_or_create(user=_user(options["user"]))
        for field, value in changes.items():
            setattr(row, field, value)
        row.save()

    def _show(self, options: dict[str, Any]) -> None:
        now = timezone.now()
        if options.get("user"):
            user = _user(options["user"])
            summary = limits.spend_summary(user=user, now=now)
            self.stdout.write(f"{user.username}")
            self._write_limits(summary.limits)
            self.stdout.write(
                f"  spent this month: {format_money(summary.month_spend) or '$0'}"
                f" (resets on {limits.reset_text(summary.month.end)})"
            )
            self.stdout.write(
                f"  spent today: {format_money(summary.day_spend) or '$0'}"
                f" (resets on {limits.reset_text(summary.day.end)})"
            )
            return
        defaults = limits.site_defaults()
        self.stdout.write("Site-wide default")
        self._write_limits(
            limits.Limits.from_values(defaults),
            unpriced=True,
        )
        month = limits.month_of(now)
        self.stdout.write(f"Spent this month (resets on {limits.reset_text(month.end)}):")
        rows = limits.spend_by_user(period=month)
        if not rows:
            self.stdout.write("  nobody yet")
        for username, total in rows:
            self.stdout.write(f"  {username}: {format_money(total)}")

    def _write_limits(self, found: limits.Limits, *, unpriced: bool = False) -> None:
        def source(name: str) -> str:
            where = SOURCES.get(found.sources.get(name, ""), "")
            return f" ({where})" if where else ""

        def amount(value: Decimal | None) -> str:
            return "no limit" if value is None else format_money(value) or "$0"

        def jobs(value: int | None) -> str:
            return "no cap" if value is None else str(value)

        self.stdout.write(f"  monthly limit: {amount(found.monthly)}{source('monthly_limit')}")
        self.stdout.write(f"  daily limit: {amount(found.daily)}{source('daily_limit')}")
        self.stdout.write(
            f"  jobs queued or running at once: {jobs(found.max_active_jobs)}"
            f"{source('max_active_jobs')}"
        )
        self.stdout.write(
            f"  jobs per minute: {jobs(found.jobs_per_minute)}{source('jobs_per_minute')}"
        )
        if unpriced:
            policy = found.unpriced_policy
            if policy == UnpricedPolicy.ASSUME:
                policy = f"counted at {format_money(found.unpriced_price) or '$0'} a run"
            self.stdout.write(f"  models without a known price: {policy}")


def _user(name: str) -> User:
    try:
        return User.objects.get(username=name)
    except User.DoesNotExist as error:
        raise CommandError(f"No user named {name!r}.") from error


def _unpriced(value: str) -> dict[str, Any]:
    choice = value.strip().lower()
    if choice in (UnpricedPolicy.BLOCK, UnpricedPolicy.ALLOW):
        return {"unpriced_policy": choice}
    if choice == CLEAR:
        return {"unpriced_policy": "", "unpriced_price": None}
    try:
        price = Decimal(choice.lstrip("$"))
    except InvalidOperation as error:
        raise CommandError(
            f"--unpriced takes block, allow or a price in USD, not {value!r}."
        ) from error
    if not price.is_finite() or price < 0:
        raise CommandError(f"An assumed price is 0 or more, not {value!r}.")
    return {"unpriced_policy": UnpricedPolicy.ASSUME, "unpriced_price": price}
