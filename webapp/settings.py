"""Darkroom settings.

One file, read from the environment. Every value has a default that lets a
fresh checkout run with no services at all (SQLite, local files and a
filesystem queue under ``DARKROOM_DATA_DIR``); production differs only by
environment variables, never by code paths.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import dj_database_url
import django_stubs_ext
from django.core.exceptions import ImproperlyConfigured
from kombu import Exchange, Queue

# Lets classes such as ModelAdmin[Provider] be subscripted at run time.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


def env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    return float(value) if value else default


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DATA_DIR = Path(env_str("DARKROOM_DATA_DIR", str(BASE_DIR / "var"))).resolve()


def _secret_key() -> str:
    """SECRET_KEY from the environment, else one generated once per data dir.

    A self-hosted install should never run on a key published in a repository,
    and should not lose its sessions on every restart either.
    """
    if key := env_str("SECRET_KEY"):
        return key
    key_file = DATA_DIR / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(50)
    key_file.write_text(key)
    key_file.chmod(0o600)
    return key


SECRET_KEY = _secret_key()
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "template_partials",
    "storages",
    "axes",
    "django_ratelimit",
    "editor",
]

MIDDLEWARE = [
    # First, so it runs once everything else is done with the request.
    "webapp.memory.CollectAfterBigBodiesMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "webapp.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    # Django's, with the user read through the sessions cache (editor/user_cache.py).
    "editor.user_cache.CachedAuthenticationMiddleware",
    "webapp.middleware.PrivatePagesMiddleware",
    "webapp.middleware.ReadableRefusalsMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # Dates in the person's own zone (a cookie the browser sets, see README).
    "webapp.timezones.UserTimezoneMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Before anything reads the body (see its docstring).
    "webapp.middleware.RequestSizeLimitMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into its page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "webapp.urls"
# Refusals are pages in the site's layout (webapp/errors.py); so is this one.
CSRF_FAILURE_VIEW = "webapp.errors.csrf_failure"
WSGI_APPLICATION = "webapp.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{DATA_DIR / 'db.sqlite3'}"),
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 0),
        conn_health_checks=True,
    )
}
if test_database := env_str("DARKROOM_TEST_DATABASE_NAME"):
    # The test runner creates and drops this database; a name per run keeps
    # test runs on one shared PostgreSQL server apart.
    DATABASES["default"]["TEST"] = {"NAME": test_database}
elif DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # An in-memory test database shares one cache between threads and fails
    # at once on a lock ("database table is locked") where a file waits, so
    # tests with a real worker use a file of their own, as production does.
    DATABASES["default"]["TEST"] = {
        "NAME": str(Path(tempfile.gettempdir()) / f"darkroom-test-{os.getpid()}.sqlite3")
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and (
    pool_size := env_int("DATABASE_POOL_MAX_SIZE", 0)
):
    # A pool per process (psycopg_pool): a worker takes a connection for each
    # short write and gives it back before waiting on a provider, so a few
    # connections serve hundreds of jobs; a thread finding none free waits up
    # to DATABASE_POOL_TIMEOUT seconds. Django refuses a pool together with
    # persistent connections: the pool is what keeps them.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": min(2, pool_size),
        "max_size": pool_size,
        "timeout": env_float("DATABASE_POOL_TIMEOUT", 10.0),
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Darkroom's queries read a page of rows from an index: starting a
    # parallel worker costs more (~10 ms) than it saves. An ``options`` query
    # parameter in DATABASE_URL still wins.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
        "options", "-c max_parallel_workers_per_gather=0"
    )
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web server and the worker threads write to the same file: WAL lets
    # readers run beside a writer, IMMEDIATE transactions take the write lock
    # up front (no upgrade deadlocks), and the timeout waits out short locks.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }

# A cache every web process shares, in the database Darkroom already uses; the
# password reset rate limit counts there. `migrate` creates its table.
CACHES: dict[str, dict[str, Any]] = {
    "default": {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "darkroom_cache",
    }
}
# Sessions and the logged-in user are read from a cache on every request
# (cached_db sessions: written through to the database, read from the cache).
# CACHE_URL (Redis) serves every process on every machine; without it, the
# embedded SQLite setup (one machine) keeps them in files under the data
# folder, and a PostgreSQL setup falls back to the shared database cache
# (correct across machines, but then a request costs two queries again).
CACHE_URL = env_str("CACHE_URL")
if CACHE_URL:
    CACHES["default"] = {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": CACHE_URL,
    }
    CACHES["sessions"] = CACHES["default"]
elif DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    CACHES["sessions"] = {
        "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
        "LOCATION": str(DATA_DIR / "cache" / "sessions"),
        # Culling only drops cached copies; the database keeps every session.
        "OPTIONS": {"MAX_ENTRIES": 100_000},
    }
else:
    CACHES["sessions"] = CACHES["default"]
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
SESSION_CACHE_ALIAS = "sessions"
# django-ratelimit prefers memcached or Redis, whose increments are atomic; in
# the database cache a burst of simultaneous requests may count a few short,
# which limits of a few per hour tolerate, and no new service is needed.
SILENCED_SYSTEM_CHECKS = [
    "django_ratelimit.E003",
    "django_ratelimit.W001",
    # The usage index covers its columns with INCLUDE on PostgreSQL (an
    # index-only scan); SQLite ignores the extra columns, which is fine there.
    "models.W040",
]

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Accounts -------------------------------------------------------------

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    # django-axes refuses a paused login before the password is checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Login throttling (django-axes), on the site's and the admin's login alike:
# the DARKROOM_LOGIN_FAILURE_LIMIT-th wrong password in a row for one account,
# or from one client address, pauses logging in there for
# DARKROOM_LOGIN_LOCKOUT_MINUTES; a successful login starts the count again.
# The counts are rows in the database, seen by every web process.
AXES_FAILURE_LIMIT = env_int("DARKROOM_LOGIN_FAILURE_LIMIT", 6)
AXES_COOLOFF_TIME = timedelta(minutes=env_float("DARKROOM_LOGIN_LOCKOUT_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
# Attempts while paused are not counted, so the wait shown is the real one.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_LOCKOUT_CALLABLE = "webapp.errors.login_locked_out"
AXES_CLIENT_IP_CALLABLE = "webapp.throttling.client_ip"
AXES_USERNAME_CALLABLE = "webapp.throttling.attempted_username"
# Darkroom keeps no trail of successful logins.
AXES_DISABLE_ACCESS_LOG = True
# Password reset requests, counted per address asked for and per client.
DARKROOM_PASSWORD_RESET_RATE = env_str("DARKROOM_PASSWORD_RESET_RATE", "5/h")
RATELIMIT_IP_META_KEY = "webapp.throttling.client_ip"
# Behind a proxy: the header holding the client's address (webapp/throttling.py).
DARKROOM_CLIENT_IP_HEADER = env_str("DARKROOM_CLIENT_IP_HEADER")
DARKROOM_TRUSTED_PROXIES = env_int("DARKROOM_TRUSTED_PROXIES", 1)

# Who may create an account: "open" (anyone who reaches the site), "invite"
# (only with an invite link from staff: the admin or `manage.py invite
# create`) or "closed" (nobody; staff create accounts in the admin). A
# production deployment (DEBUG off, a DATABASE_URL) defaults to invite-only;
# the embedded defaults (no DATABASE_URL: one person on one machine) and
# DEBUG default to open, so a fresh checkout can sign up its first user.
SIGNUP_MODES = ("open", "invite", "closed")


def default_signup_mode(*, debug: bool, database_url: str) -> str:
    return "open" if debug or not database_url else "invite"


DARKROOM_SIGNUP = env_str("DARKROOM_SIGNUP").strip().lower() or default_signup_mode(
    debug=DEBUG, database_url=env_str("DATABASE_URL")
)
if DARKROOM_SIGNUP not in SIGNUP_MODES:
    raise ImproperlyConfigured(
        f"DARKROOM_SIGNUP must be one of {', '.join(SIGNUP_MODES)}, not {DARKROOM_SIGNUP!r}."
    )
# A new account stays inactive until the link mailed to its address is opened.
DARKROOM_SIGNUP_VERIFY_EMAIL = env_bool("DARKROOM_SIGNUP_VERIFY_EMAIL", False)
# The site's address as people reach it, for links made outside a request
# (`manage.py invite create`).
DARKROOM_SITE_URL = env_str("DARKROOM_SITE_URL", "http://127.0.0.1:8000").rstrip("/")

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "editor:editor"
LOGOUT_REDIRECT_URL = "login"

EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "darkroom@localhost")
if email_url := env_str("EMAIL_HOST"):
    EMAIL_HOST = email_url
    EMAIL_PORT = env_int("EMAIL_PORT", 587)
    EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
    EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
    EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)

# --- Internationalisation -------------------------------------------------

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# --- Static and media files -----------------------------------------------

STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
# WhiteNoise warns at every start when this folder is missing.
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
# WhiteNoise serves straight from the finders, so no collectstatic step is
# needed before the first run; production may still collect for speed.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

MEDIA_ROOT = Path(env_str("DARKROOM_MEDIA_ROOT", str(DATA_DIR / "media")))
# Media is never public: every file is served by a view that checks its owner.
MEDIA_URL = None

DARKROOM_STORAGE = env_str("DARKROOM_STORAGE", "local")
if DARKROOM_STORAGE == "s3":
    _default_storage = {
        "BACKEND": "webapp.object_storage.S3Storage",
        "OPTIONS": {
            "bucket_name": env_str("AWS_STORAGE_BUCKET_NAME"),
            "endpoint_url": env_str("AWS_S3_ENDPOINT_URL") or None,
            "region_name": env_str("AWS_S3_REGION_NAME") or None,
            "access_key": env_str("AWS_ACCESS_KEY_ID") or None,
            "secret_key": env_str("AWS_SECRET_ACCESS_KEY") or None,
            "default_acl": "private",
            "file_overwrite": False,
            "querystring_auth": True,
            # Presigned read URLs live 15 minutes at most, whatever is configured.
            "querystring_expire": min(env_int("DARKROOM_PRESIGNED_URL_SECONDS", 300), 900),
            "signature_version": "s3v4",
            "addressing_style": env_str("AWS_S3_ADDRESSING_STYLE") or None,
        },
    }
else:
    _default_storage = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": MEDIA_ROOT, "base_url": None},
    }
STORAGES = {
    "default": _default_storage,
    # Hashed, compressed files once `collectstatic` has run; plain names before.
    "staticfiles": {"BACKEND": "webapp.staticfiles.StaticFilesStorage"},
}

# Uploads. Each file is stopped as soon as it passes DARKROOM_MAX_UPLOAD_BYTES
# (webapp/uploads.py), and a request body over DARKROOM_MAX_REQUEST_BYTES is
# refused before it is read (webapp/middleware.py): by default room for the
# most images a job takes plus a mask, each at the per-file limit, and 1 MB of
# form fields. A proxy in front should refuse the same (README: nginx).
DARKROOM_MAX_UPLOAD_BYTES = env_int("DARKROOM_MAX_UPLOAD_BYTES", 25 * 1024 * 1024)
DARKROOM_MAX_IMAGE_PIXELS = env_int("DARKROOM_MAX_IMAGE_PIXELS", 40_000_000)
DARKROOM_MAX_INPUT_IMAGES = 16
DARKROOM_MAX_REQUEST_BYTES = env_int(
    "DARKROOM_MAX_REQUEST_BYTES",
    (DARKROOM_MAX_INPUT_IMAGES + 1) * DARKROOM_MAX_UPLOAD_BYTES + 1024 * 1024,
)
FILE_UPLOAD_HANDLERS = [
    "webapp.uploads.FileSizeLimitUploadHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]
# The images of one job and its mask.
DATA_UPLOAD_MAX_NUMBER_FILES = DARKROOM_MAX_INPUT_IMAGES + 1
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DARKROOM_THUMBNAIL_SIZE = env_int("DARKROOM_THUMBNAIL_SIZE", 384)
# Behind nginx, file views can hand the transfer to nginx (X-Accel-Redirect)
# instead of streaming bytes through Python. Empty disables it.
DARKROOM_X_ACCEL_PREFIX = env_str("DARKROOM_X_ACCEL_PREFIX")

# The image API (/v1/, editor/api/): on unless switched off; how long a
# synchronous call waits for its job before answering 202 with the job's id;
# how many requests with a wrong token one client address may make.
DARKROOM_API_ENABLED = env_bool("DARKROOM_API_ENABLED", True)
DARKROOM_API_WAIT_SECONDS = env_float("DARKROOM_API_WAIT_SECONDS", 120.0)
DARKROOM_API_BAD_TOKEN_RATE = env_str("DARKROOM_API_BAD_TOKEN_RATE", "20/m")

# --- Celery ---------------------------------------------------------------

QUEUE_DIR = DATA_DIR / "queue"
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    # kombu's filesystem transport with atomic writes and a reader that sets
    # unreadable messages aside instead of stopping the worker (webapp/broker.py).
    CELERY_BROKER_TRANSPORT = "webapp.broker:Transport"
    # data_folder_in and _out must be the same folder or messages are never
    # seen; control_folder defaults to a relative path; processed messages
    # would pile up forever if stored.
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {
        "data_folder_in": str(QUEUE_DIR / "messages"),
        "data_folder_out": str(QUEUE_DIR / "messages"),
        "control_folder": str(QUEUE_DIR / "control"),
        "rejected_folder": str(QUEUE_DIR / "rejected"),
        "store_processed": False,
        "polling_interval": 0.1,
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        # Longer than the longest provider deadline, so a slow job's message
        # is not handed to a second worker while the first still runs it.
        "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 2 * 60 * 60),
    }
# How gunicorn serves requests (webapp/gunicorn.conf.py, `serve`): gthread, or
# gevent for hundreds of open job pages per process.
WEB_WORKER_CLASS = env_str("WEB_WORKER_CLASS", "gthread")
# The worker pool `serve` starts: threads, or gevent (README, Production).
# Named apart from Celery's own worker_pool setting, which would override a
# worker's --pool on the command line; serve passes it as --pool.
DARKROOM_WORKER_POOL = env_str("CELERY_WORKER_POOL", "threads")
# Job changes published over Redis (editor/events.py): a Redis URL, by
# default the broker's when the broker is Redis. Waiting API requests hear of
# their job's end at once, and open job pages too where DARKROOM_PAGE_EVENTS
# is on. Empty: nothing is published; pages and API requests re-read the job.
DARKROOM_EVENTS_URL = env_str(
    "DARKROOM_EVENTS_URL",
    CELERY_BROKER_URL if CELERY_BROKER_URL.startswith(("redis://", "rediss://")) else "",
)
# Open job pages keep a server-sent events stream for those changes. On by
# default with gevent web workers only: an open page holds a connection, which
# greenlets carry by the hundred; with gthread it would hold a thread, so
# pages poll instead.
DARKROOM_PAGE_EVENTS = env_bool("DARKROOM_PAGE_EVENTS", WEB_WORKER_CLASS == "gevent")
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A worker keeps reconnecting to a broker that went away, however long it takes.
CELERY_BROKER_CONNECTION_RETRY = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
# The web process retries a publish briefly; a job whose message still did
# not go out is re-enqueued by the recovery sweep (it stays queued meanwhile).
CELERY_TASK_PUBLISH_RETRY = True
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 3,
    "interval_start": 0,
    "interval_step": 0.5,
    "interval_max": 2,
}
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_DEFAULT_QUEUE = "darkroom"
# Workers consume both queues, taking from each in turn (kombu's fair cycle
# on every transport), so one user's burst in the bulk queue cannot hold
# another user's job in the interactive one (see editor/tasks.py).
CELERY_TASK_QUEUES = [
    Queue(name, Exchange(name), routing_key=name)
    for name in (CELERY_TASK_DEFAULT_QUEUE, f"{CELERY_TASK_DEFAULT_QUEUE}-bulk")
]
# At-least-once delivery: the job row, not the message, decides what runs.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Longer than a provider call (DARKROOM_PROVIDER_DEADLINE, 10 min) plus the
# hour during which result downloads are retried before the provider's URLs
# expire: a time limit must never cut off a result that was paid for.
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 75 * 60)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 80 * 60)
CELERY_WORKER_CONCURRENCY = env_int("CELERY_WORKER_CONCURRENCY", 8)
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# When the broker connection drops, a running job keeps running: cancelling it
# would throw away a provider call already paid for. Its late ack is lost with
# the connection, so the message comes back; the job row, by then final or
# still running, makes that second delivery do nothing.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
# The recovery sweep, run by the beat embedded in `serve`'s worker or by one
# `celery beat` process (see README, Production).
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")
DARKROOM_SWEEP_SECONDS = env_float("DARKROOM_SWEEP_SECONDS", 60.0)
# How often beat refreshes every provider's models from its listing (new
# models appear, retired ones are switched off); workers also do it at start.
DARKROOM_PROVIDER_SYNC_SECONDS = env_float("DARKROOM_PROVIDER_SYNC_SECONDS", 6 * 60 * 60)
# Trashed jobs are deleted for good, files and all, this many days after
# being trashed; beat looks for them this often.
DARKROOM_TRASH_DAYS = env_float("DARKROOM_TRASH_DAYS", 30.0)
DARKROOM_TRASH_PURGE_SECONDS = env_float("DARKROOM_TRASH_PURGE_SECONDS", 60 * 60)
# How often beat brings the daily usage totals up to date (editor/usage.py).
DARKROOM_USAGE_ROLLUP_SECONDS = env_float("DARKROOM_USAGE_ROLLUP_SECONDS", 5 * 60)
CELERY_BEAT_SCHEDULE = {
    "recover-jobs": {
        "task": "editor.recover_jobs",
        "schedule": DARKROOM_SWEEP_SECONDS,
        # A sweep nobody ran in time is replaced by the next one.
        "options": {"expires": DARKROOM_SWEEP_SECONDS},
    },
    "sync-providers": {
        "task": "editor.sync_providers",
        "schedule": DARKROOM_PROVIDER_SYNC_SECONDS,
        "options": {"expires": DARKROOM_PROVIDER_SYNC_SECONDS},
    },
    "purge-trash": {
        "task": "editor.purge_trash",
        "schedule": DARKROOM_TRASH_PURGE_SECONDS,
        "options": {"expires": DARKROOM_TRASH_PURGE_SECONDS},
    },
    # Yesterday's and today's usage totals, for the operator's dashboard.
    "roll-up-usage": {
        "task": "editor.roll_up_usage",
        "schedule": DARKROOM_USAGE_ROLLUP_SECONDS,
        "options": {"expires": DARKROOM_USAGE_ROLLUP_SECONDS},
    },
}

# --- Job recovery -----------------------------------------------------------

# A running job touches its row this often ...
DARKROOM_HEARTBEAT_SECONDS = env_float("DARKROOM_HEARTBEAT_SECONDS", 10.0)
# ... and counts as abandoned by a dead worker after this long without a touch.
DARKROOM_STALE_AFTER_SECONDS = env_float("DARKROOM_STALE_AFTER_SECONDS", 60.0)
# When the broker holds fewer waiting messages than there are queued jobs,
# some messages were lost: the jobs queued longest, once they have waited
# this long since their last message, are sent new ones.
DARKROOM_LOST_AFTER_SECONDS = env_float("DARKROOM_LOST_AFTER_SECONDS", 60.0)
# When the broker cannot tell how many messages wait, a job queued this long
# since its last message is sent a new one instead.
DARKROOM_REQUEUE_AFTER_SECONDS = env_float("DARKROOM_REQUEUE_AFTER_SECONDS", 600.0)
# A job's write that finds the database out of reach (no connection free) is
# retried this long; after that the job is left to the sweep.
DARKROOM_DATABASE_RETRY_SECONDS = env_float("DARKROOM_DATABASE_RETRY_SECONDS", 60.0)
# A job whose worker died this many times is failed instead of started again.
DARKROOM_MAX_DELIVERIES = env_int("DARKROOM_MAX_DELIVERIES", 3)

# --- Limits (site-wide defaults; the admin's "site-wide default limits" row
# and per-group and per-user limits override them, see editor/limits.py) ----


def env_money(name: str, default: str = "", *, words: tuple[str, ...] = ()) -> str:
    """An amount in USD (or one of ``words``), checked at start rather than
    at the first submission."""
    value = env_str(name, default).strip().lower()
    if value and value not in words:
        try:
            valid = Decimal(value.lstrip("$")) >= 0
        except InvalidOperation:
            valid = False
        if not valid:
            allowed = " or ".join((*words, "an amount in USD such as 5 or 2.50"))
            raise ImproperlyConfigured(f"{name} must be {allowed}, not {value!r}.")
    return value


# USD per calendar month and per day (TIME_ZONE); empty: no limit.
DARKROOM_MONTHLY_LIMIT = env_money("DARKROOM_MONTHLY_LIMIT")
DARKROOM_DAILY_LIMIT = env_money("DARKROOM_DAILY_LIMIT")
# Jobs one user may have queued or running at once, and submit per minute;
# 0: no cap (the default: an upgrade refuses nothing it accepted before).
DARKROOM_MAX_ACTIVE_JOBS = env_int("DARKROOM_MAX_ACTIVE_JOBS", 0)
DARKROOM_JOBS_PER_MINUTE = env_int("DARKROOM_JOBS_PER_MINUTE", 0)
# How a run of a model without a known price counts against a budget:
# "block", "allow" (nothing until its real cost is known) or a price in USD.
DARKROOM_UNPRICED_MODELS = env_money("DARKROOM_UNPRICED_MODELS", "allow", words=("block", "allow"))
# Fairness: a user's first jobs in flight go to the interactive queue, the
# rest of a burst to the bulk queue; workers take from both in turn.
DARKROOM_INTERACTIVE_JOBS = env_int("DARKROOM_INTERACTIVE_JOBS", 2)

# --- Providers ------------------------------------------------------------

# Fernet keys, newest first, comma-separated. Empty: a key derived from
# SECRET_KEY (fine for a single machine; set a dedicated key in production).
DARKROOM_ENCRYPTION_KEYS = env_list("DARKROOM_ENCRYPTION_KEYS")
DARKROOM_PROVIDER_CONNECT_TIMEOUT = env_float("DARKROOM_PROVIDER_CONNECT_TIMEOUT", 10.0)
DARKROOM_PROVIDER_DEADLINE = env_float("DARKROOM_PROVIDER_DEADLINE", 600.0)
# One variable adds a ready provider of that kind (created or updated after
# migrate); dalle2 has no default address, so it needs its base URL too.
DARKROOM_ENV_PROVIDERS = {
    kind: {
        "api_key": env_str(f"{prefix}_API_KEY"),
        "base_url": env_str(f"{prefix}_BASE_URL"),
    }
    for kind, prefix in [
        ("imagerouter", "IMAGEROUTER"),
        ("openai", "OPENAI"),
        ("nanogpt", "NANOGPT"),
        ("dalle2", "DALLE2"),
    ]
}

# --- Logging --------------------------------------------------------------

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
        # Failures and pauses are warnings; every attempt at INFO is noise.
        "axes": {"level": "WARNING"},
    },
}

# --- Security -------------------------------------------------------------

SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
# Load balancers probe over plain HTTP on the private network.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
if env_bool("BEHIND_TLS_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"


def _storage_image_sources() -> list[str]:
    """Where presigned image redirects point, for the CSP's img-src."""
    if DARKROOM_STORAGE != "s3":
        return []
    endpoint = env_str("AWS_S3_ENDPOINT_URL").rstrip("/")
    if not endpoint:
        return ["https://*.amazonaws.com"]
    scheme, _, host = endpoint.partition("://")
    # Path-style URLs use the endpoint's host, virtual-hosted ones a subdomain.
    return [endpoint, f"{scheme}://*.{host}"]


# Scripts only from our own static files (no inline scripts, no eval). Inline
# styles stay allowed: templates set CSS variables in style attributes and
# htmx adds its indicator styles at run time. Images may be data:/blob: URLs
# (the mask painter's canvas) or presigned storage URLs, which the editor also
# fetches to paint over an earlier result.
DARKROOM_CSP = env_str("DARKROOM_CSP") or "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        " ".join(
            [
                "img-src 'self' data: blob:",
                *_storage_image_sources(),
                *env_list("DARKROOM_CSP_IMG_SRC"),
            ]
        ),
        " ".join(["connect-src 'self'", *_storage_image_sources()]),
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
