"""Run Darkroom on one machine: migrations, the web server and a worker together."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

STOP_GRACE_SECONDS = 20


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
            help="Worker threads: provider calls are I/O-bound, so threads suit them.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        call_command("migrate", interactive=False, verbosity=0)
        settings.DATA_DIR.mkdir(parents=True, exist_ok=True)
        host, port = options["host"], options["port"]
        web = [
            sys.executable, "-m", "gunicorn", "webapp.wsgi:application",
            "--bind", f"{host}:{port}",
            "--workers", str(options["web_workers"]),
            "--threads", "4",
            "--access-logfile", "-",
            "--graceful-timeout", str(STOP_GRACE_SECONDS - 5),
        ]  # fmt: skip
        worker = [
            sys.executable, "-m", "celery", "--app", "webapp", "worker",
            "--pool", "threads",
            "--concurrency", str(options["concurrency"]),
            "--loglevel", "INFO",
            # The embedded beat runs the recovery sweep (jobs of dead workers,
            # lost messages); one machine needs no separate beat process.
            "--beat", "--schedule", settings.CELERY_BEAT_SCHEDULE_FILENAME,
        ]  # fmt: skip
        # Own sessions: a Ctrl-C reaches only this command, which then stops
        # both children once, in order, instead of each getting it twice.
        children = {
            name: subprocess.Popen(command, start_new_session=True)  # noqa: S603
            for name, command in (("web server", web), ("worker", worker))
        }
        stopping = False

        def stop(signum: int, frame: FrameType | None) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        self.stdout.write(self.style.SUCCESS(f"Darkroom is running at http://{host}:{port}/"))
        self.stdout.write("Press Ctrl-C to stop.")
        exit_code = 0
        while not stopping:
            for name, child in children.items():
                if child.poll() is not None:
                    self.stderr.write(
                        f"The {name} exited with status {child.returncode}; stopping."
                    )
                    stopping, exit_code = True, 1
            time.sleep(0.2)
        self._stop(list(children.values()))
        self.stdout.write("Darkroom stopped.")
        if exit_code:
            sys.exit(exit_code)

    def _stop(self, children: list[subprocess.Popen[bytes]]) -> None:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for child in children:
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
