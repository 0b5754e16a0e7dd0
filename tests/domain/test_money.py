"""Money: ISO 4217 precisions, half-up rounding into minor units, exact JSON numbers."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.money import (
    MAX_MINOR,
    AmountTooLarge,
    convert_minor,
    from_minor,
    normalise_rate,
    precision,
    quantum,
    round_half_up,
    to_minor,
    to_number,
)

BOUND = Decimal(10**12) - Decimal("0.000001")


@pytest.mark.parametrize(
    ("code", "places"),
    [("JPY", 0), ("KRW", 0), ("USD", 2), ("EUR", 2), ("KWD", 3), ("BHD", 3), ("CLF", 4)],
)
def test_precision_follows_iso_4217(code: str, places: int) -> None:
    assert precision(code) == places


def test_precision_of_a_currency_without_minor_units_defaults_to_two() -> None:
    # Gold and "no currency" have no ISO exponent; two places is the safe default.
    assert precision("XAU") == 2
    assert precision("XXX") == 2


def test_quantum() -> None:
    assert quantum(0) == Decimal(1)
    assert quantum(2) == Decimal("0.01")
    assert quantum(3) == Decimal("0.001")


@pytest.mark.parametrize(
    ("amount", "places", "minor"),
    [
        ("1.005", 2, 101),
        ("1.004999", 2, 100),
        ("2.5", 0, 3),
        ("3.5", 0, 4),  # half-up, not banker's rounding
        ("2.4999", 0, 2),
        ("-1.005", 2, -101),  # half away from zero on the negative side
        ("-2.5", 0, -3),
        ("0.0005", 3, 1),
        ("0.0004", 3, 0),
        ("12.3456", 3, 12346),
        ("-0.004", 2, 0),
        ("0", 2, 0),
        ("999999999999.995", 2, 100000000000000),
        ("1E+3", 2, 100000),
        ("12.34", 2, 1234),
        ("12.3", 4, 123000),
    ],
)
def test_to_minor_rounds_half_up(amount: str, places: int, minor: int) -> None:
    assert to_minor(Decimal(amount), places) == minor


def test_amounts_stop_at_10_to_the_15_minor_units() -> None:
    assert to_minor(Decimal("10000000000000"), 2) == MAX_MINOR
    assert to_minor(Decimal("10000000000000.004"), 2) == MAX_MINOR  # rounds down onto it
    assert to_minor(Decimal("-1000000000000.000"), 3) == -MAX_MINOR
    assert to_minor(Decimal(MAX_MINOR), 0) == MAX_MINOR
    for amount, places in (("10000000000000.005", 2), ("-1000000000000.0005", 3), ("1E+16", 0)):
        with pytest.raises(AmountTooLarge) as raised:
            to_minor(Decimal(amount), places)
        assert raised.value.code == "amount_too_large"
    # a conversion that would leave the limit raises too, instead of overflowing a store column
    with pytest.raises(AmountTooLarge):
        convert_minor(10**14, Decimal(1000), 2, 2)
    # far beyond the Decimal context's 28 digits: still AmountTooLarge, not InvalidOperation
    with pytest.raises(AmountTooLarge):
        round_half_up(Decimal("1E+40"), 3)


def test_round_half_up() -> None:
    assert round_half_up(Decimal("1.005"), 2) == Decimal("1.01")
    assert round_half_up(Decimal("-1.005"), 2) == Decimal("-1.01")
    assert str(round_half_up(Decimal("7"), 3)) == "7.000"


@pytest.mark.parametrize(
    ("minor", "places", "amount"),
    [
        (101, 2, "1.01"),
        (-101, 2, "-1.01"),
        (3, 0, "3"),
        (12345, 3, "12.345"),
        (0, 2, "0.00"),
        (5, 2, "0.05"),
    ],
)
def test_from_minor(minor: int, places: int, amount: str) -> None:
    assert from_minor(minor, places) == Decimal(amount)
    assert to_minor(from_minor(minor, places), places) == minor


@pytest.mark.parametrize(
    ("minor", "places", "number"),
    [
        (1234, 2, 12.34),
        (1230, 2, 12.3),
        (10, 2, 0.1),
        (-101, 2, -1.01),
        (12345, 3, 12.345),
        (1, 3, 0.001),
        (500, 0, 500),
        (0, 2, 0.0),
    ],
)
def test_to_number(minor: int, places: int, number: float | int) -> None:
    out = to_number(minor, places)
    assert out == number
    assert type(out) is type(number)


def test_to_number_of_precision_zero_is_an_int() -> None:
    assert to_number(1500, 0) == 1500
    assert isinstance(to_number(1500, 0), int)
    assert isinstance(to_number(1500, 2), float)


def test_to_number_prints_exactly_below_10_to_the_15_minor_units() -> None:
    # A double holds any 15-significant-digit decimal exactly; 16 digits it does not.
    biggest = 10**15 - 1
    assert repr(to_number(biggest, 2)) == "9999999999999.99"
    assert repr(to_number(biggest, 3)) == "999999999999.999"
    assert repr(to_number(biggest, 0)) == "999999999999999"
    assert repr(to_number(2**53 - 1, 2)) != "90071992547409.91"  # why the bound is 10**15


@pytest.mark.parametrize(
    ("minor", "rate", "from_places", "to_places", "out"),
    [
        (1000, "1.1", 2, 2, 1100),  # 10.00 x 1.1 = 11.00
        (1, "0.5", 2, 2, 1),  # 0.005 rounds half-up to 0.01
        (1, "0.4999", 2, 2, 0),
        (12345, "0.0067", 0, 2, 8271),  # 12345 JPY x 0.0067 = 82.7115 USD -> 82.71
        (100, "0.30735", 2, 3, 307),  # 1.00 USD -> 0.30735 KWD -> 0.307
        (100, "0.3075", 2, 3, 308),  # 0.3075 -> 0.308
        (307, "3.25", 3, 2, 100),  # 0.307 KWD x 3.25 = 0.99775 USD -> 1.00
        (8271, "149.25", 2, 0, 12344),  # 82.71 x 149.25 = 12344.4675 JPY -> 12344
        (-1000, "1.005", 2, 2, -1005),
        (-1, "0.5", 2, 2, -1),
        (12345, "1", 2, 3, 123450),
        (12345, "1", 3, 2, 1235),  # 12.345 -> 12.35
    ],
)
def test_convert_minor(minor: int, rate: str, from_places: int, to_places: int, out: int) -> None:
    assert convert_minor(minor, Decimal(rate), from_places, to_places) == out


def test_normalise_rate() -> None:
    assert normalise_rate(Decimal("1.10000")) == Decimal("1.1")
    assert str(normalise_rate(Decimal("1.123456789049"))) == "1.123456789"
    assert str(normalise_rate(Decimal("1.12345678905"))) == "1.1234567891"  # half-up
    assert str(normalise_rate(Decimal("0.00000000005"))) == "1E-10"


# --- properties -----------------------------------------------------------------------------

amounts = st.decimals(
    min_value=-BOUND, max_value=BOUND, places=6, allow_nan=False, allow_infinity=False
)
places_ = st.integers(min_value=0, max_value=3)


def reference_minor(amount: Decimal, places: int) -> int:
    return int((amount * 10**places).quantize(Decimal(1), ROUND_HALF_UP))


def shortest(rounded: Decimal, places: int) -> str:
    """How Python prints the float of an exact decimal amount: trailing zeros dropped, but
    at least one decimal when it is a float (places > 0); an int when places is 0."""
    text = format(rounded + 0, "f")  # + 0 turns -0.00 into 0.00
    if places == 0:
        return text
    whole, _, fraction = text.partition(".")
    return f"{whole}.{fraction.rstrip('0') or '0'}"


@given(amounts, places_)
def test_to_minor_matches_the_decimal_reference(amount: Decimal, places: int) -> None:
    assert to_minor(amount, places) == reference_minor(amount, places)


@given(amounts, places_)
def test_to_number_prints_the_rounded_amount_without_float_drift(
    amount: Decimal, places: int
) -> None:
    minor = to_minor(amount, places)
    rounded = amount.quantize(quantum(places), ROUND_HALF_UP)
    number = to_number(minor, places)
    assert repr(number) == shortest(rounded, places)
    assert Decimal(repr(number)) == rounded
    # and the JSON number reads back to the same minor units
    assert to_minor(Decimal(repr(number)), places) == minor


@given(st.integers(min_value=-(10**15) + 1, max_value=10**15 - 1), st.integers(0, 4))
def test_minor_round_trips_through_decimal_and_number(minor: int, places: int) -> None:
    assert to_minor(from_minor(minor, places), places) == minor
    assert to_minor(Decimal(repr(to_number(minor, places))), places) == minor


@given(
    st.integers(min_value=-(10**12), max_value=10**12),
    st.decimals(
        min_value=Decimal("0.0000000001"),
        max_value=Decimal(10**6),
        places=10,
        allow_nan=False,
        allow_infinity=False,
    ),
    places_,
    places_,
)
def test_convert_minor_matches_the_decimal_reference(
    minor: int, rate: Decimal, from_places: int, to_places: int
) -> None:
    exact = Decimal(minor) / Decimal(10**from_places) * rate
    expected = reference_minor(exact, to_places)
    if abs(expected) > MAX_MINOR:
        with pytest.raises(AmountTooLarge):
            convert_minor(minor, rate, from_places, to_places)
    else:
        assert convert_minor(minor, rate, from_places, to_places) == expected
