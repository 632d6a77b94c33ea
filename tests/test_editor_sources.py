"""Starting a job from images already in Darkroom: edit a result, run again, parents."""

from __future__ import annotations

from typing import Any

from django.core.files.base import ContentFile
from django.test import Client

from editor import pipeline
from editor.models import ImageRole, Job
from tests.factories import make_job
from tests.images import image_bytes, mask_bytes, upload


def finished_job(user: Any, **kwargs: Any) -> Job:
    job = make_job(user=user, **kwargs)
    pipeline.run_job(job_id=str(job.pk))
    job.refresh_from_db()
    return job


def post_job(client: Client, model: Any, **data: Any) -> Any:
    return client.post("/", {"prompt": "sepia", "image_model": model.pk, **data})


def test_it_starts_a_linked_job_from_the_users_own_result(
    alice: Any, alice_client: Client, offline_model: Any
) -> None:
    parent = finished_job(alice)
    result = parent.images.get(role=ImageRole.RESULT)
    page = alice_client.get(f"/?from_image={result.pk}&parent={parent.pk}")
    assert page.status_code == 200
    assert f'name="source_image" value="{result.pk}"' in page.content.decode()
    response = post_job(alice_client, offline_model, source_image=str(result.pk), parent=parent.pk)
    assert response.status_code == 302
    child = Job.objects.exclude(pk=parent.pk).get()
    assert child.parent_id == parent.pk
    copied = child.images.get(role=ImageRole.INPUT)
    assert copied.sha256 == result.sha256
    # A copy, not the same file: deleting the parent leaves the child whole.
    assert copied.file.name != result.file.name


def test_it_orders_stored_and_uploaded_images_as_sent(
    alice: Any, alice_client: Client, offline_model: Any
) -> None:
    stored = finished_job(alice).images.get(role=ImageRole.RESULT)
    response = post_job(
        alice_client,
        offline_model,
        images=[upload(image_bytes(30, 20)), upload(image_bytes(40, 20))],
        source_image=str(stored.pk),
        image_order=f"upload,{stored.pk},upload",
    )
    assert response.status_code == 302
    job = Job.objects.get(prompt="sepia")
    sizes = [
        (image.width, image.height)
        for image in job.images.filter(role=ImageRole.INPUT).order_by("position")
    ]
    assert sizes == [(30, 20), (stored.width, stored.height), (40, 20)]


def test_it_rejects_an_image_order_that_does_not_match(
    alice: Any, alice_client: Client, offline_model: Any
) -> None:
    response = post_job(
        alice_client, offline_model, images=[upload(image_bytes())], image_order="upload,upload"
    )
    assert response.status_code == 400
    assert "more uploads than sent" in response.content.decode()
    assert not Job.objects.exists()


def test_run_again_prefills_inputs_mask_model_and_parameters(
    alice: Any, alice_client: Client, offline_model: Any
) -> None:
    job = make_job(
        user=alice,
        images=[image_bytes(64, 48)],
        mask=mask_bytes(64, 48, box=(0, 0, 10, 10)),
        params={"n": 3},
    )
    mask = job.images.get(role=ImageRole.MASK)
    page = alice_client.get(f"/?from_job={job.pk}").content.decode()
    assert f'name="source_mask" value="{mask.pk}"' in page
    assert 'name="n" value="3"' in page
    assert job.prompt in page
    response = post_job(
        alice_client,
        offline_model,
        source_image=str(job.images.get(role=ImageRole.INPUT).pk),
        source_mask=str(mask.pk),
        n=3,
    )
    assert response.status_code == 302
    again = Job.objects.exclude(pk=job.pk).get()
    assert again.images.get(role=ImageRole.MASK).sha256 == mask.sha256


def test_bob_cannot_start_from_alices_jobs_or_images(
    alice: Any, bob_client: Client, offline_model: Any
) -> None:
    job = finished_job(alice, mask=mask_bytes(64, 48, box=(0, 0, 10, 10)))
    result = job.images.get(role=ImageRole.RESULT)
    mask = job.images.get(role=ImageRole.MASK)
    for query in (f"from_image={result.pk}", f"from_job={job.pk}", f"parent={job.pk}"):
        assert bob_client.get(f"/?{query}").status_code == 404, query
    attempts: list[dict[str, Any]] = [
        {"source_image": str(result.pk)},
        {"images": [upload(image_bytes(64, 48))], "parent": str(job.pk)},
        {"images": [upload(image_bytes(64, 48))], "source_mask": str(mask.pk)},
    ]
    for data in attempts:
        response = post_job(bob_client, offline_model, **data)
        assert response.status_code == 400, data
        assert str(result.pk) not in response.content.decode()
    assert Job.objects.count() == 1


def test_a_mask_is_not_an_image_to_start_from(
    alice: Any, alice_client: Client, offline_model: Any
) -> None:
    job = make_job(user=alice, mask=mask_bytes(64, 48, box=(0, 0, 10, 10)))
    mask = job.images.get(role=ImageRole.MASK)
    assert alice_client.get(f"/?from_image={mask.pk}").status_code == 404
    response = post_job(alice_client, offline_model, source_image=str(mask.pk))
    assert response.status_code == 400
    assert "One of the chosen images was not found." in response.content.decode()


def test_it_refuses_more_than_sixteen_images_before_reading_any(
    alice: Any, alice_client: Client, offline_model: Any
) -> None:
    stored = finished_job(alice).images.get(role=ImageRole.RESULT)
    response = post_job(
        alice_client,
        offline_model,
        source_image=str(stored.pk),
        image_order=",".join([str(stored.pk)] * 5000),
    )
    assert response.status_code == 400
    assert "5000 images chosen; at most 16 can be edited together." in response.content.decode()


def test_it_does_not_decode_a_stored_image_again(
    alice: Any, alice_client: Client, offline_model: Any, monkeypatch: Any
) -> None:
    from editor import imaging

    result = finished_job(alice).images.get(role=ImageRole.RESULT)
    with result.file.open("rb") as handle:
        stored_bytes = handle.read()
    decoded: list[bytes] = []
    real_inspect = imaging.inspect_image

    def counting_inspect(raw: bytes, *, max_pixels: int) -> Any:
        decoded.append(raw)
        return real_inspect(raw, max_pixels=max_pixels)

    monkeypatch.setattr(imaging, "inspect_image", counting_inspect)
    response = post_job(alice_client, offline_model, source_image=str(result.pk))
    assert response.status_code == 302
    assert stored_bytes not in decoded


def test_it_refuses_a_stored_image_whose_file_changed(
    alice: Any, alice_client: Client, offline_model: Any
) -> None:
    result = finished_job(alice).images.get(role=ImageRole.RESULT)
    name = result.file.name
    result.file.storage.delete(name)
    result.file.storage.save(name, ContentFile(image_bytes(64, 48, colour=(1, 2, 3))))
    response = post_job(alice_client, offline_model, source_image=str(result.pk))
    assert response.status_code == 400
    assert "has changed since it was saved" in response.content.decode()
    assert Job.objects.count() == 1
