"""Prices: the estimate before a run, the cost after it, and money as people read it."""

from __future__ import annotations

from decimal import Decimal

import pytest

from editor import catalog, pricing
from editor.models import ImageModel


@pytest.mark.parametrize(
    ("amount", "text"),
    [
        (Decimal("0.042"), "$0.042"),
        (Decimal("0.08"), "$0.08"),
        (Decimal("0.0425"), "$0.043"),
        (Decimal("0.17"), "$0.17"),
        (Decimal("0.169999"), "$0.17"),
        (Decimal("1.5"), "$1.50"),
        (Decimal("1234.5"), "$1,234.50"),
        (Decimal("0.0065"), "$0.0065"),
        (Decimal("0.000512"), "$0.00051"),
        (Decimal("0"), "$0"),
    ],
)
def test_money_reads_as_people_write_it(amount: Decimal, text: str) -> None:
    assert pricing.format_money(amount) == text


def test_an_estimate_says_it_is_one() -> None:
    assert pricing.format_money(Decimal("0.17"), approximate=True) == "≈ $0.17"
    ranged = pricing.Estimate(amount=Decimal("0.13"), low=Decimal("0.011"), high=Decimal("0.25"))
    assert pricing.format_estimate(ranged) == "≈ $0.13 ($0.011–$0.25)"
    exact = pricing.Estimate(amount=Decimal("0.08"), exact=True)
    assert pricing.format_estimate(exact) == "$0.08"


def test_a_price_per_image_multiplies_by_the_number_of_images() -> None:
    found = pricing.estimate(pricing={"per_image": "0.04"}, params={"n": 3})
    assert found == pricing.Estimate(amount=Decimal("0.12"), exact=True)


def test_a_price_per_size_takes_the_size_asked_for() -> None:
    by_size = {"per_image_by_size": {"256x256": "0.016", "1024x1024": "0.02"}}
    asked = pricing.estimate(pricing=by_size, params={"size": "256x256", "n": 2})
    assert asked == pricing.Estimate(amount=Decimal("0.032"), exact=True)
    # "auto": the typical size, and only approximately.
    auto = pricing.estimate(pricing=by_size, params={"size": "auto"})
    assert auto == pricing.Estimate(amount=Decimal("0.02"))


def test_a_range_is_estimated_at_its_average_and_shown_with_its_bounds() -> None:
    ranged = {"per_image_range": {"min": "0.01", "average": "0.05", "max": "0.2"}}
    found = pricing.estimate(pricing=ranged, params={"n": 2})
    assert found == pricing.Estimate(
        amount=Decimal("0.10"), low=Decimal("0.02"), high=Decimal("0.4")
    )


def test_token_prices_estimate_from_quality_size_count_and_inputs() -> None:
    # gpt-image-2: $30 per million output tokens; high quality at 1024x1024 is
    # 7040 tokens; two input images at low fidelity are 2 x 388 tokens at $8.
    found = pricing.estimate(
        pricing={"tokens": "gpt-image-2"},
        params={"quality": "high", "size": "1024x1024", "n": 1},
        input_images=2,
    )
    assert found is not None and not found.exact
    assert found.amount == (Decimal(7040) * 30 + Decimal(776) * 8) / 1_000_000
    # A dated alias is priced as its family; a larger size costs more.
    bigger = pricing.estimate(
        pricing={"tokens": "gpt-image-2-2026-04-21"},
        params={"quality": "high", "size": "2048x1152", "n": 1},
        input_images=2,
    )
    assert bigger is not None and bigger.amount > found.amount


def test_a_cost_is_computed_from_token_usage() -> None:
    usage = {
        "input_tokens": 1010,
        "input_tokens_details": {"text_tokens": 10, "image_tokens": 1000},
        "output_tokens": 4160,
    }
    cost = pricing.cost_from_usage(pricing={"tokens": "gpt-image-1"}, usage=usage)
    assert cost == (Decimal(10) * 5 + Decimal(1000) * 10 + Decimal(4160) * 40) / 1_000_000
    assert pricing.cost_from_usage(pricing={"per_image": "0.04"}, usage=usage) is None
    assert pricing.cost_from_usage(pricing={"tokens": "gpt-image-1"}, usage={}) is None


def test_unknown_prices_give_no_number_rather_than_a_guess() -> None:
    assert pricing.estimate(pricing={}, params={"n": 1}) is None
    assert pricing.estimate(pricing={"tokens": "some-new-model"}, params={}) is None
    assert pricing.price_summary({}) == ""
    assert pricing.price_summary({"weird": {"shape": 1}}) == ""


def test_the_picker_summary_is_a_few_words() -> None:
    assert pricing.price_summary({"per_image": "0"}) == "Free"
    assert pricing.price_summary({"per_image": "0.039"}) == "$0.039 / image"
    by_size = {"per_image_by_size": {"256x256": "0.016", "1024x1024": "0.02"}}
    assert pricing.price_summary(by_size) == "$0.016–$0.02 / image"
    assert pricing.price_summary({"tokens": "gpt-image-2"}) == "≈ $0.053 / image"


def test_token_billing_is_explained_in_a_sentence() -> None:
    assert pricing.price_detail({"tokens": "gpt-image-2"}) == (
        "≈ $0.053 / image at medium quality, 1024×1024; billed by tokens "
        "($5 text in, $8 image in, $30 image out per million tokens)"
    )
    assert pricing.price_detail({"per_image": "0.04"}) == "$0.04 / image"


# OpenAI's published prices per image, in dollars, written here by hand
# rather than derived from Darkroom's token table, so that a wrong table fails.
@pytest.mark.parametrize(
    ("quality", "size", "published"),
    [
        ("low", "1024x1024", "0.011"),
        ("medium", "1024x1024", "0.042"),
        ("high", "1024x1024", "0.167"),
        ("low", "1024x1536", "0.016"),
        ("medium", "1536x1024", "0.063"),
        ("high", "1024x1536", "0.25"),
    ],
)
def test_gpt_image_1_estimates_are_openais_published_prices(
    quality: str, size: str, published: str
) -> None:
    found = pricing.estimate(
        pricing={"tokens": "gpt-image-1"}, params={"quality": quality, "size": size, "n": 1}
    )
    assert found is not None
    # Within a tenth of a cent: OpenAI rounds its table to it.
    assert abs(found.amount - Decimal(published)) <= Decimal("0.001"), found.amount


@pytest.mark.parametrize(
    ("size", "published"), [("256x256", "0.016"), ("512x512", "0.018"), ("1024x1024", "0.02")]
)
def test_dalle_2_is_priced_at_openais_list_price(db: None, size: str, published: str) -> None:
    provider = catalog.provider_create(
        name="classic", kind="dalle2", base_url="https://api.example/v1", api_key="k", sync=False
    )
    catalog.provider_sync_models(provider=provider, offline=True)
    model = ImageModel.objects.get(provider=provider, model_id="dall-e-2")
    found = pricing.estimate(pricing=model.pricing, params={"size": size, "n": 2})
    assert found == pricing.Estimate(amount=Decimal(published) * 2, exact=True)
