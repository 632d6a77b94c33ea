"""A job's page says its parameters, usage and cost in words, not as sent on the wire."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from django.test import Client

from editor import job_facts, pricing
from editor.models import Job
from tests.factories import make_job


def facts(found: list[job_facts.Fact]) -> dict[str, str]:
    return {fact.label: fact.value for fact in found}


def test_parameters_read_as_the_form_names_them_in_its_order() -> None:
    found = job_facts.parameter_facts(
        {
            "output_format": "webp",
            "size": "1536x1024",
            "quality": "high",
            "n": 2,
            "keep_outside_mask": True,
            "frame": "256,0,1024,768",
            "moderation": "low",
        }
    )
    assert [(fact.label, fact.value) for fact in found] == [
        ("Number of images", "2"),
        ("Size", "1536×1024"),
        ("Quality", "High"),
        ("Output format", "WebP"),
        ("Canvas extended", "the picture (1024×768) placed at 256,0"),
        # A parameter Darkroom has no words for is still shown, readably.
        ("Moderation", "Low"),
    ]


def test_token_usage_reads_with_separators_and_its_parts_named() -> None:
    found = facts(
        job_facts.usage_facts(
            {
                "input_tokens": 1040,
                "output_tokens": 4160,
                "total_tokens": 5200,
                "input_tokens_details": {"text_tokens": 40, "image_tokens": 1000},
            }
        )
    )
    assert found == {
        "Input tokens": "1,040",
        "Output tokens": "4,160",
        "Total tokens": "5,200",
        "Input tokens by kind": "text 40, image 1,000",
    }
    assert facts(job_facts.usage_facts({"calls": 1, "latency_ms": 8421})) == {
        "Provider calls": "1",
        "Provider latency": "8.4 s",
    }


def test_a_run_that_cost_nothing_reads_free() -> None:
    assert pricing.format_cost(Decimal("0")) == "Free"
    assert pricing.format_cost(Decimal("0"), approximate=True) == "Free"
    assert pricing.format_cost(Decimal("0.042")) == "$0.042"
    assert pricing.format_cost(None) == ""
    # Sums stay sums: nothing spent this month is "$0", not "Free".
    assert pricing.format_money(Decimal("0")) == "$0"


def test_the_job_page_shows_the_words(alice: Any, alice_client: Client) -> None:
    job = make_job(user=alice, params={"n": 1, "output_format": "webp", "quality": "high"})
    Job.objects.filter(pk=job.pk).update(
        usage={"input_tokens": 1040, "input_tokens_details": {"text_tokens": 40}},
        cost=Decimal("0"),
        cost_source="list_price",
        estimated_cost=Decimal("0"),
    )
    page = alice_client.get(f"/jobs/{job.pk}/").content.decode()
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))
    assert "Output format WebP" in text
    assert "Quality High" in text
    assert "output_format" not in text
    assert "Input tokens 1,040" in text
    assert "Input tokens by kind text 40" in text
    assert "input_tokens" not in text
    # Free needs no source: "Free (at the list price)" says nothing more.
    assert re.search(r'class="job-cost">Free</dd>', page)
    assert re.search(r'class="job-estimate">Free', page)
