"""The S3 media storage makes one boto3 session per process, not one per thread."""

from __future__ import annotations

import threading
from typing import Any

import boto3
import pytest

from webapp import object_storage


def test_threads_share_one_boto3_session_and_keep_their_own_resource(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made: list[Any] = []
    real_session = boto3.Session

    def counted_session(**credentials: Any) -> Any:
        session = real_session(**credentials)
        made.append(session)
        return session

    monkeypatch.setattr(boto3, "Session", counted_session)
    monkeypatch.setattr(object_storage, "_sessions", {})
    storage = object_storage.S3Storage(
        bucket_name="photos",
        region_name="us-east-1",
        access_key="testing",
        secret_key="testing",
    )
    start = threading.Barrier(20)
    resources: list[Any] = []

    def first_use() -> None:
        start.wait()
        resources.append(storage.connection)
        # The same thread asks again: its resource is kept.
        assert storage.connection is resources[-1]

    threads = [threading.Thread(target=first_use) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(made) == 1
    # boto3 resources are not thread-safe: each thread still has its own.
    assert len({id(resource) for resource in resources}) == 20
