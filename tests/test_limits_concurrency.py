"""Parallel submissions of one user cannot overspend (each its own connection)."""

from __future__ import annotations

import threading
from collections import Counter
from decimal import Decimal
from typing import Any

from django.db import connection, connections

from editor import limits, services
from editor.models import ImageModel, Job, Provider, UserLimits

SUBMISSIONS = 50


def test_fifty_parallel_submissions_with_room_for_ten_create_exactly_ten(
    transactional_db: None, alice: Any, bob: Any
) -> None:
    provider = Provider.objects.create(name="router", kind="imagerouter", base_url="http://x")
    model = ImageModel.objects.create(
        provider=provider, model_id="painter-1", label="Painter", can_generate=True
    )
    UserLimits.objects.create(user=alice, monthly_limit=Decimal("1.00"))
    start = threading.Barrier(SUBMISSIONS)
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()

    def submit() -> None:
        try:
            start.wait(timeout=30)
            services.job_create(
                user=alice,
                image_model=model,
                prompt="a lighthouse",
                params={"n": 1},
                images=[],
                estimated_cost=Decimal("0.10"),
            )
            outcome = "created"
        except limits.OverBudget:
            outcome = "refused"
        except Exception as error:  # reported below, with its kind
            outcome = f"error: {error!r}"
        finally:
            connections.close_all()
        with lock:
            outcomes[outcome] += 1

    threads = [threading.Thread(target=submit) for _ in range(SUBMISSIONS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert outcomes == {"created": 10, "refused": 40}, (connection.vendor, outcomes)
    assert Job.objects.filter(owner=alice).count() == 10
    # Another user's budget is untouched.
    assert limits.spend_summary(user=bob).month_spend == 0
    assert limits.spend_summary(user=alice).month_spend == Decimal("1.00")
