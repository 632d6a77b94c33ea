"""Darkroom's URLs plus views that fail on purpose, for the error page tests."""

from __future__ import annotations

from django.core.exceptions import BadRequest
from django.http import HttpRequest, HttpResponse
from django.urls import path

from webapp.urls import handler400, handler403, handler404, handler500, urlpatterns

__all__ = ["handler400", "handler403", "handler404", "handler500", "urlpatterns"]


def broken(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("a bug in a view")


def bad(request: HttpRequest) -> HttpResponse:
    raise BadRequest("nonsense")


urlpatterns = [path("test-broken/", broken), path("test-bad/", bad), *urlpatterns]
