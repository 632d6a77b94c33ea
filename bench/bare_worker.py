"""The anchor for bench/pipeline.py: a bare Celery worker whose only task is
the provider call, with httpx, on the same broker and pool as Darkroom's.

    celery -A bench.bare_worker worker --pool threads --concurrency 500
"""

from __future__ import annotations

import os

import httpx
from celery import Celery

BROKER = os.environ.get("BENCH_BARE_BROKER", "filesystem://")
# Not the current app: bench/pipeline.py imports this beside Darkroom, whose
# tasks (shared_task) are sent through the current app. As the current app,
# this one took Darkroom's messages to its own queues, where no Darkroom
# worker looked: the jobs of any part run after the bare worker's stayed
# queued.
app = Celery("bare", set_as_current=False)
if BROKER.startswith("filesystem://"):
    folder = os.path.join(os.environ.get("DARKROOM_DATA_DIR", "/tmp"), "bare-queue")
    os.makedirs(folder, exist_ok=True)
    app.conf.broker_url = "filesystem://"
    app.conf.broker_transport_options = {
        "data_folder_in": folder,
        "data_folder_out": folder,
        "control_folder": folder,
        "store_processed": False,
        "polling_interval": 0.1,
    }
else:
    app.conf.broker_url = BROKER
app.conf.task_default_queue = "bare"
app.conf.task_acks_late = True
app.conf.worker_prefetch_multiplier = 1
app.conf.task_ignore_result = True


@app.task(name="bare.call")
def call(url: str) -> None:
    with httpx.Client(timeout=600) as client:
        client.post(url, json={"prompt": "bare", "n": 1}).raise_for_status()
