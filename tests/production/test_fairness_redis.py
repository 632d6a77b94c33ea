"""Fairness on the production broker: Redis, a worker process, PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest

from tests.test_fairness import BURST, run_burst_then_one

pytestmark = pytest.mark.services


def test_a_burst_does_not_hold_another_users_job_behind_it_on_redis(
    workers: Any, alice: Any, bob: Any, offline_model: Any
) -> None:
    workers("fair", concurrency=2)
    done_before = run_burst_then_one(alice, bob, offline_model)
    assert done_before < BURST // 2, done_before
    assert done_before <= 20, done_before
