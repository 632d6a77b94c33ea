"""Dates in the person's own time zone, with the zone named."""

from __future__ import annotations

import zoneinfo
from datetime import UTC, datetime
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from editor.models import Job, JobWord
from tests.factories import make_job
from webapp.timezones import COOKIE_NAME, when_text

# 08:12 UTC on a December day: 09:12 in Paris (CET), 17:12 in Tokyo (JST).
MOMENT = datetime(2026, 12, 4, 8, 12, tzinfo=UTC)


@pytest.fixture
def job(alice: Any) -> Job:
    job = make_job(user=alice, prompt="a quiet harbour")
    Job.objects.filter(pk=job.pk).update(created=MOMENT)
    JobWord.objects.filter(job=job).update(created=MOMENT)
    job.refresh_from_db()
    return job


@pytest.mark.parametrize(
    ("zone", "shown"),
    [
        ("Europe/Paris", "4 Dec 2026, 09:12 CET"),
        ("Asia/Tokyo", "4 Dec 2026, 17:12 JST"),
        ("America/New_York", "4 Dec 2026, 03:12 EST"),
    ],
)
def test_dates_are_in_the_zone_of_the_cookie_with_the_zone_named(
    job: Job, alice_client: Client, zone: str, shown: str
) -> None:
    alice_client.cookies[COOKIE_NAME] = zone
    assert shown in alice_client.get("/history/").content.decode()
    assert shown in alice_client.get(f"/jobs/{job.pk}/").content.decode()


@pytest.mark.parametrize("cookie", ["", "Mars/Olympus_Mons", "../../etc/passwd", "x" * 3000])
def test_without_a_known_zone_dates_are_in_the_site_zone(
    job: Job, alice_client: Client, cookie: str
) -> None:
    alice_client.cookies[COOKIE_NAME] = cookie
    response = alice_client.get("/history/")
    assert response.status_code == 200
    assert "4 Dec 2026, 08:12 UTC" in response.content.decode()


def test_a_person_can_choose_the_zone_and_go_back_to_the_browsers(
    job: Job, alice_client: Client
) -> None:
    page = alice_client.get("/accounts/time-zone/").content.decode()
    assert '<option value="Europe/Paris">' in page and "Dates are shown in" in page
    response = alice_client.post("/accounts/time-zone/", {"time_zone": "Asia/Tokyo"})
    assert response.status_code == 302
    assert response.cookies[COOKIE_NAME].value == "Asia/Tokyo"
    assert "17:12 JST" in alice_client.get("/history/").content.decode()
    response = alice_client.post("/accounts/time-zone/", {"time_zone": "auto"})
    assert response.cookies[COOKIE_NAME].value == ""  # deleted: the browser reports again
    assert "08:12 UTC" in alice_client.get("/history/").content.decode()


def test_an_unknown_zone_is_refused_readably(alice_client: Client) -> None:
    alice_client.cookies[COOKIE_NAME] = "Europe/Paris"
    response = alice_client.post("/accounts/time-zone/", {"time_zone": "Nowhere/Else"})
    assert response.status_code == 400
    assert "Pick a time zone from the list" in response.content.decode()
    assert COOKIE_NAME not in response.cookies


def test_every_page_loads_the_zone_reporter(alice_client: Client) -> None:
    assert "/static/editor/timezone.js" in alice_client.get("/history/").content.decode()


@pytest.mark.parametrize(
    ("moment", "shown"),
    [
        # The hour Paris lives twice when summer time ends: both are named.
        (datetime(2026, 10, 25, 0, 30, tzinfo=UTC), "25 Oct 2026, 02:30 CEST"),
        (datetime(2026, 10, 25, 1, 30, tzinfo=UTC), "25 Oct 2026, 02:30 CET"),
        (datetime(2026, 5, 1, 23, 5, tzinfo=UTC), "2 May 2026, 01:05 CEST"),
    ],
)
def test_a_time_always_names_its_zone_even_in_the_repeated_hour(
    moment: datetime, shown: str
) -> None:
    with timezone.override(zoneinfo.ZoneInfo("Europe/Paris")):
        assert when_text(moment) == shown
