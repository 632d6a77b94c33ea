"""Production configuration read from the environment, checked in a fresh process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from django.conf import settings

from tests.production.conftest import REPO

# Variables of this test run that a fresh production process would not have.
SERVICE_VARIABLES = (
    "DJANGO_ALLOW_ASYNC_UNSAFE",
    "DATABASE_URL",
    "CELERY_BROKER_URL",
    "DARKROOM_STORAGE",
    "DARKROOM_TEST_DATABASE_NAME",
    "DEBUG",
)

PRINT_SETTINGS = """
import json, django
django.setup()
from django.conf import settings as s
print(json.dumps({
    "database": s.DATABASES["default"],
    "broker": s.CELERY_BROKER_URL,
    "transport": s.CELERY_BROKER_TRANSPORT_OPTIONS,
    "celery": {name: getattr(s, name) for name in dir(s) if name.startswith("CELERY_")},
    "storages": s.STORAGES,
    "deadline": s.DARKROOM_PROVIDER_DEADLINE,
    "csp": s.DARKROOM_CSP,
}, default=str))
"""


def settings_with(tmp_path: Path, **env: str) -> dict[str, Any]:
    base = {key: value for key, value in os.environ.items() if key not in SERVICE_VARIABLES}
    completed = subprocess.run(
        [sys.executable, "-c", PRINT_SETTINGS],
        cwd=REPO,
        env={
            **base,
            "DJANGO_SETTINGS_MODULE": "webapp.settings",
            "DARKROOM_DATA_DIR": str(tmp_path),
            **env,
        },
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(json.loads(completed.stdout))


def test_a_fresh_checkout_needs_no_service(tmp_path: Path) -> None:
    config = settings_with(tmp_path)
    assert config["database"]["ENGINE"] == "django.db.backends.sqlite3"
    assert config["broker"] == "filesystem://"
    # Our filesystem transport (atomic writes, unreadable messages set aside).
    assert config["celery"]["CELERY_BROKER_TRANSPORT"] == "webapp.broker:Transport"
    assert config["transport"]["rejected_folder"] == str(tmp_path / "queue" / "rejected")
    assert config["storages"]["default"]["BACKEND"].endswith("FileSystemStorage")


def test_postgresql_comes_from_database_url(tmp_path: Path) -> None:
    config = settings_with(
        tmp_path,
        DATABASE_URL="postgres://darkroom:s3cret@db.internal:6432/darkroom",
        DATABASE_CONN_MAX_AGE="60",
    )
    database = config["database"]
    assert database["ENGINE"] == "django.db.backends.postgresql"
    assert (database["NAME"], database["USER"], database["PASSWORD"]) == (
        "darkroom",
        "darkroom",
        "s3cret",
    )
    assert (database["HOST"], database["PORT"]) == ("db.internal", 6432)
    assert database["CONN_MAX_AGE"] == 60
    assert database["CONN_HEALTH_CHECKS"] is True
    # SQLite's locking options must not leak into the PostgreSQL connection.
    assert "transaction_mode" not in database.get("OPTIONS", {})


def test_a_connection_pool_replaces_persistent_connections(tmp_path: Path) -> None:
    pooled = settings_with(
        tmp_path,
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/test",
        DATABASE_CONN_MAX_AGE="60",
        DATABASE_POOL_MAX_SIZE="20",
        DATABASE_POOL_TIMEOUT="5",
    )["database"]
    assert pooled["OPTIONS"]["pool"] == {"min_size": 2, "max_size": 20, "timeout": 5.0}
    # Django refuses a pool with persistent connections.
    assert pooled["CONN_MAX_AGE"] == 0
    plain = settings_with(tmp_path, DATABASE_URL="postgres://postgres@127.0.0.1:5432/test")
    assert "pool" not in plain["database"]["OPTIONS"]


def test_postgresql_pages_skip_parallel_workers_unless_the_url_says_otherwise(
    tmp_path: Path,
) -> None:
    default = settings_with(tmp_path, DATABASE_URL="postgres://postgres@127.0.0.1:5432/test")
    assert default["database"]["OPTIONS"]["options"] == "-c max_parallel_workers_per_gather=0"
    chosen = settings_with(
        tmp_path,
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/test?options=-c%20work_mem%3D64MB",
    )
    assert chosen["database"]["OPTIONS"]["options"] == "-c work_mem=64MB"


def test_time_limits_leave_room_for_the_call_and_the_download_retries(tmp_path: Path) -> None:
    from editor.providers.results import DEFAULT_URL_LIFETIME

    config = settings_with(tmp_path, CELERY_BROKER_URL="redis://127.0.0.1:6379/0")
    soft = config["celery"]["CELERY_TASK_SOFT_TIME_LIMIT"]
    hard = config["celery"]["CELERY_TASK_TIME_LIMIT"]
    # A job may wait the whole provider deadline, then retry downloads until
    # the result URLs expire; neither limit may cut that short.
    assert soft > config["deadline"] + DEFAULT_URL_LIFETIME.total_seconds()
    assert hard > soft
    assert config["transport"]["visibility_timeout"] > hard


def test_a_test_database_name_keeps_parallel_runs_apart(tmp_path: Path) -> None:
    config = settings_with(
        tmp_path,
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/test",
        DARKROOM_TEST_DATABASE_NAME="test_darkroom_4242",
    )
    assert config["database"]["TEST"]["NAME"] == "test_darkroom_4242"


def test_a_redis_broker_redelivers_only_after_the_longest_job(tmp_path: Path) -> None:
    config = settings_with(tmp_path, CELERY_BROKER_URL="redis://cache.internal:6379/3")
    celery = config["celery"]
    assert config["broker"] == "redis://cache.internal:6379/3"
    assert "CELERY_BROKER_TRANSPORT" not in celery
    # A slow job's message must not reach a second worker while the first runs it.
    visibility = config["transport"]["visibility_timeout"]
    assert visibility > celery["CELERY_TASK_TIME_LIMIT"] > config["deadline"]
    assert celery["CELERY_TASK_SOFT_TIME_LIMIT"] < celery["CELERY_TASK_TIME_LIMIT"]
    assert "polling_interval" not in config["transport"]
    # At-least-once delivery; the job row makes repeats harmless.
    assert celery["CELERY_TASK_ACKS_LATE"] is True
    assert celery["CELERY_TASK_REJECT_ON_WORKER_LOST"] is True
    assert celery["CELERY_WORKER_PREFETCH_MULTIPLIER"] == 1
    assert celery["CELERY_BROKER_CONNECTION_MAX_RETRIES"] is None
    assert celery["CELERY_TASK_PUBLISH_RETRY"] is True
    assert celery["CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS"] is False
    assert celery["CELERY_BEAT_SCHEDULE"]["recover-jobs"]["task"] == "editor.recover_jobs"
    assert celery["CELERY_BEAT_SCHEDULE_FILENAME"] == str(tmp_path / "celerybeat-schedule")


def test_rabbitmq_is_accepted_as_the_broker(tmp_path: Path) -> None:
    config = settings_with(tmp_path, CELERY_BROKER_URL="amqp://guest:guest@127.0.0.1:5672//")
    assert config["broker"].startswith("amqp://")
    assert config["celery"]["CELERY_TASK_ACKS_LATE"] is True


def test_s3_media_is_private_presigned_and_never_overwritten(tmp_path: Path) -> None:
    config = settings_with(
        tmp_path,
        DARKROOM_STORAGE="s3",
        AWS_STORAGE_BUCKET_NAME="darkroom-media",
        AWS_S3_ENDPOINT_URL="https://s3.example.net",
        AWS_S3_REGION_NAME="eu-west-1",
        AWS_ACCESS_KEY_ID="AKIAEXAMPLE",
        AWS_SECRET_ACCESS_KEY="secret",
        DARKROOM_PRESIGNED_URL_SECONDS="120",
    )
    storage = config["storages"]["default"]
    assert storage["BACKEND"] == "webapp.object_storage.S3Storage"
    options = storage["OPTIONS"]
    assert options["bucket_name"] == "darkroom-media"
    assert options["endpoint_url"] == "https://s3.example.net"
    assert options["region_name"] == "eu-west-1"
    assert options["default_acl"] == "private"
    assert options["file_overwrite"] is False
    assert options["querystring_auth"] is True
    assert options["querystring_expire"] == 120
    # Images redirect to presigned URLs on the storage host, which the editor
    # also fetches: the CSP allows both.
    assert "img-src 'self' data: blob: https://s3.example.net" in config["csp"]
    assert "connect-src 'self' https://s3.example.net" in config["csp"]


def test_check_deploy_reports_nothing_with_production_settings(tmp_path: Path) -> None:
    base = {key: value for key, value in os.environ.items() if key not in SERVICE_VARIABLES}
    completed = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "DEBUG"],
        cwd=REPO,
        env={
            **base,
            "DARKROOM_DATA_DIR": str(tmp_path),
            "SECRET_KEY": "x7Kq2-" + "Zr9tLw3vQ8mNp4sY6bHc1dFg5jXe0aUo" * 2,
            "ALLOWED_HOSTS": "darkroom.example.com",
            "CSRF_TRUSTED_ORIGINS": "https://darkroom.example.com",
            "SECURE_COOKIES": "true",
            "SECURE_SSL_REDIRECT": "true",
            "BEHIND_TLS_PROXY": "true",
            "SECURE_HSTS_SECONDS": "31536000",
            "SECURE_HSTS_INCLUDE_SUBDOMAINS": "true",
            "SECURE_HSTS_PRELOAD": "true",
        },
        capture_output=True,
        text=True,
    )
    assert completed.returncode == 0, completed.stderr
    # Silenced on purpose, and nothing else: django-ratelimit's wish for an
    # atomic cache (see CACHES in webapp/settings.py), and SQLite's note that
    # it ignores the usage index's INCLUDE columns.
    assert settings.SILENCED_SYSTEM_CHECKS == [
        "django_ratelimit.E003",
        "django_ratelimit.W001",
        "models.W040",
    ]
    assert "System check identified no issues (2 silenced)." in completed.stdout
