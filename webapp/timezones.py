"""Times in each person's own time zone.

The browser reports its zone (``Intl``, see static/editor/timezone.js) into a
cookie the first time; the person can choose another on the time zone page.
Every request activates the zone named by the cookie, so every date Django
renders (templates, ``localtime``, month totals) is in it.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable
from datetime import datetime
from functools import lru_cache

from django.http import HttpRequest, HttpResponse
from django.utils import timezone

COOKIE_NAME = "darkroom_tz"
COOKIE_MAX_AGE = 365 * 24 * 60 * 60


# "4 Dec 2026, 09:12 CET": the zone is always named, so no one takes a time
# for another zone's. Django's dateformat spells it "j M Y, H:i T".
MONTH_ABBREVIATIONS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun",
                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")  # fmt: skip


def when_text(moment: datetime) -> str:
    """``moment`` in the active zone (the person's), with the zone's name.

    Written out rather than through dateformat, which took ~60 µs a date
    (a lazily translated month name and a parsed format each time): the
    history prints one per row. The interface is English throughout.
    """
    local = timezone.localtime(moment)
    month = MONTH_ABBREVIATIONS[local.month - 1]
    return f"{local.day} {month} {local.year}, {local:%H:%M} {local.tzname()}"


@lru_cache(maxsize=1)
def zone_names() -> frozenset[str]:
    """The IANA zones this machine knows; a cookie may name only one of these."""
    return frozenset(zoneinfo.available_timezones())


def zone_from(name: str | None) -> zoneinfo.ZoneInfo | None:
    """The zone called ``name``, or None for anything that is not one."""
    if not name or name not in zone_names():
        return None
    return zoneinfo.ZoneInfo(name)


class UserTimezoneMiddleware:
    """Activates the zone of the ``darkroom_tz`` cookie for the request (the
    site's TIME_ZONE without one, or with one that names no zone)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        zone = zone_from(request.COOKIES.get(COOKIE_NAME))
        if zone is None:
            timezone.deactivate()
        else:
            timezone.activate(zone)
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
