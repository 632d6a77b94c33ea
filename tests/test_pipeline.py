"""Running a job by calling the pipeline directly (the task's body)."""

from __future__ import annotations

from typing import Any

from editor import pipeline
from editor.models import ImageRole, Job, JobStatus
from editor.providers.base import ProviderError
from editor.providers.offline import OfflineAdapter
from tests.factories import make_job
from tests.images import image_bytes, mask_bytes, open_bytes


def test_it_runs_an_edit_to_a_stored_grayscale_result(alice: Any) -> None:
    job = make_job(user=alice, images=[image_bytes(colour=(200, 40, 40))])
    pipeline.run_job(job_id=str(job.pk))
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED
    assert job.started and job.finished and job.started <= job.finished
    result = job.images.get(role=ImageRole.RESULT)
    with result.file.open("rb") as handle:
        data = handle.read()
    r, g, b = open_bytes(data).convert("RGB").getpixel((3, 3))
    assert r == g == b
    assert (result.width, result.height, result.format, result.bytes) == (64, 48, "PNG", len(data))
    assert len(result.sha256) == 64
    # Made when first asked for, not while the result is stored.
    assert not result.thumbnail


def test_a_redelivered_message_does_no_harm(alice: Any, monkeypatch: Any) -> None:
    job = make_job(user=alice)
    calls: list[str] = []
    real_edit = OfflineAdapter.edit

    def counting_edit(self: Any, request: Any, *, observer: Any) -> Any:
        calls.append(request.prompt)
        return real_edit(self, request, observer=observer)

    monkeypatch.setattr(OfflineAdapter, "edit", counting_edit)
    pipeline.run_job(job_id=str(job.pk))
    pipeline.run_job(job_id=str(job.pk))
    assert len(calls) == 1
    assert job.images.filter(role=ImageRole.RESULT).count() == 1


def test_a_missing_job_is_ignored(db: None) -> None:
    pipeline.run_job(job_id="00000000-0000-0000-0000-000000000000")


def test_a_provider_error_fails_the_job_with_its_message(alice: Any, monkeypatch: Any) -> None:
    job = make_job(user=alice)

    def refusing_edit(self: Any, request: Any, *, observer: Any) -> Any:
        raise ProviderError(
            "Your request was rejected by the safety system.",
            code="moderation_blocked",
            detail={"stage": "input"},
        )

    monkeypatch.setattr(OfflineAdapter, "edit", refusing_edit)
    pipeline.run_job(job_id=str(job.pk))
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert job.error == {
        "code": "moderation_blocked",
        "message": "Your request was rejected by the safety system.",
        "detail": {"stage": "input"},
    }
    assert job.finished is not None


def test_an_unexpected_error_fails_the_job_readably(alice: Any, monkeypatch: Any) -> None:
    job = make_job(user=alice)
    monkeypatch.setattr(OfflineAdapter, "edit", lambda *a, **k: 1 / 0)
    pipeline.run_job(job_id=str(job.pk))
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert job.error_code == "internal_error"
    assert "unexpected error" in job.error_message


def test_a_result_that_is_not_an_image_fails_the_job(alice: Any, monkeypatch: Any) -> None:
    from editor.providers.base import ProviderResult, ResultImage

    job = make_job(user=alice)
    monkeypatch.setattr(
        OfflineAdapter, "edit", lambda *a, **k: ProviderResult(images=[ResultImage(data=b"<html>")])
    )
    pipeline.run_job(job_id=str(job.pk))
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert job.error_code == "bad_result"


def test_a_canceled_job_is_not_run(alice: Any) -> None:
    from editor import services

    job = make_job(user=alice)
    assert services.job_cancel(job=job)
    pipeline.run_job(job_id=str(job.pk))
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELED
    assert not job.images.filter(role=ImageRole.RESULT).exists()


