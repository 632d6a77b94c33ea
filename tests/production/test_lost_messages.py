"""The sweep's count of waiting messages, on each broker Darkroom supports.

The sweep compares the queued jobs with the messages waiting in the broker
(``tasks.waiting_messages``) and sends new messages only for the difference.
Each test runs on the embedded filesystem broker, on a Redis server of its
own and on RabbitMQ (127.0.0.1:5672), in a queue of its own. No worker runs:
the messages stay where the test can count them.
"""

from __future__ import annotations

import contextlib
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from editor import pipeline, tasks
from editor.models import Job, JobStatus
from tests.factories import make_job
from tests.services import celery_broker, filesystem_broker, service_missing, wait_until

RABBITMQ_URL = "amqp://guest:guest@127.0.0.1:5672//"


@contextlib.contextmanager
def job_queue_named(name: str) -> Iterator[str]:
    """Send and count job messages in the queue ``name`` (and its bulk queue)
    instead of ``darkroom``, so runs sharing a RabbitMQ server do not count
    each other's messages."""
    from webapp.celery import app

    previous = app.conf.task_default_queue
    app.conf.task_default_queue = name
    try:
        yield name
    finally:
        for queue in (name, f"{name}-bulk"):  # and the bulk queue beside it
            with contextlib.suppress(Exception), app.connection_for_write() as connection:
                declared = app.amqp.queues[queue].bind(connection.default_channel)
                declared.delete()
                declared.exchange.delete()
        app.conf.task_default_queue = previous


@pytest.fixture(params=["filesystem", "redis", "rabbitmq"])
def job_broker(request: Any, tmp_path: Path, transactional_db: None) -> Iterator[str]:
    if request.param == "filesystem":
        broker = filesystem_broker(tmp_path / "queue")
    elif request.param == "redis":
        broker = celery_broker(request.getfixturevalue("redis_server").url)
    else:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", 5672)) != 0:
                service_missing("needs RabbitMQ on 127.0.0.1:5672")
        broker = celery_broker(RABBITMQ_URL)
    with broker, job_queue_named(f"darkroom-test-{uuid.uuid4().hex[:12]}") as queue:
        yield queue


def lose_messages(queue: str, count: int) -> None:
    """Take ``count`` messages off the broker, as a crash or a lost publish would."""
    from webapp.celery import app

    with app.connection_for_write() as connection:
        channel = connection.default_channel
        for _ in range(count):
            assert channel.basic_get(queue=queue, no_ack=True) is not None


def sweep() -> dict[str, int]:
    return dict(
        pipeline.jobs_recover(enqueue=tasks.enqueue_job, waiting_messages=tasks.waiting_messages)
    )


def wait_for_messages(count: int) -> None:
    # RabbitMQ counts a message published on another connection a moment later.
    wait_until(
        lambda: tasks.waiting_messages() == count,
        timeout=10,
        message=f"the broker never held {count} messages",
    )


def test_a_long_healthy_queue_is_sent_no_message(
    job_broker: str, alice: Any, settings: Any
) -> None:
    settings.DARKROOM_LOST_AFTER_SECONDS = 0
    # The age rule alone would send every one of them a second message.
    settings.DARKROOM_REQUEUE_AFTER_SECONDS = 0
    for index in range(30):
        make_job(user=alice, prompt=f"invert {index}")
    wait_for_messages(30)
    assert sweep() == {}
    assert sweep() == {}
    assert tasks.waiting_messages() == 30


def test_jobs_whose_messages_were_lost_are_sent_new_ones_once(
    job_broker: str, alice: Any, bob: Any, settings: Any
) -> None:
    settings.DARKROOM_LOST_AFTER_SECONDS = 0
    # Too long for the age rule: only the count can find these jobs.
    settings.DARKROOM_REQUEUE_AFTER_SECONDS = 3600
    jobs = [make_job(user=user, prompt="invert") for user in (alice, bob, alice)]
    wait_for_messages(3)
    # Every message lost: an empty queue (Redis then has no list at all).
    lose_messages(job_broker, 3)
    assert tasks.waiting_messages() == 0
    assert sweep() == {"reenqueued": 3}
    wait_for_messages(3)
    assert sweep() == {}
    assert all(
        job.status == JobStatus.QUEUED
        for job in Job.objects.filter(pk__in=[job.pk for job in jobs])
    )
