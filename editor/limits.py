"""What a user may submit: spending limits, fair-use caps and model access.

``services.job_create`` asks this module before anything is stored or
queued; a refusal is a ``SubmissionRefused`` whose ``message`` is written for
the person who submitted (the web form shows it, the /v1/ API returns it).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.contrib.auth.models import User

from editor.models import ImageModel


class SubmissionRefused(Exception):
    """A job that may not be submitted now; nothing was stored or queued."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ModelNotAvailable(SubmissionRefused):
    """The model is switched off, retired, or hidden from this user's groups."""


class OverBudget(SubmissionRefused):
    """The run would take the user's spend past a monthly or daily limit."""

    def __init__(self, message: str, *, remaining: Decimal, resets_at: datetime) -> None:
        super().__init__(message)
        self.remaining = remaining
        self.resets_at = resets_at


class RateLimited(SubmissionRefused):
    """Too many jobs queued or running, or submitted in the last minute."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        # Whole seconds until a submission may succeed (the Retry-After header).
        self.retry_after = retry_after


MODEL_NOT_AVAILABLE = (
    "That model is not available: it may have been switched off or removed since the page "
    "was loaded. Choose another model."
)


def submission_admit(
    *,
    user: User,
    image_model: ImageModel,
    estimated_cost: Decimal | None,
    now: datetime,
) -> None:
    """Refuse the submission (raise ``SubmissionRefused``) unless the user may run it now.

    Call inside the transaction that creates the job, so the checks and the
    new row are one step for concurrent submissions of the same user.
    """
    if not ImageModel.objects.available_to(user).filter(pk=image_model.pk).exists():
        raise ModelNotAvailable(MODEL_NOT_AVAILABLE)
