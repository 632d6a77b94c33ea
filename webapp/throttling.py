"""Who is trying: the client's address and the account named, as the login
and password reset throttles count them.

Without configuration it is the connection's address (REMOTE_ADDR). Behind a
proxy every request comes from the proxy, so the address must come from a
header the proxy sets: ``DARKROOM_CLIENT_IP_HEADER`` (``X-Forwarded-For`` or
``X-Real-IP``). A client can put anything in such a header; each proxy
appends the address it saw to X-Forwarded-For, so the trustworthy entry is
the one added by the outermost of our ``DARKROOM_TRUSTED_PROXIES`` proxies,
counted from the right.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from django.conf import settings
from django.http import HttpRequest

# Every client whose address cannot be told shares this one bucket.
UNKNOWN = "0.0.0.0"  # noqa: S104 (an address compared, never bound)


def header_meta_key(header: str) -> str:
    """``X-Forwarded-For`` -> ``HTTP_X_FORWARDED_FOR``."""
    return "HTTP_" + header.strip().upper().replace("-", "_")


def client_ip(request: HttpRequest) -> str:
    header = settings.DARKROOM_CLIENT_IP_HEADER
    if header:
        entries = [
            entry.strip()
            for entry in request.META.get(header_meta_key(header), "").split(",")
            if entry.strip()
        ]
        trusted = max(1, settings.DARKROOM_TRUSTED_PROXIES)
        candidate = entries[-trusted] if len(entries) >= trusted else ""
    else:
        candidate = request.META.get("REMOTE_ADDR", "")
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return UNKNOWN


def attempted_username(request: HttpRequest, credentials: dict[str, Any] | None) -> str | None:
    """AXES_USERNAME_CALLABLE: the username a login attempt named.

    Cut to the 255 characters django-axes stores (PostgreSQL refuses longer
    values): Django's login forms do not check a username's length, and no
    account has a name that long.
    """
    username = credentials.get("username") if credentials else request.POST.get("username")
    return None if username is None else str(username)[:255]
