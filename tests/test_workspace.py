"""The editor's workspace on the server: Run answers with the run panel, which
polls the job in place; the plain form still redirects to the job page."""

from __future__ import annotations

from typing import Any

from django.test import Client

from editor import pipeline
from editor.models import Job, JobStatus
from tests.factories import make_job
from tests.images import image_bytes, upload
from tests.media_helpers import add_result

RUN_PANEL = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "run-panel"}


def post_run(client: Client, model: Any, **headers: Any) -> Any:
    data = {"prompt": "sepia", "image_model": model.pk, "images": [upload(image_bytes())]}
    return client.post("/", data, **headers)


def test_run_from_the_workspace_answers_with_the_run_panel_not_a_redirect(
    alice_client: Client, offline_model: Any
) -> None:
    response = post_run(alice_client, offline_model, **RUN_PANEL)
    job = Job.objects.get()
    assert response.status_code == 201
    assert "HX-Redirect" not in response
    assert response["X-Darkroom-Job"] == str(job.pk)
    html = response.content.decode()
    assert 'id="run-panel"' in html
    # It keeps polling the job's run panel while the job is on its way.
    assert f'hx-get="/editor/runs/{job.pk}/"' in html
    assert 'hx-trigger="every 1s"' in html
    # The stored inputs, so the workspace refers to them from now on.
    stored = job.images.get(role="input")
    assert f'data-input-ids="{stored.pk}"' in html


def test_the_plain_form_and_other_htmx_posts_still_go_to_the_job_page(
    alice_client: Client, offline_model: Any
) -> None:
    plain = post_run(alice_client, offline_model)
    first = Job.objects.latest("created")
    assert plain.status_code == 302 and plain["Location"] == f"/jobs/{first.pk}/"
    htmx = post_run(alice_client, offline_model, HTTP_HX_REQUEST="true")
    second = Job.objects.latest("created")
    assert htmx["HX-Redirect"] == f"/jobs/{second.pk}/"


def test_the_run_panel_shows_progress_then_stops_polling_with_the_variations(
    alice: Any, alice_client: Client
) -> None:
    job = make_job(user=alice, params={"n": 1})
    running = alice_client.get(f"/editor/runs/{job.pk}/")
    assert running.status_code == 200
    assert "Waiting in the queue" in running.content.decode()
    assert "every 1s" in running.content.decode()

    pipeline.run_job(job_id=str(job.pk))
    second = add_result(job)
    done = alice_client.get(f"/editor/runs/{job.pk}/")
    html = done.content.decode()
    assert done.status_code == 286, "a final job stops the polling"
    assert "hx-trigger" not in html
    assert html.count('class="variation"') == 2
    assert f'data-image-id="{second.pk}"' in html
    assert "2 variations" in html


def test_a_failed_run_says_why_in_the_panel(alice: Any, alice_client: Client) -> None:
    job = make_job(user=alice)
    Job.objects.filter(pk=job.pk).update(
        status=JobStatus.FAILED, error_code="provider", error_message="The provider refused."
    )
    html = alice_client.get(f"/editor/runs/{job.pk}/").content.decode()
    assert "The provider refused." in html
    assert 'class="variation"' not in html


def test_cancel_from_the_run_panel_answers_with_the_run_panel(
    alice: Any, alice_client: Client
) -> None:
    job = make_job(user=alice)
    response = alice_client.post(f"/jobs/{job.pk}/cancel/", **RUN_PANEL)
    assert response.status_code == 200
    assert 'id="run-panel"' in response.content.decode()
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELED


def test_another_users_run_panel_is_not_found(
    alice: Any, bob_client: Client, alice_client: Client
) -> None:
    job = make_job(user=alice)
    assert bob_client.get(f"/editor/runs/{job.pk}/").status_code == 404
    assert bob_client.post(f"/jobs/{job.pk}/cancel/", **RUN_PANEL).status_code == 404
    assert alice_client.get("/editor/runs/not-a-uuid/").status_code == 404
    job.refresh_from_db()
    assert job.status == JobStatus.QUEUED


def test_the_run_panel_reads_a_fixed_number_of_queries(
    alice: Any, alice_client: Client, django_assert_max_num_queries: Any
) -> None:
    job = make_job(user=alice)
    pipeline.run_job(job_id=str(job.pk))
    for _ in range(5):
        add_result(job)
    alice_client.get(f"/editor/runs/{job.pk}/")  # the first request caches the session's user
    with django_assert_max_num_queries(8):
        assert alice_client.get(f"/editor/runs/{job.pk}/").status_code == 286
