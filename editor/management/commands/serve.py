"""Run Darkroom on one machine: migrations, the web server and a worker together."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from webapp.celery import ensure_queue_folders

STOP_GRACE_SECONDS = 20
GUNICORN_CONFIG = settings.BASE_DIR / "webapp" / "gunicorn.conf.py"
# A child that exits is started again after a delay that doubles while it
# keeps exiting soon after starting (a broken configuration must not spin),
# and starts from the beginning again once a child has run a while.
RESTART_FIRST_DELAY_SECONDS = 1.0
RESTART_MAX_DELAY_SECONDS = 60.0
RAN_WELL_SECONDS = 60.0
POLL_SECONDS = 0.2


class Child:
    """One supervised process, in a process group of its own."""

    def __init__(self, name: str, command: list[str]) -> None:
        self.name = name
        self.command = command
        self.process: subprocess.Popen[bytes] | None = None
        self.started = 0.0
        self.restart_at = 0.0
        self.delay = RESTART_FIRST_DELAY_SECONDS

    def start(self) -> None:
        # Own session: a Ctrl-C reaches only `serve`, which then stops the
        # children once, in order, instead of each getting it twice.
        self.process = subprocess.Popen(self.command, start_new_session=True)  # noqa: S603
        self.started = time.monotonic()

    def exited(self) -> int | None:
        """The exit status of a child that has just exited, else None."""
        if self.process is None or self.process.poll() is None:
            return None
        status = self.process.returncode
        self.kill_leftovers()
        self.process = None
        now = time.monotonic()
        if now - self.started >= RAN_WELL_SECONDS:
            self.delay = RESTART_FIRST_DELAY_SECONDS
        self.restart_at = now + self.delay
        self.delay = min(self.delay * 2, RESTART_MAX_DELAY_SECONDS)
        return status

    def kill_leftovers(self) -> None:
        """Kill what the child left in its group: a worker killed outright
        leaves its beat process running, a web server its workers.

        Called right after the child is reaped: POSIX keeps a group's id from
        being reused while the group has members, so this reaches only them.
        """
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)


def _web_command(options: dict[str, Any]) -> list[str]:
    """gunicorn with the production settings (webapp/gunicorn.conf.py: its
    timeouts, worker recycling, the loaded app kept out of the collector's
    full passes), and what ``serve``'s options set differently."""
    return [
        sys.executable, "-m", "gunicorn", "webapp.wsgi:application",
        "--config", str(GUNICORN_CONFIG),
        "--bind", f"{options['host']}:{options['port']}",
        "--workers", str(options["web_workers"]),
        *_web_worker_options(options["web_worker_class"]),
        "--access-logfile", "-",
        "--graceful-timeout", str(STOP_GRACE_SECONDS - 5),
    ]  # fmt: skip


def _web_worker_options(worker_class: str) -> list[str]:
    if worker_class == "gevent":
        # Each open job page holds a connection (server-sent events): greenlets
        # carry hundreds per process where a thread each would run out.
        return ["--worker-class", "gevent", "--worker-connections", "1000"]
    return ["--threads", "4"]


class Command(BaseCommand):
    help = "Apply migrations, then run the web server and a Celery worker until stopped."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--web-workers", type=int, default=2)
        parser.add_argument(
            "--concurrency",
            type=int,
            default=settings.CELERY_WORKER_CONCURRENCY,
            help="Jobs run at once: provider calls are I/O-bound (threads or greenlets).",
        )
        parser.add_argument(
            "--web-worker-class",
            choices=["gthread", "gevent"],
            default=settings.WEB_WORKER_CLASS,
            help="gevent holds hundreds of open job pages (server-sent events) per process.",
        )
        parser.add_argument(
            "--pool",
            choices=["threads", "gevent"],
            default=settings.DARKROOM_WORKER_POOL,
            help="The worker's pool (see README, Production: sizing).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["pool"] == "gevent" and settings.CELERY_BROKER_URL.startswith("filesystem://"):
            # Measured: a gevent worker on kombu's filesystem transport takes no message.
            raise CommandError(
                "--pool gevent needs a Redis or RabbitMQ broker (CELERY_BROKER_URL); "
                "the embedded filesystem queue works with --pool threads only."
            )
        call_command("migrate", interactive=False, verbosity=0)
        settings.DATA_DIR.mkdir(parents=True, exist_ok=True)
        # Before either child starts: the web server may queue a job before
        # the worker has configured itself and made the queue's folders.
        ensure_queue_folders()
        # The children read their settings from the environment: the web
        # server's class decides whether job pages keep an event stream.
        os.environ["WEB_WORKER_CLASS"] = options["web_worker_class"]
        host, port = options["host"], options["port"]
        web = _web_command(options)
        worker = [
            sys.executable, "-m", "celery", "--app", "webapp", "worker",
            "--pool", options["pool"],
            "--concurrency", str(options["concurrency"]),
            "--loglevel", "INFO",
            # The embedded beat runs the recovery sweep (jobs of dead workers,
            # lost messages); one machine needs no separate beat process.
            "--beat", "--schedule", settings.CELERY_BEAT_SCHEDULE_FILENAME,
        ]  # fmt: skip
        children = [Child("web server", web), Child("worker", worker)]
        stopping = False

        def stop(signum: int, frame: FrameType | None) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        for child in children:
            child.start()
        self.stdout.write(self.style.SUCCESS(f"Darkroom is running at http://{host}:{port}/"))
        self.stdout.write("Press Ctrl-C to stop.")
        self.stdout.flush()
        while not stopping:
            self._supervise(children)
            time.sleep(POLL_SECONDS)
        self._stop(children)
        self.stdout.write("Darkroom stopped.")

    def _supervise(self, children: list[Child]) -> None:
        """Start again any child that exited; the others keep running meanwhile."""
        for child in children:
            status = child.exited()
            if status is not None:
                self.stderr.write(
                    f"The {child.name} exited with status {status}; "
                    f"starting it again in {child.restart_at - time.monotonic():.0f} s."
                )
            if child.process is None and time.monotonic() >= child.restart_at:
                child.start()
                assert child.process is not None
                self.stderr.write(f"Started the {child.name} again (pid {child.process.pid}).")

    def _stop(self, children: list[Child]) -> None:
        running = [child for child in children if child.process is not None]
        for child in running:
            assert child.process is not None
            if child.process.poll() is None:
                child.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for child in running:
            assert child.process is not None
            try:
                child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.process.kill()
                child.process.wait()
            child.kill_leftovers()