def test_a_job_canceled_while_the_provider_works_keeps_and_counts_what_it_cost(
    alice: Any, monkeypatch: Any
) -> None:
    from decimal import Decimal

    from editor import limits, services
    from editor.providers.base import ProviderResult, ResultImage

    job = make_job(user=alice)
    real_edit = OfflineAdapter.edit

    def canceled_meanwhile(self: Any, request: Any, *, observer: Any) -> Any:
        made = real_edit(self, request, observer=observer)
        # The person presses Cancel while the provider is at work; it answers
        # anyway, and charges for it.
        assert services.job_cancel(job=Job.objects.get(pk=job.pk))
        return ProviderResult(
            images=[ResultImage(data=image.data) for image in made.images],
            usage={"output_tokens": 4160},
            cost=Decimal("0.042"),
        )

    monkeypatch.setattr(OfflineAdapter, "edit", canceled_meanwhile)
    pipeline.run_job(job_id=str(job.pk))
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELED
    assert job.images.filter(role=ImageRole.RESULT).count() == 1
    assert job.cost == Decimal("0.042")
    assert job.usage == {"output_tokens": 4160}
    month = limits.month_of(job.created)
    assert limits.spend(user=alice, period=month) == Decimal("0.042")


def test_a_masked_edit_changes_only_the_masked_area(alice: Any) -> None:
    job = make_job(
        user=alice,
        prompt="invert",
        images=[image_bytes(64, 48, colour=(200, 40, 40))],
        mask=mask_bytes(64, 48, box=(0, 0, 32, 48), convention="transparent"),
    )
    pipeline.run_job(job_id=str(job.pk))
    result = job.images.get(role=ImageRole.RESULT)
    with result.file.open("rb") as handle:
        image = open_bytes(handle.read()).convert("RGB")
    assert image.getpixel((4, 4)) == (55, 215, 215)
    assert image.getpixel((60, 4)) == (200, 40, 40)


def test_a_generation_stores_the_requested_size(alice: Any) -> None:
    job = make_job(user=alice, images=[], prompt="a lighthouse", params={"n": 2, "size": "512x512"})
    pipeline.run_job(job_id=str(job.pk))
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED
    sizes = [(image.width, image.height) for image in job.images.filter(role=ImageRole.RESULT)]
    assert sizes == [(512, 512), (512, 512)]


def test_a_disabled_model_fails_the_job(alice: Any, offline_model: Any) -> None:
    job = make_job(user=alice)
    offline_model.enabled = False
    offline_model.save()
    pipeline.run_job(job_id=str(job.pk))
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and job.error_code == "model_unavailable"
    assert Job.objects.count() == 1


def test_a_result_the_adapter_already_decoded_is_not_decoded_again(
    alice: Any, monkeypatch: Any
) -> None:
    from django.conf import settings

    from editor import imaging
    from editor.providers.base import ProviderResult, ResultImage

    data = image_bytes(32, 32)
    info = imaging.inspect_image(data, max_pixels=settings.DARKROOM_MAX_IMAGE_PIXELS)
    job = make_job(user=alice)
    monkeypatch.setattr(
        OfflineAdapter,
        "edit",
        lambda *a, **k: ProviderResult(images=[ResultImage(data=data, info=info)]),
    )
    decoded: list[int] = []
    real_inspect = imaging.inspect_image

    def counting_inspect(raw: bytes, *, max_pixels: int) -> Any:
        decoded.append(len(raw))
        return real_inspect(raw, max_pixels=max_pixels)

    monkeypatch.setattr(imaging, "inspect_image", counting_inspect)
    pipeline.run_job(job_id=str(job.pk))
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED
    assert len(data) not in decoded
    assert job.images.get(role=ImageRole.RESULT).sha256 == info.sha256


def test_a_decoded_result_over_the_pixel_limit_fails_the_job(
    alice: Any, monkeypatch: Any, settings: Any
) -> None:
    from editor import imaging
    from editor.providers.base import ProviderResult, ResultImage

    data = image_bytes(32, 32)
    info = imaging.inspect_image(data, max_pixels=10_000)
    settings.DARKROOM_MAX_IMAGE_PIXELS = 1000
    job = make_job(user=alice, images=[image_bytes(8, 8)])
    monkeypatch.setattr(
        OfflineAdapter,
        "edit",
        lambda *a, **k: ProviderResult(images=[ResultImage(data=data, info=info)]),
    )
    pipeline.run_job(job_id=str(job.pk))
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert job.error_code == "bad_result"
    assert "32×32 pixels is over the limit" in job.error_message
