"""The history: browsing, search, filters, keyset pages, lineage, bulk delete."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from editor import imaging, selectors
from editor.models import ImageRole, Job, JobImage, JobKind, JobStatus, JobWord
from tests.factories import make_job
from tests.images import image_bytes
from tests.media_helpers import add_result, body_of

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def backdate(job: Job, created: datetime) -> Job:
    """Give a job another creation time (its search words carry it too)."""
    Job.objects.filter(pk=job.pk).update(created=created)
    JobWord.objects.filter(job=job).update(created=created)
    job.refresh_from_db()
    return job


def quick_job(user: Any, prompt: str, *, created: datetime | None = None, **fields: Any) -> Job:
    """A job through the real service (no input files), then given ``fields``."""
    job = make_job(user=user, prompt=prompt, images=[])
    if fields:
        Job.objects.filter(pk=job.pk).update(**fields)
    return backdate(job, created) if created else job


def listed_ids(body: str) -> list[str]:
    return re.findall(r'data-job="([0-9a-f-]{36})"', body)


def next_link(body: str) -> str | None:
    match = re.search(r'<li class="load-more" id="load-more">\s*<a href="([^"]+)"', body)
    return match.group(1).replace("&amp;", "&") if match else None


def walk(client: Client, url: str) -> list[str]:
    """Every job id listed by following the real "Load more" links to the end."""
    seen: list[str] = []
    while url:
        body = client.get(url).content.decode()
        seen += listed_ids(body)
        link = next_link(body)
        url = f"/history/{link}" if link else ""
    return seen


# --- Browsing -------------------------------------------------------------------


def test_it_lists_only_the_users_jobs_newest_first(
    alice: Any, bob: Any, alice_client: Client
) -> None:
    older = quick_job(alice, "an older sunset", created=START)
    newer = quick_job(alice, "a newer sunrise", created=START + timedelta(hours=1))
    theirs = quick_job(bob, "bob's sunset", created=START + timedelta(hours=2))
    body = alice_client.get("/history/").content.decode()
    assert listed_ids(body) == [str(newer.pk), str(older.pk)]
    assert str(theirs.pk) not in body and "bob&#x27;s sunset" not in body


def test_a_row_shows_prompt_model_status_cost_and_time(alice: Any, alice_client: Client) -> None:
    job = quick_job(
        alice,
        "paint the harbour",
        created=START,
        status=JobStatus.SUCCEEDED,
        cost=Decimal("0.0425"),
    )
    add_result(job)
    body = alice_client.get("/history/").content.decode()
    assert "paint the harbour" in body
    assert job.model_label in body and "Succeeded" in body
    # Money as people read it: three decimals below ten cents.
    assert "$0.043" in body and "1 Mar 2026, 12:00 UTC" in body
    cover = job.images.get(role=ImageRole.RESULT)
    assert f"/images/{cover.pk}/thumb/" in body


def test_the_cover_is_the_first_result_else_the_first_input(
    alice: Any, alice_client: Client
) -> None:
    edited = make_job(user=alice, images=[image_bytes(), image_bytes(8, 8)])
    first_input = edited.images.get(role=ImageRole.INPUT, position=0)
    body = alice_client.get("/history/").content.decode()
    assert f"/images/{first_input.pk}/thumb/" in body
    add_result(edited)
    second = add_result(edited)
    first_result = edited.images.get(role=ImageRole.RESULT, position=0)
    body = alice_client.get("/history/").content.decode()
    assert f"/images/{first_result.pk}/thumb/" in body
    assert f"/images/{first_input.pk}/thumb/" not in body
    assert f"/images/{second.pk}/thumb/" not in body


def test_the_list_view_is_a_link_that_keeps_the_filters(alice: Any, alice_client: Client) -> None:
    quick_job(alice, "a cat")
    body = alice_client.get("/history/?q=cat&view=list").content.decode()
    assert 'class="history-list"' in body
    assert 'href="?q=cat&amp;view=grid"' in body


# --- Search and filters ---------------------------------------------------------


def test_it_finds_jobs_by_a_word_of_the_prompt(alice: Any, bob: Any, alice_client: Client) -> None:
    cat = quick_job(alice, "A Cat on the roof, at night")
    quick_job(alice, "a dog on the roof")
    quick_job(alice, "concatenate nothing")  # a word containing "cat" is not "cat"
    bobs = quick_job(bob, "a cat of bob")
    body = alice_client.get("/history/?q=cat").content.decode()
    assert listed_ids(body) == [str(cat.pk)]
    assert str(bobs.pk) not in body


def test_every_searched_word_must_be_in_the_prompt(alice: Any, alice_client: Client) -> None:
    both = quick_job(alice, "snow on the mountain lake")
    quick_job(alice, "snow in the city")
    quick_job(alice, "a mountain lake in summer")
    body = alice_client.get("/history/?q=Mountain+snow").content.decode()
    assert listed_ids(body) == [str(both.pk)]


def test_filters_combine(alice: Any, alice_client: Client) -> None:
    match = quick_job(alice, "red cat", created=START, status=JobStatus.FAILED, kind=JobKind.EDIT)
    quick_job(alice, "red cat", created=START, status=JobStatus.SUCCEEDED, kind=JobKind.EDIT)
    quick_job(alice, "red cat", created=START, status=JobStatus.FAILED, kind=JobKind.GENERATE)
    quick_job(alice, "blue cat", created=START, status=JobStatus.FAILED, kind=JobKind.EDIT)
    quick_job(
        alice, "red cat", created=START - timedelta(days=3), status=JobStatus.FAILED, kind="edit"
    )
    url = "/history/?q=red&status=failed&kind=edit&date_from=2026-03-01&date_to=2026-03-01"
    assert listed_ids(alice_client.get(url).content.decode()) == [str(match.pk)]


def test_it_filters_by_model_and_provider(
    alice: Any, alice_client: Client, offline_model: Any
) -> None:
    mine = quick_job(alice, "one", provider_name="offline")
    other = quick_job(alice, "two", provider_name="elsewhere", image_model=None)
    by_model = alice_client.get(f"/history/?model={offline_model.pk}").content.decode()
    assert listed_ids(by_model) == [str(mine.pk)]
    by_provider = alice_client.get("/history/?provider=offline").content.decode()
    assert listed_ids(by_provider) == [str(mine.pk)]
    assert str(other.pk) in alice_client.get("/history/").content.decode()


def test_the_date_range_includes_both_end_days(alice: Any, alice_client: Client) -> None:
    first = quick_job(alice, "first", created=datetime(2026, 3, 1, 0, 0, tzinfo=START.tzinfo))
    last = quick_job(alice, "last", created=datetime(2026, 3, 2, 23, 59, tzinfo=START.tzinfo))
    quick_job(alice, "after", created=datetime(2026, 3, 3, 0, 0, tzinfo=START.tzinfo))
    body = alice_client.get("/history/?date_from=2026-03-01&date_to=2026-03-02").content.decode()
    assert listed_ids(body) == [str(last.pk), str(first.pk)]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("date_from=2026-13-40", "Enter the start date as YYYY-MM-DD."),
        ("date_to=yesterday", "Enter the end date as YYYY-MM-DD."),
        ("date_from=2026-03-02&date_to=2026-03-01", "The end date is before the start date."),
        ("status=exploded", "Select a valid choice"),
        ("kind=painting", "Select a valid choice"),
        ("model=999999", "Select a valid choice"),
        ("model=abc", "Select a valid choice"),
        ("provider=nobody", "Select a valid choice"),
        ("q=%21%21%21", "Search for at least one word"),
        ("q=a+b+c+d+e+f+g+h+i", "Search for at most 8 words"),
        ("after=not-a-cursor", "This page link is broken"),
    ],
)
def test_it_rejects_bad_filters_with_a_clear_message(
    alice: Any, alice_client: Client, query: str, message: str
) -> None:
    quick_job(alice, "a cat")
    response = alice_client.get(f"/history/?{query}")
    assert response.status_code == 400
    body = response.content.decode()
    assert message in body
    assert listed_ids(body) == []


def test_filters_live_in_a_get_form_that_htmx_pushes_to_the_url(
    alice: Any, alice_client: Client
) -> None:
    body = alice_client.get("/history/?q=cat&status=failed").content.decode()
    form = re.search(r'<form method="get" action="/history/"[^>]*>', body)
    assert form is not None
    assert 'hx-push-url="true"' in form.group(0) and 'hx-get="/history/"' in form.group(0)
    assert 'value="cat"' in body
    assert '<option value="failed" selected>' in body


def test_an_htmx_filter_change_answers_with_the_results_only(
    alice: Any, alice_client: Client
) -> None:
    cat = quick_job(alice, "a cat")
    response = alice_client.get(
        "/history/?q=cat", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="history-results"
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith('<div id="history-results">')
    assert "<html" not in body and listed_ids(body) == [str(cat.pk)]


def test_an_htmx_bad_filter_shows_the_message_in_place(alice: Any, alice_client: Client) -> None:
    response = alice_client.get(
        "/history/?date_from=nope", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="history-results"
    )
    # htmx swaps 2xx answers only; the message must still reach the page.
    assert response.status_code == 200
    assert "Enter the start date as YYYY-MM-DD." in response.content.decode()


# --- Pages ----------------------------------------------------------------------


@pytest.fixture
def thirty_jobs(alice: Any) -> list[Job]:
    """30 jobs, newest first; two share each creation time, so ties need the id."""
    jobs = []
    for index in range(30):
        created = START + timedelta(minutes=index // 2)
        jobs.append(quick_job(alice, f"a cat number {index}", created=created))
    return sorted(jobs, key=lambda job: (job.created, job.pk), reverse=True)


def test_load_more_walks_every_job_once_in_order(
    thirty_jobs: list[Job], alice_client: Client
) -> None:
    assert walk(alice_client, "/history/") == [str(job.pk) for job in thirty_jobs]


def test_load_more_keeps_the_search(
    thirty_jobs: list[Job], alice: Any, alice_client: Client
) -> None:
    quick_job(alice, "a dog", created=START + timedelta(minutes=5))
    assert walk(alice_client, "/history/?q=cat") == [str(job.pk) for job in thirty_jobs]


def test_load_more_is_a_real_link_that_htmx_follows_when_revealed(
    thirty_jobs: list[Job], alice_client: Client
) -> None:
    body = alice_client.get("/history/").content.decode()
    link = next_link(body)
    assert link and link.startswith("?after=")
    assert 'hx-trigger="click, revealed"' in body
    rows = alice_client.get(
        f"/history/{link}", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="load-more"
    ).content.decode()
    assert "<form" not in rows and rows.lstrip().startswith("<li")
    assert listed_ids(rows) == [str(job.pk) for job in thirty_jobs[24:]]


def test_a_page_never_counts_all_jobs(thirty_jobs: list[Job], alice_client: Client) -> None:
    alice_client.get("/history/")  # the first request fills the session's caches
    with CaptureQueriesContext(connection) as queries:
        alice_client.get("/history/")
    assert not any("COUNT(" in query["sql"].upper() for query in queries.captured_queries)


def test_every_page_costs_the_same_queries(thirty_jobs: list[Job], alice_client: Client) -> None:
    for job in thirty_jobs:
        add_result(job)
    deep = selectors.encode_cursor(thirty_jobs[4])

    def get(url: str) -> tuple[Any, int]:
        with CaptureQueriesContext(connection) as queries:
            response = alice_client.get(url)
        return response, len(queries)

    # The filter choices and the jobs (with their cover thumbnails), plus the
    # session and user where the session cache is the database's (PostgreSQL
    # without CACHE_URL). The first request of a session fills the cache.
    alice_client.get("/history/")
    first, first_queries = get("/history/")
    deeper, deeper_queries = get(f"/history/?after={deep}")
    searched, searched_queries = get(f"/history/?q=cat&after={deep}")
    typed, typed_queries = get(f"/history/?q=ca&after={deep}")
    assert first_queries == deeper_queries == searched_queries == typed_queries <= 4
    assert listed_ids(typed.content.decode()) == listed_ids(searched.content.decode())
    assert len(listed_ids(first.content.decode())) == 24
    assert listed_ids(deeper.content.decode()) == [str(job.pk) for job in thirty_jobs[5:29]]
    assert listed_ids(searched.content.decode()) == listed_ids(deeper.content.decode())


def test_a_cursor_from_another_user_shows_nothing_of_theirs(
    thirty_jobs: list[Job], bob_client: Client
) -> None:
    cursor = selectors.encode_cursor(thirty_jobs[0])
    assert listed_ids(bob_client.get(f"/history/?after={cursor}").content.decode()) == []


# --- Storage ------------------------------------------------------------------


def test_it_shows_the_storage_the_history_uses(
    alice: Any, bob: Any, alice_client: Client, bob_client: Client
) -> None:
    job = make_job(user=alice)
    add_result(job)
    images = list(JobImage.objects.filter(job=job))
    total = sum(image.bytes + image.thumbnail_bytes for image in images)
    assert all(image.thumbnail_bytes == image.thumbnail.size for image in images)
    assert selectors.storage_used(user=alice) == total
    body = alice_client.get("/history/storage/").content.decode()
    assert "Your history uses" in body and f"{total}" in body.replace("\xa0", " ")
    assert "0\xa0bytes" in bob_client.get("/history/storage/").content.decode()
    assert 'hx-get="/history/storage/"' in alice_client.get("/history/").content.decode()


def test_storage_use_drops_when_a_job_is_deleted(
    alice: Any, alice_client: Client, django_capture_on_commit_callbacks: Any
) -> None:
    kept, doomed = make_job(user=alice), make_job(user=alice)
    add_result(doomed)
    kept_bytes = sum(image.bytes + image.thumbnail_bytes for image in kept.images.all())
    assert selectors.storage_used(user=alice) > kept_bytes
    with django_capture_on_commit_callbacks(execute=True):
        alice_client.post("/history/delete/", {"jobs": [str(doomed.pk)]})
    assert selectors.storage_used(user=alice) == kept_bytes


# --- Job details and lineage ------------------------------------------------------


def test_the_job_page_shows_every_detail(alice: Any, alice_client: Client) -> None:
    job = make_job(user=alice, prompt="make it sepia", params={"n": 1, "quality": "high"})
    now = timezone.now()
    Job.objects.filter(pk=job.pk).update(
        status=JobStatus.FAILED,
        started=now + timedelta(seconds=1),
        sent=now + timedelta(seconds=2),
        answered=now + timedelta(seconds=12.5),
        finished=now + timedelta(seconds=13),
        usage={"output_tokens": 4160},
        cost=Decimal("0.042"),
        error_code="content_policy",
        error_message="The provider refused the prompt.",
        error_detail={"status": 400},
    )
    backdate(job, now)
    body = alice_client.get(f"/jobs/{job.pk}/").content.decode()
    details = body[body.index('id="job-details"') :]
    for text in (
        "Offline demo",
        "offline",
        "Quality",
        "High",
        "Output tokens",
        "4,160",
        "$0.042",
        "Waiting in the queue",
        "Provider at work",
        "10.5",
        "content_policy",
        "The provider refused the prompt.",
        "Input 1",
    ):
        assert text in details, text


def test_lineage_links_walk_the_session_back_and_forth(alice: Any, alice_client: Client) -> None:
    first = quick_job(alice, "start", created=START)
    second = quick_job(alice, "continue", created=START + timedelta(minutes=1), parent=first)
    third = quick_job(alice, "branch", created=START + timedelta(minutes=2), parent=first)
    first_page = alice_client.get(f"/jobs/{first.pk}/").content.decode()
    assert f'href="/jobs/{second.pk}/" rel="next"' in first_page
    assert f'href="/jobs/{third.pk}/" rel="next"' in first_page
    second_page = alice_client.get(f"/jobs/{second.pk}/").content.decode()
    assert f'href="/jobs/{first.pk}/" rel="prev"' in second_page


def test_lineage_never_links_another_users_job(alice: Any, bob: Any, alice_client: Client) -> None:
    mine = quick_job(alice, "mine")
    theirs = quick_job(bob, "theirs", parent=mine)
    body = alice_client.get(f"/jobs/{mine.pk}/").content.decode()
    assert str(theirs.pk) not in body
    parent, children = selectors.job_lineage(job=Job.objects.get(pk=theirs.pk))
    assert parent is None and children == []


# --- Deleting ----------------------------------------------------------------------


def test_selected_jobs_go_to_the_trash_and_then_for_good_with_all_their_files(
    alice: Any,
    bob: Any,
    alice_client: Client,
    django_capture_on_commit_callbacks: Any,
) -> None:
    doomed = [make_job(user=alice), make_job(user=alice)]
    for job in doomed:
        add_result(job)
    kept = make_job(user=alice)
    bobs = make_job(user=bob)
    doomed_images = list(JobImage.objects.filter(job__in=doomed))
    doomed_files = {
        name for image in doomed_images for name in (image.file.name, image.thumbnail.name)
    }
    assert all(default_storage.exists(name) for name in doomed_files)
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post(
            "/history/delete/", {"jobs": [str(job.pk) for job in doomed] + [str(bobs.pk)]}
        )
    assert response.status_code == 302 and response["Location"] == "/history/"
    assert set(Job.objects.filter(trashed=None).values_list("pk", flat=True)) == {
        kept.pk,
        bobs.pk,
    }
    assert not JobWord.objects.filter(job_id__in=[job.pk for job in doomed]).exists()
    # In the trash the files are kept, for a restore ...
    assert all(default_storage.exists(name) for name in doomed_files)
    assert "Moved 2 jobs to the trash." in alice_client.get("/history/").content.decode()
    # ... until they are deleted for good from there.
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post(
            "/history/trash/delete/", {"jobs": [str(job.pk) for job in doomed] + [str(bobs.pk)]}
        )
    assert response.status_code == 302 and response["Location"] == "/history/trash/"
    assert set(Job.objects.values_list("pk", flat=True)) == {kept.pk, bobs.pk}
    assert not any(default_storage.exists(name) for name in doomed_files)
    for image in doomed_images:
        for url in (f"/images/{image.pk}/", f"/images/{image.pk}/thumb/"):
            assert alice_client.get(url).status_code == 404
    for job in doomed:
        assert alice_client.get(f"/jobs/{job.pk}/").status_code == 404
        assert alice_client.get(f"/jobs/{job.pk}/download/").status_code == 404
    assert "Deleted 2 jobs for good." in alice_client.get("/history/trash/").content.decode()


def test_deleting_a_selection_costs_the_same_queries_for_two_jobs_or_ten(
    alice: Any, alice_client: Client
) -> None:
    def delete_queries(count: int) -> int:
        jobs = [make_job(user=alice) for _ in range(count)]
        for job in jobs:
            add_result(job)
        alice_client.get("/history/")  # the session is cached from here on
        with CaptureQueriesContext(connection) as queries:
            response = alice_client.post("/history/delete/", {"jobs": [str(j.pk) for j in jobs]})
        assert response.status_code == 302
        assert not Job.objects.filter(pk__in=[job.pk for job in jobs], trashed=None).exists()
        return len(queries)

    assert delete_queries(2) == delete_queries(10)


def test_another_user_cannot_delete_by_selection(
    alice: Any, bob_client: Client, django_capture_on_commit_callbacks: Any
) -> None:
    job = make_job(user=alice)
    with django_capture_on_commit_callbacks(execute=True):
        bob_client.post("/history/delete/", {"jobs": [str(job.pk)]})
    assert Job.objects.filter(pk=job.pk, trashed=None).exists()
    assert job.images.get().file.storage.exists(job.images.get().file.name)


@pytest.mark.parametrize(
    ("jobs", "message"),
    [
        ([], "No job was selected, so nothing was deleted."),
        (["not-a-uuid"], "The selection holds something that is not a job"),
        ([f"00000000-0000-0000-0000-{index:012d}" for index in range(501)], "at most 500"),
    ],
)
def test_it_rejects_a_bad_selection(
    alice: Any, alice_client: Client, jobs: list[str], message: str
) -> None:
    job = make_job(user=alice)
    response = alice_client.post("/history/delete/", {"jobs": jobs})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert 'class="topbar"' in response.content.decode()  # a page in the site's layout
    assert Job.objects.filter(pk=job.pk).exists()


def test_deleting_by_selection_needs_a_post(alice: Any, alice_client: Client) -> None:
    job = make_job(user=alice)
    assert alice_client.get(f"/history/delete/?jobs={job.pk}").status_code == 405
    assert Job.objects.filter(pk=job.pk).exists()


# --- Seeding -------------------------------------------------------------------------


def test_seed_history_makes_realistic_browsable_jobs(
    alice: Any, alice_client: Client, django_assert_num_queries: Any
) -> None:
    call_command("seed_history", user="alice", count=120, batch_size=50, stdout=_Sink())
    jobs = Job.objects.filter(owner=alice)
    assert jobs.count() == 120
    assert {"succeeded", "failed"} <= set(jobs.values_list("status", flat=True))
    assert set(jobs.values_list("kind", flat=True)) == {"edit", "generate"}
    assert len(set(jobs.values_list("prompt", flat=True))) > 40
    assert len(set(jobs.values_list("model_label", flat=True))) > 2
    assert jobs.filter(parent__isnull=False).exists()
    oldest, newest = jobs.order_by("created").first(), jobs.order_by("created").last()
    assert oldest and newest and newest.created - oldest.created > timedelta(days=60)
    # Real images, reachable through the normal views.
    result = JobImage.objects.filter(job__owner=alice, role=ImageRole.RESULT).first()
    assert result is not None
    response = alice_client.get(f"/images/{result.pk}/thumb/")
    imaging.inspect_image(body_of(response), max_pixels=10_000_000)
    assert walk(alice_client, "/history/") == [
        str(pk) for pk in jobs.order_by("-created", "-id").values_list("pk", flat=True)
    ]
    word = jobs.first().prompt.split()[-1].strip(",").lower()  # type: ignore[union-attr]
    found = walk(alice_client, f"/history/?q={word}")
    assert found and all(word in Job.objects.get(pk=pk).prompt.lower() for pk in found)


class _Sink:
    def write(self, *args: Any, **kwargs: Any) -> None:
        pass

    def flush(self) -> None:
        pass


# --- Query plans -----------------------------------------------------------------------


def job_queries(client: Client, url: str) -> list[tuple[str, Any]]:
    """The SQL (with its bound parameters) that reads the listed jobs."""
    captured: list[tuple[str, Any]] = []

    def capture(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        captured.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(capture):
        assert client.get(url).status_code == 200
    return [(sql, params) for sql, params in captured if 'FROM "editor_job"' in sql]


def plan(sql: str, params: Any) -> str:
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
            return "\n".join(str(row[-1]) for row in cursor.fetchall())
        # A test table is tiny, so a sequential scan or a sort would be cheapest:
        # forbid both (inside the test's transaction) to learn whether the
        # index can serve the query's range and order.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute("EXPLAIN " + sql, params)
        return "\n".join(str(row[0]) for row in cursor.fetchall())


# "ca": a word being typed is read from the index as a whole word is.
@pytest.mark.parametrize("search", ["", "cat", "ca"])
@pytest.mark.parametrize("deep", [False, True])
def test_pages_are_read_through_the_index(
    thirty_jobs: list[Job], alice_client: Client, search: str, deep: bool
) -> None:
    # With bound parameters, as the app runs it: SQLite's planner treats
    # "created < x OR (created = x AND id < y)" as no range at all, and a deep
    # page then walks the index from the newest job (43 ms at 100 000 jobs).
    after = selectors.encode_cursor(thirty_jobs[20]) if deep else ""
    (sql, params), *_ = job_queries(alice_client, f"/history/?q={search}&after={after}")
    chosen = plan(sql, params)
    index = "jobword_search" if search else "job_owner_created"
    if connection.vendor == "sqlite":
        seek = r" AND created<\?" if deep else ""
        assert re.search(rf"USING (COVERING )?INDEX {index} \(owner_id=\?.*{seek}\)", chosen), (
            chosen
        )
        assert "SCAN editor_job" not in chosen, chosen
    else:
        assert index in chosen and "Seq Scan on editor_job " not in chosen, chosen


# --- Prefix search -----------------------------------------------------------------


def test_a_word_being_typed_finds_the_words_it_begins(alice: Any, alice_client: Client) -> None:
    house = quick_job(alice, "a House by the sea", created=START)
    houses = quick_job(alice, "two houses and a household", created=START + timedelta(minutes=1))
    quick_job(alice, "a lighthouse", created=START + timedelta(minutes=2))  # inside, not the start
    quick_job(alice, "a hose", created=START + timedelta(minutes=3))
    body = alice_client.get("/history/?q=hous").content.decode()
    # Newest first, and a job with several matching words once.
    assert listed_ids(body) == [str(houses.pk), str(house.pk)]
    assert listed_ids(alice_client.get("/history/?q=HO+se").content.decode()) == [str(house.pk)]
    assert listed_ids(alice_client.get("/history/?q=housex").content.decode()) == []


def test_prefix_search_pages_like_any_search(alice: Any, alice_client: Client) -> None:
    jobs = [
        quick_job(alice, f"castle number {index}", created=START + timedelta(minutes=index))
        for index in range(30)
    ]
    assert walk(alice_client, "/history/?q=cas") == [str(job.pk) for job in reversed(jobs)]


def test_the_words_of_a_prompt_and_their_beginnings_are_indexed() -> None:
    from editor import search

    assert search.terms_of("Houses, a cat") == [
        "houses",
        "a",
        "cat",
        "ho",
        "hou",
        "hous",
        "house",
        "ca",
    ]


def test_the_migration_indexes_the_beginnings_of_existing_prompts(
    alice: Any, alice_client: Client
) -> None:
    import importlib

    from django.apps import apps

    from editor import search

    job = quick_job(alice, "a lighthouse at dusk")
    trashed = quick_job(alice, "a lighthouse at dawn", trashed=timezone.now())
    # As before prefix search: whole words only, none for a trashed job.
    JobWord.objects.exclude(word__in=["a", "lighthouse", "at", "dusk"]).delete()
    JobWord.objects.filter(job=trashed).delete()
    assert listed_ids(alice_client.get("/history/?q=ligh").content.decode()) == []
    migration = importlib.import_module("editor.migrations.0007_search_word_beginnings")
    migration.index_word_beginnings(apps, None)
    assert listed_ids(alice_client.get("/history/?q=ligh").content.decode()) == [str(job.pk)]
    assert sorted(JobWord.objects.filter(job=job).values_list("word", flat=True)) == sorted(
        search.terms_of(job.prompt)
    )
    assert not JobWord.objects.filter(job=trashed).exists()
