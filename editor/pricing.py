"""What a run costs: the estimate before it, the cost after, and money as people read it.

A model's ``pricing`` (filled from the provider's listing or our knowledge)
comes in one of a few shapes:

* ``{"per_image": "0.04"}``: one price per image;
* ``{"per_image_by_size": {"1024x1024": "0.04", ...}}``: a price per size;
* ``{"per_image_range": {"min": ..., "average": ..., "max": ...}}``: the
  provider's price depends on what the model decides (ImageRouter's
  "calculated" prices);
* ``{"tokens": "gpt-image-2"}``: OpenAI's token billing, priced from the one
  table below.

Nothing here knows about Django: callers pass the model's pricing and the
job's parameters.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

MILLION = Decimal(1_000_000)


@dataclass(frozen=True)
class TokenPrices:
    """USD per million tokens."""

    text_in: Decimal
    image_in: Decimal
    image_out: Decimal
    text_out: Decimal


def _prices(text_in: str, image_in: str, image_out: str, text_out: str = "10") -> TokenPrices:
    return TokenPrices(Decimal(text_in), Decimal(image_in), Decimal(image_out), Decimal(text_out))


# OpenAI's published token prices for its image models, the one place they
# are kept. Dated and "-latest" aliases are priced as their family.
TOKEN_PRICES: dict[str, TokenPrices] = {
    "gpt-image-2": _prices("5", "8", "30"),
    "gpt-image-1.5": _prices("5", "8", "32"),
    "chatgpt-image-latest": _prices("5", "8", "32"),
    "gpt-image-1": _prices("5", "10", "40", text_out="40"),
    "gpt-image-1-mini": _prices("2", "2.5", "8", text_out="8"),
}

# Output image tokens for one image at 1024x1024, by quality. The gpt-image-1
# family's come from OpenAI's size/quality table; gpt-image-2's from its
# published per-image costs at that size. Other sizes scale with their area
# (OpenAI's own table does, within a few tokens).
OUTPUT_TOKENS_SQUARE: dict[str, dict[str, int]] = {
    "gpt-image-2": {"low": 208, "medium": 1760, "high": 7040},
    "default": {"low": 272, "medium": 1056, "high": 4160},
}
SQUARE_PIXELS = 1024 * 1024
# Input image tokens per image sent with an edit, at low and high fidelity.
INPUT_IMAGE_TOKENS = {"low": 388, "high": 4548}
# "auto" quality and size: what the models pick for most prompts.
AUTO_QUALITY = "medium"
AUTO_SIZE = (1024, 1024)

SIZE = re.compile(r"^(\d{1,5})\s*[x*×]\s*(\d{1,5})$")
DATED_ALIAS = re.compile(r"-(\d{4}-\d{2}-\d{2}|latest)$")


@dataclass(frozen=True)
class Estimate:
    """What a run should cost, and how sure that is."""

    amount: Decimal
    # The price list gives it exactly (a fixed price per image), or only
    # approximately (tokens, a price that depends on the model's choices).
    exact: bool = False
    low: Decimal | None = None
    high: Decimal | None = None


def decimal(value: Any) -> Decimal | None:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() and number >= 0 else None


def parse_size(value: Any) -> tuple[int, int] | None:
    match = SIZE.match(str(value or "").strip())
    return (int(match[1]), int(match[2])) if match else None


def token_prices(pricing: Mapping[str, Any]) -> TokenPrices | None:
    family = pricing.get("tokens")
    if not isinstance(family, str):
        return None
    return TOKEN_PRICES.get(family) or TOKEN_PRICES.get(DATED_ALIAS.sub("", family))


def _count(params: Mapping[str, Any]) -> int:
    try:
        return max(1, int(params.get("n") or 1))
    except (TypeError, ValueError):
        return 1


def estimate(
    *,
    pricing: Mapping[str, Any],
    params: Mapping[str, Any],
    input_images: int = 0,
    prompt: str = "",
) -> Estimate | None:
    """The expected cost of one run, or None when the price is unknown."""
    count = _count(params)
    if (price := decimal(pricing.get("per_image"))) is not None:
        return Estimate(amount=price * count, exact=True)
    by_size = pricing.get("per_image_by_size")
    if isinstance(by_size, Mapping) and by_size:
        return _estimate_by_size(by_size, params, count)
    bounds = pricing.get("per_image_range")
    if isinstance(bounds, Mapping):
        low, high = decimal(bounds.get("min")), decimal(bounds.get("max"))
        if low is not None and high is not None:
            middle = decimal(bounds.get("average"))
            middle = middle if middle is not None else (low + high) / 2
            return Estimate(amount=middle * count, low=low * count, high=high * count)
    prices = token_prices(pricing)
    if prices is not None:
        return _estimate_tokens(pricing, prices, params, count, input_images, prompt)
    return None


def _estimate_by_size(
    by_size: Mapping[str, Any], params: Mapping[str, Any], count: int
) -> Estimate:
    prices = {
        parse_size(size): price
        for size, raw in by_size.items()
        if (price := decimal(raw)) is not None and parse_size(size)
    }
    wanted = parse_size(params.get("size"))
    if wanted in prices:
        return Estimate(amount=prices[wanted] * count, exact=True)
    # "auto" or a size the list does not name: the typical size if listed,
    # else the middle of the range.
    if AUTO_SIZE in prices:
        return Estimate(amount=prices[AUTO_SIZE] * count)
    values = sorted(prices.values())
    low, high = values[0] * count, values[-1] * count
    return Estimate(amount=(low + high) / 2, low=low, high=high)


def _estimate_tokens(
    pricing: Mapping[str, Any],
    prices: TokenPrices,
    params: Mapping[str, Any],
    count: int,
    input_images: int,
    prompt: str,
) -> Estimate:
    family = DATED_ALIAS.sub("", str(pricing.get("tokens")))
    table = OUTPUT_TOKENS_SQUARE.get(family, OUTPUT_TOKENS_SQUARE["default"])
    quality = str(params.get("quality") or "auto")
    per_square = table.get(quality, table[AUTO_QUALITY])
    width, height = parse_size(params.get("size")) or AUTO_SIZE
    output = math.ceil(per_square * width * height / SQUARE_PIXELS) * count
    fidelity = "high" if params.get("input_fidelity") == "high" else "low"
    image_input = INPUT_IMAGE_TOKENS[fidelity] * input_images
    # About four characters a token.
    text_input = math.ceil(len(prompt) / 4)
    amount = (
        text_input * prices.text_in + image_input * prices.image_in + output * prices.image_out
    ) / MILLION
    return Estimate(amount=amount)


def cost_from_usage(*, pricing: Mapping[str, Any], usage: Mapping[str, Any]) -> Decimal | None:
    """The cost of a call billed by tokens, from the ``usage`` it reported."""
    prices = token_prices(pricing)
    if prices is None or not isinstance(usage, Mapping):
        return None

    def tokens(source: Any, key: str) -> int:
        value = source.get(key) if isinstance(source, Mapping) else None
        return value if isinstance(value, int) and value >= 0 else 0

    if "input_tokens" not in usage and "output_tokens" not in usage:
        return None
    details_in = usage.get("input_tokens_details")
    if isinstance(details_in, Mapping):
        cost_in = (
            tokens(details_in, "text_tokens") * prices.text_in
            + tokens(details_in, "image_tokens") * prices.image_in
        )
    else:
        cost_in = tokens(usage, "input_tokens") * prices.text_in
    details_out = usage.get("output_tokens_details")
    if isinstance(details_out, Mapping):
        cost_out = (
            tokens(details_out, "image_tokens") * prices.image_out
            + tokens(details_out, "text_tokens") * prices.text_out
        )
    else:
        cost_out = tokens(usage, "output_tokens") * prices.image_out
    return (cost_in + cost_out) / MILLION


def list_price(*, pricing: Mapping[str, Any], params: Mapping[str, Any]) -> Decimal | None:
    """The cost of a run at the list price, when the price list states it exactly."""
    found = estimate(pricing=pricing, params=params)
    return found.amount if found is not None and found.exact else None


# --- Money as people read it ---------------------------------------------------


def format_money(amount: Decimal | float | int | None, *, approximate: bool = False) -> str:
    """``$0.042``, ``$0.08``, ``$1.25``, ``$0.0065``; ``≈ $0.17`` for an estimate.

    Two decimals from ten cents up, three below that, and two significant
    digits for fractions of a cent, so a cheap run never reads as "$0.00".
    """
    if amount is None:
        return ""
    value = Decimal(str(amount))
    if value == 0:
        text = "$0"
    elif value >= Decimal("0.1"):
        text = f"${value.quantize(Decimal('0.01'), rounding=ROUND_HALF_UP):,}"
    elif value >= Decimal("0.01"):
        # "$0.042", but "$0.08" rather than "$0.080".
        cents = f"{value.quantize(Decimal('0.001'), rounding=ROUND_HALF_UP)}"
        text = "$" + (cents[:-1] if cents.endswith("0") else cents)
    else:
        exponent = value.adjusted() - 1
        rounded = value.quantize(Decimal(1).scaleb(exponent), rounding=ROUND_HALF_UP)
        text = f"${rounded:f}"
    return f"≈ {text}" if approximate else text


def format_cost(amount: Decimal | float | int | None, *, approximate: bool = False) -> str:
    """What one run costs: ``format_money``, but "Free" for nothing at all
    (the offline demo), where "$0" reads like a price not yet known."""
    if amount is not None and Decimal(str(amount)) == 0:
        return "Free"
    return format_money(amount, approximate=approximate)


def format_estimate(found: Estimate | None) -> str:
    if found is None:
        return ""
    if found.exact:
        return format_cost(found.amount)
    text = format_money(found.amount, approximate=True)
    if found.low is not None and found.high is not None and found.low != found.high:
        text += f" ({format_money(found.low)}–{format_money(found.high)})"
    return text


def price_summary(pricing: Mapping[str, Any]) -> str:
    """The model's price in a few words, for the model picker."""
    if (price := decimal(pricing.get("per_image"))) is not None:
        return "Free" if price == 0 else f"{format_money(price)} / image"
    by_size = pricing.get("per_image_by_size")
    if isinstance(by_size, Mapping):
        values = sorted(value for raw in by_size.values() if (value := decimal(raw)) is not None)
        if values:
            if values[0] == values[-1]:
                return f"{format_money(values[0])} / image"
            return f"{format_money(values[0])}–{format_money(values[-1])} / image"
    bounds = pricing.get("per_image_range")
    if isinstance(bounds, Mapping):
        low, high = decimal(bounds.get("min")), decimal(bounds.get("max"))
        if low is not None and high is not None:
            return f"{format_money(low)}–{format_money(high)} / image"
    prices = token_prices(pricing)
    if prices is not None:
        # A typical image: medium quality at 1024x1024.
        typical = estimate(pricing=pricing, params={"quality": "medium", "size": "1024x1024"})
        assert typical is not None
        return f"{format_money(typical.amount, approximate=True)} / image"
    return ""


def price_detail(pricing: Mapping[str, Any]) -> str:
    """The model's price in a sentence, for the parameters panel."""
    summary = price_summary(pricing)
    prices = token_prices(pricing)
    if prices is None:
        return summary
    per_million = (
        f"${prices.text_in:g} text in, ${prices.image_in:g} image in, "
        f"${prices.image_out:g} image out per million tokens"
    )
    return f"{summary} at medium quality, 1024×1024; billed by tokens ({per_million})"
