"""The logged-in user from a cache, not from the database on every request.

Django reads the session and then the user on each request: two queries for
a status poll that otherwise needs one. Sessions come from the cache through
the ``cached_db`` engine (settings); this middleware does the same for the
user. A cached user is only trusted when the session's auth hash matches it,
exactly as Django checks a user read from the database; anything else (no
cached user, a changed password, a fallback secret key, an inactive account)
goes through Django's own ``get_user``. Saving or deleting a user drops its
cached copy everywhere; the entry also expires after ``USER_CACHE_SECONDS``,
which bounds what a bulk update (which sends no signal) could leave behind.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import auth
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, User
from django.core.cache import caches
from django.http import HttpRequest
from django.utils.crypto import constant_time_compare
from django.utils.functional import SimpleLazyObject

USER_CACHE_SECONDS = 300


def _key(user_id: Any) -> str:
    return f"darkroom:user:{user_id}"


def _cache() -> Any:
    return caches[settings.SESSION_CACHE_ALIAS]


def cached_user(request: HttpRequest) -> AbstractBaseUser | AnonymousUser:
    if hasattr(request, "_cached_user"):
        return request._cached_user  # type: ignore[no-any-return]
    session = request.session
    user_id = session.get(auth.SESSION_KEY)
    backend = session.get(auth.BACKEND_SESSION_KEY)
    session_hash = session.get(auth.HASH_SESSION_KEY)
    user: AbstractBaseUser | AnonymousUser | None = None
    if user_id is not None and session_hash and backend in settings.AUTHENTICATION_BACKENDS:
        candidate = _cache().get(_key(user_id))
        if (
            isinstance(candidate, AbstractBaseUser)
            and str(candidate.pk) == str(user_id)
            and getattr(candidate, "is_active", True)
            and constant_time_compare(session_hash, candidate.get_session_auth_hash())
        ):
            user = candidate
    if user is None:
        user = auth.get_user(request)
        if user.is_authenticated:
            _cache().set(_key(user.pk), user, USER_CACHE_SECONDS)
    request._cached_user = user  # type: ignore[attr-defined]
    return user


class CachedAuthenticationMiddleware(AuthenticationMiddleware):
    """Django's AuthenticationMiddleware with ``request.user`` read through the cache."""

    def process_request(self, request: HttpRequest) -> None:
        super().process_request(request)
        request.user = SimpleLazyObject(lambda: cached_user(request))  # type: ignore[assignment]


def forget_user(sender: Any, instance: User, **kwargs: Any) -> None:
    """A saved or deleted user is read afresh by the next request."""
    _cache().delete(_key(instance.pk))
