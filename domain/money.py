"""Money: `Decimal` in code, integer minor units in storage, half-up at the currency's precision.

No float ever touches an amount on the way in. On the way out amounts become JSON numbers:
`to_number` turns minor units into a float only at the edge, whose shortest representation
prints exactly the decimal amount (12.34 stays 12.34) for any amount up to 10**15 minor units:
a double holds 15 significant decimal digits exactly, not 16 (2**53 - 1 cents would print
90071992547409.9). So that is the limit of any amount: rounding a larger one raises
`AmountTooLarge` (a 400), rather than storing an integer no store column holds (a 500) or
answering a number that is not the amount.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import iso4217

from domain.errors import Invalid

ONE = Decimal(1)
RATE_PLACES = Decimal("0.0000000001")
MAX_MINOR = 10**15
HALF = Decimal("0.5")


class AmountTooLarge(Invalid):
    code = "amount_too_large"


def precision(code: str) -> int:
    """Minor-unit digits of an ISO 4217 currency: JPY 0, USD 2, KWD 3."""
    exponent = iso4217.Currency(code).exponent
    return 2 if exponent is None else exponent


def quantum(places: int) -> Decimal:
    return Decimal(1).scaleb(-places)


def round_half_up(amount: Decimal, places: int) -> Decimal:
    if abs(amount).scaleb(places) >= MAX_MINOR + HALF:
        limit = from_minor(MAX_MINOR, places)
        raise AmountTooLarge(
            f"an amount is too large: amounts are limited to {limit:f} "
            f"({MAX_MINOR} minor units at {places} decimal places)"
        )
    return amount.quantize(quantum(places), rounding=ROUND_HALF_UP)


def to_minor(amount: Decimal, places: int) -> int:
    return int(round_half_up(amount, places).scaleb(places))


def from_minor(minor: int, places: int) -> Decimal:
    return Decimal(minor).scaleb(-places)


def to_number(minor: int, places: int) -> float | int:
    return int(minor) if places == 0 else float(from_minor(minor, places))


def convert_minor(minor: int, rate: Decimal, from_places: int, to_places: int) -> int:
    """Minor units of one currency into another at `rate` (target units per source unit)."""
    return to_minor(from_minor(minor, from_places) * rate, to_places)


def normalise_rate(rate: Decimal) -> Decimal:
    return rate.quantize(RATE_PLACES, rounding=ROUND_HALF_UP).normalize()
