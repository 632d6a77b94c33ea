"""serve's choice of web worker class and worker pool."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from editor.management.commands.serve import _web_worker_options


def test_gevent_web_workers_hold_many_connections_each() -> None:
    assert _web_worker_options("gevent") == [
        "--worker-class", "gevent", "--worker-connections", "1000",
    ]  # fmt: skip
    assert _web_worker_options("gthread") == ["--threads", "4"]


def test_a_gevent_worker_on_the_embedded_queue_is_refused_with_the_reason(
    settings: object,
) -> None:
    settings.CELERY_BROKER_URL = "filesystem://"  # type: ignore[attr-defined]
    with pytest.raises(CommandError, match="needs a Redis or RabbitMQ broker"):
        call_command("serve", pool="gevent")
