"""gunicorn settings for production: ``gunicorn -c webapp/gunicorn.conf.py webapp.wsgi``.

Each value can be changed with the environment (``PORT``, ``WEB_CONCURRENCY``,
``WEB_THREADS``, ``FORWARDED_ALLOW_IPS``) or on the command line.
"""

from __future__ import annotations

import multiprocessing
import os

bind = f"{os.environ.get('HOST', '0.0.0.0')}:{os.environ.get('PORT', '8000')}"  # noqa: S104
# Requests mostly wait on the database and storage: a few processes with
# threads each serve many users; uploads are parsed in the process.
workers = int(os.environ.get("WEB_CONCURRENCY", min(2 * multiprocessing.cpu_count() + 1, 8)))
threads = int(os.environ.get("WEB_THREADS", "4"))
# gevent: each process serves up to WEB_WORKER_CONNECTIONS requests at once,
# which open job pages (server-sent events, held open) need; with gthread each
# open page holds one of the WEB_THREADS threads. See README, Production.
worker_class = os.environ.get("WEB_WORKER_CLASS", "gthread")
worker_connections = int(os.environ.get("WEB_WORKER_CONNECTIONS", "1000"))
# Large uploads over slow links need time; a stuck request is still killed.
timeout = int(os.environ.get("WEB_TIMEOUT", "120"))
graceful_timeout = 30
keepalive = 5
# Recycle processes now and then so a slow leak can never take a server down.
max_requests = 2000
max_requests_jitter = 200
# The TLS proxy in front sets X-Forwarded-Proto; trust it only from there.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
accesslog = "-"
errorlog = "-"
# Worker heartbeats on tmpfs: a slow disk must not look like a hung worker.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None  # noqa: S108


def post_worker_init(worker: object) -> None:
    """The app is loaded: keep the collector's full passes off it (webapp/memory.py)."""
    from webapp.memory import freeze_loaded_objects

    freeze_loaded_objects()
