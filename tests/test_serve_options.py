"""serve's choice of web worker class and worker pool."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError

from editor.management.commands.serve import _web_command, _web_worker_options


def test_gevent_web_workers_hold_many_connections_each() -> None:
    assert _web_worker_options("gevent") == [
        "--worker-class", "gevent", "--worker-connections", "1000",
    ]  # fmt: skip
    assert _web_worker_options("gthread") == ["--threads", "4"]


def test_the_web_server_runs_with_the_production_settings_and_serves_own_options() -> None:
    command = _web_command(
        {"host": "127.0.0.1", "port": 8123, "web_workers": 3, "web_worker_class": "gthread"}
    )
    # The file tests/test_web_process.py starts gunicorn with: its settings
    # (the loaded app frozen out of the collector's full passes, timeouts,
    # recycling) hold for `serve` too; the command line overrides the rest.
    config = Path(command[command.index("--config") + 1])
    assert config == settings.BASE_DIR / "webapp" / "gunicorn.conf.py"
    assert "def post_worker_init" in config.read_text()
    assert command[command.index("--bind") + 1] == "127.0.0.1:8123"
    assert command[command.index("--workers") + 1] == "3"


def test_a_gevent_worker_on_the_embedded_queue_is_refused_with_the_reason(
    settings: object,
) -> None:
    settings.CELERY_BROKER_URL = "filesystem://"  # type: ignore[attr-defined]
    with pytest.raises(CommandError, match="needs a Redis or RabbitMQ broker"):
        call_command("serve", pool="gevent")
