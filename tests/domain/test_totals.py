"""Line and document totals: every tax type, discounts, and the rounding invariants."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from domain.documents.totals import (
    DiscountTooLarge,
    Line,
    Tax,
    document_totals,
    line_totals,
)
from domain.money import AmountTooLarge

D = Decimal
VAT = Tax("vat", "normal", D(10))
VAT20 = Tax("vat20", "normal", D(20))
INCL7 = Tax("incl7", "inclusive", D(7))
INCL10 = Tax("incl10", "inclusive", D(10))
INCL5 = Tax("incl5", "inclusive", D(5))
COMPOUND5 = Tax("cmp5", "compound", D(5))
COMPOUND3 = Tax("cmp3", "compound", D(3))
FIXED = Tax("eco", "fixed", D("0.25"))
WITHHOLD2 = Tax("wht2", "withholding", D(2))


def line(quantity: str, price: str, *taxes: Tax, **discount: str) -> Line:
    kind = next(iter(discount), None)
    return Line(
        quantity=D(quantity),
        price=D(price),
        taxes=taxes,
        discount_type=kind,  # type: ignore[arg-type]
        discount=D(discount[kind]) if kind else D(0),
    )


# --- exact examples ---------------------------------------------------------------------------


def test_no_tax() -> None:
    t = line_totals(line("3", "19.99"), 2)
    assert (t.gross, t.discount, t.net, t.taxes, t.total) == (5997, 0, 5997, {}, 5997)


def test_normal_tax_rounds_each_step_half_up() -> None:
    # gross 2 x 10.005 = 20.010 -> 20.01; 10% of 20.01 = 2.001 -> 2.00
    t = line_totals(line("2", "10.005", VAT), 2)
    assert (t.gross, t.net, t.taxes, t.total) == (2001, 2001, {"vat": 200}, 2201)


def test_normal_tax_at_precision_zero() -> None:
    # JPY: 3 x 333.5 = 1000.5 -> 1001; 8% = 80.08 -> 80
    t = line_totals(line("3", "333.5", Tax("ct", "normal", D(8))), 0)
    assert (t.gross, t.net, t.taxes, t.total) == (1001, 1001, {"ct": 80}, 1081)


def test_normal_tax_at_precision_three() -> None:
    # KWD: 1.2345 -> 1.235; 5% = 0.06175 -> 0.062
    t = line_totals(line("1", "1.2345", Tax("vat5", "normal", D(5))), 3)
    assert (t.gross, t.net, t.taxes, t.total) == (1235, 1235, {"vat5": 62}, 1297)


def test_inclusive_tax_is_carved_out_of_the_price() -> None:
    t = line_totals(line("1", "110", INCL10), 2)
    assert (t.gross, t.net, t.taxes, t.total) == (11000, 10000, {"incl10": 1000}, 11000)


def test_inclusive_tax_absorbs_the_rounding() -> None:
    # 10.00 / 1.07 = 9.3457... -> 9.35; the tax is what remains: 0.65
    t = line_totals(line("1", "10", INCL7), 2)
    assert (t.gross, t.net, t.taxes, t.total) == (1000, 935, {"incl7": 65}, 1000)


def test_two_inclusive_taxes_the_last_absorbs_the_rounding() -> None:
    # net = 100 / 1.15 = 86.9565 -> 86.96; 5% of net = 4.348 -> 4.35; the last gets the rest
    t = line_totals(line("1", "100", INCL5, INCL10), 2)
    assert t.net == 8696
    assert t.taxes == {"incl5": 435, "incl10": 869}
    assert t.total == t.gross == 10000


def test_normal_tax_on_top_of_an_inclusive_one_applies_to_net() -> None:
    t = line_totals(line("1", "110", INCL10, Tax("vat5", "normal", D(5))), 2)
    assert (t.net, t.taxes, t.total) == (10000, {"incl10": 1000, "vat5": 500}, 11500)


def test_compound_tax_applies_on_net_plus_the_normal_tax() -> None:
    # 10% of 100 = 10; compound 5% of 110 = 5.50
    t = line_totals(line("1", "100", VAT, COMPOUND5), 2)
    assert (t.net, t.taxes, t.total) == (10000, {"vat": 1000, "cmp5": 550}, 11550)


def test_compound_tax_order_does_not_matter() -> None:
    a = line_totals(line("1", "100", COMPOUND5, VAT), 2)
    b = line_totals(line("1", "100", VAT, COMPOUND5), 2)
    assert a.taxes == b.taxes and a.total == b.total == 11550


def test_compound_tax_includes_fixed_taxes() -> None:
    # net 6.00; fixed 3 x 0.25 = 0.75; compound 10% of 6.75 = 0.675 -> 0.68
    t = line_totals(line("3", "2", FIXED, Tax("c10", "compound", D(10))), 2)
    assert (t.net, t.taxes, t.total) == (600, {"eco": 75, "c10": 68}, 743)


def test_fixed_tax_is_an_amount_per_unit() -> None:
    t = line_totals(line("3", "2", FIXED), 2)
    assert (t.net, t.taxes, t.total) == (600, {"eco": 75}, 675)
    # 2.5 units x 0.333 = 0.8325 -> 0.83
    t = line_totals(line("2.5", "1", Tax("f", "fixed", D("0.333"))), 2)
    assert t.taxes == {"f": 83}


def test_withholding_is_negative() -> None:
    t = line_totals(line("1", "100", WITHHOLD2), 2)
    assert (t.net, t.taxes, t.total) == (10000, {"wht2": -200}, 9800)


def test_withholding_rounds_half_up_before_the_sign() -> None:
    # 1.5% of 33.33 = 0.49995 -> 0.50, withheld: -0.50
    t = line_totals(line("1", "33.33", Tax("w", "withholding", D("1.5"))), 2)
    assert (t.taxes, t.total) == ({"w": -50}, 3283)


def test_compound_tax_leaves_withholding_out_of_its_base() -> None:
    # compound 5% of (100 + 10), not of (100 + 10 - 2)
    t = line_totals(line("1", "100", VAT, WITHHOLD2, COMPOUND5), 2)
    assert t.taxes == {"vat": 1000, "wht2": -200, "cmp5": 550}
    assert t.total == 11350


def test_several_taxes_on_one_line() -> None:
    # gross 4 x 25.125 = 100.50; 10% off = 10.05; net 90.45
    # normal 20% = 18.09; fixed 4 x 0.10 = 0.40; compound 3% of 108.94 = 3.2682 -> 3.27;
    # withholding 5% of 90.45 = 4.5225 -> -4.52
    taxes = (VAT20, Tax("f", "fixed", D("0.10")), COMPOUND3, Tax("w5", "withholding", D(5)))
    t = line_totals(line("4", "25.125", *taxes, percent="10"), 2)
    assert (t.gross, t.discount, t.net) == (10050, 1005, 9045)
    assert t.taxes == {"vat20": 1809, "f": 40, "cmp3": 327, "w5": -452}
    assert t.total == 9045 + 1809 + 40 + 327 - 452 == 10769


def test_percent_discount() -> None:
    t = line_totals(line("2", "100", VAT, percent="12.5"), 2)
    assert (t.gross, t.discount, t.net, t.taxes, t.total) == (
        20000,
        2500,
        17500,
        {"vat": 1750},
        19250,
    )


def test_percent_discount_rounds_half_up() -> None:
    # 33% of 10.05 = 3.3165 -> 3.32
    t = line_totals(line("1", "10.05", percent="33"), 2)
    assert (t.discount, t.net) == (332, 673)


def test_amount_discount_is_rounded_to_the_precision() -> None:
    t = line_totals(line("1", "100", amount="30.004"), 2)
    assert (t.discount, t.net, t.total) == (3000, 7000, 7000)


def test_full_discount() -> None:
    t = line_totals(line("1", "100", VAT, WITHHOLD2, percent="100"), 2)
    assert (t.net, t.total) == (0, 0)
    assert t.taxes == {"vat": 0, "wht2": 0}
    t = line_totals(line("1", "100", amount="100"), 2)
    assert (t.net, t.total) == (0, 0)


def test_discount_that_rounds_to_the_gross_is_allowed() -> None:
    assert line_totals(line("1", "100", amount="100.004"), 2).net == 0


def test_discount_larger_than_gross_raises() -> None:
    with pytest.raises(DiscountTooLarge):
        line_totals(line("1", "100", amount="100.01"), 2)
    with pytest.raises(DiscountTooLarge):
        line_totals(line("1", "100", percent="100.5"), 2)
    with pytest.raises(DiscountTooLarge):
        line_totals(line("1", "0", amount="0.01"), 2)
    with pytest.raises(DiscountTooLarge):
        document_totals([line("1", "5"), line("1", "5", amount="6")], 2)


def test_a_line_beyond_the_amount_limit_raises_amount_too_large() -> None:
    # the API's largest quantity times its largest price: 10**24, far above 10**15 minor units
    with pytest.raises(AmountTooLarge):
        line_totals(line("1000000000000", "1000000000000"), 2)
    # ten 100% taxes on a large line: the compound base would pass the Decimal context's 28
    # digits; the limit answers first
    many = [Tax(f"t{i}", "normal", D(100)) for i in range(9)]
    many.append(Tax("c", "compound", D(100)))
    with pytest.raises(AmountTooLarge):
        line_totals(line("1000000", "1000000", *many), 3)
    # at the limit itself, fine
    assert line_totals(line("1", "10000000000000"), 2).total == 10**15


def test_document_totals_sum_the_lines_and_group_taxes() -> None:
    doc = document_totals(
        [
            line("2", "10.005", VAT),  # 20.01 + 2.00
            line("1", "0.05", VAT),  # 0.05 + 0.005 -> 0.01
            line("1", "100", WITHHOLD2, amount="10"),  # 90.00 - 1.80
        ],
        2,
    )
    assert doc.subtotal == 2001 + 5 + 10000
    assert doc.discount == 1000
    assert doc.net == 2001 + 5 + 9000
    assert doc.taxes == {"vat": 200 + 1, "wht2": -180}
    assert doc.tax == 21
    assert doc.total == doc.net + doc.tax == 11027
    assert [x.total for x in doc.lines] == [2201, 6, 8820]


def test_document_tax_is_the_sum_of_rounded_lines_not_of_the_document() -> None:
    # Three lines of 0.05 at 10%: each tax 0.005 -> 0.01, so 0.03 (not 10% of 0.15 = 0.02).
    doc = document_totals([line("1", "0.05", VAT)] * 3, 2)
    assert (doc.net, doc.tax, doc.total) == (15, 3, 18)


def test_empty_document() -> None:
    doc = document_totals([], 2)
    assert (doc.subtotal, doc.net, doc.tax, doc.total, doc.taxes) == (0, 0, 0, 0, {})


# --- properties -------------------------------------------------------------------------------

PLACES = st.sampled_from([0, 2, 3])
quantities = st.decimals(
    min_value=D("0.001"), max_value=D(10_000), places=3, allow_nan=False, allow_infinity=False
)
prices = st.decimals(min_value=D(0), max_value=D(1_000_000), places=4, allow_nan=False)
rates = st.decimals(min_value=D(0), max_value=D(100), places=4, allow_nan=False)
percents = st.decimals(min_value=D(0), max_value=D(100), places=2, allow_nan=False)
amount_discounts = st.decimals(min_value=D(0), max_value=D(100_000), places=4, allow_nan=False)
TAX_TYPES = ("normal", "inclusive", "compound", "fixed", "withholding")


@st.composite
def taxes(draw: st.DrawFn, types: tuple[str, ...] = TAX_TYPES) -> tuple[Tax, ...]:
    kinds = draw(st.lists(st.sampled_from(types), max_size=5))
    return tuple(Tax(f"t{i}", kind, draw(rates)) for i, kind in enumerate(kinds))  # type: ignore[arg-type]


@st.composite
def lines(draw: st.DrawFn, types: tuple[str, ...] = TAX_TYPES, *, valid: bool = False) -> Line:
    """A line; with `valid`, an amount discount is at most the line's gross (mostly below)."""
    quantity, price = draw(quantities), draw(prices)
    kind = draw(st.sampled_from([None, "percent", "amount"]))
    discount = D(0)
    if kind == "percent":
        discount = draw(percents)
    elif kind == "amount" and valid:
        gross = quantity * price
        discount = gross * draw(st.integers(0, 100)) / 100
    elif kind == "amount":
        discount = draw(amount_discounts)
    return Line(
        quantity=quantity,
        price=price,
        taxes=draw(taxes(types)),
        discount_type=kind,
        discount=discount,
    )


def q(amount: Decimal, places: int) -> Decimal:
    return amount.quantize(D(1).scaleb(-places), ROUND_HALF_UP)


def minor(amount: Decimal, places: int) -> int:
    return int(q(amount, places) * 10**places)


def ref_gross_and_discount(ln: Line, places: int) -> tuple[Decimal, Decimal]:
    gross = q(ln.quantity * ln.price, places)
    if ln.discount_type == "percent":
        discount = q(gross * ln.discount / 100, places)
    elif ln.discount_type == "amount":
        discount = q(ln.discount, places)
    else:
        discount = D(0)
    return gross, discount


def totals_or_skip(ln: Line, places: int):  # type: ignore[no-untyped-def]
    gross, discount = ref_gross_and_discount(ln, places)
    if discount > gross:
        with pytest.raises(DiscountTooLarge):
            line_totals(ln, places)
        assume(False)
    return line_totals(ln, places)


@given(lines(valid=True), PLACES)
def test_line_total_is_net_plus_its_taxes(ln: Line, places: int) -> None:
    t = totals_or_skip(ln, places)
    assert t.total == t.net + sum(t.taxes.values())
    assert set(t.taxes) == {tax.id for tax in ln.taxes}
    assert all(isinstance(v, int) for v in (t.gross, t.discount, t.net, t.total))


@given(lines(), PLACES)
def test_discount_too_large_is_raised_exactly_when_it_exceeds_the_gross(
    ln: Line, places: int
) -> None:
    gross, discount = ref_gross_and_discount(ln, places)
    if discount > gross:
        with pytest.raises(DiscountTooLarge):
            line_totals(ln, places)
    else:
        t = line_totals(ln, places)
        assert (t.gross, t.discount) == (minor(gross, places), minor(discount, places))


@given(st.lists(lines(valid=True), max_size=8), PLACES)
def test_document_totals_are_sums_of_the_rounded_lines(items: list[Line], places: int) -> None:
    for ln in items:
        gross, discount = ref_gross_and_discount(ln, places)
        assume(discount <= gross)
    doc = document_totals(items, places)
    each = [line_totals(ln, places) for ln in items]
    assert doc.lines == each
    assert doc.subtotal == sum(t.gross for t in each)
    assert doc.discount == sum(t.discount for t in each)
    assert doc.net == sum(t.net for t in each)
    assert doc.total == sum(t.total for t in each)
    ids = {tax_id for t in each for tax_id in t.taxes}
    assert doc.taxes == {i: sum(t.taxes.get(i, 0) for t in each) for i in ids}
    assert doc.tax == sum(doc.taxes.values())
    assert doc.total == doc.net + doc.tax


@given(lines(types=("normal",), valid=True), PLACES)
def test_normal_taxes_match_a_decimal_reference(ln: Line, places: int) -> None:
    t = totals_or_skip(ln, places)
    gross, discount = ref_gross_and_discount(ln, places)
    net = gross - discount
    expected = {tax.id: minor(net * tax.rate / 100, places) for tax in ln.taxes}
    assert t.gross == minor(gross, places)
    assert t.discount == minor(discount, places)
    assert t.net == minor(net, places) == t.gross - t.discount
    assert t.taxes == expected
    assert t.total == minor(net, places) + sum(expected.values())


@given(lines(types=("normal", "compound", "fixed", "withholding"), valid=True), PLACES)
def test_without_inclusive_taxes_net_is_gross_less_discount(ln: Line, places: int) -> None:
    t = totals_or_skip(ln, places)
    assert t.net == t.gross - t.discount


@given(lines(valid=True), PLACES)
def test_net_plus_inclusive_taxes_is_the_discounted_gross(ln: Line, places: int) -> None:
    inclusive = [tax for tax in ln.taxes if tax.type == "inclusive"]
    assume(inclusive)
    t = totals_or_skip(ln, places)
    carved = sum(t.taxes[tax.id] for tax in inclusive)
    assert t.net + carved == t.gross - t.discount
    # the net is the discounted gross divided by 1 + the inclusive rates, rounded
    rate = sum((tax.rate for tax in inclusive), D(0))
    after = D(t.gross - t.discount).scaleb(-places)
    assert t.net == minor(after * 100 / (100 + rate), places)


@given(lines(types=("normal", "fixed", "withholding", "compound"), valid=True), PLACES)
def test_each_exclusive_tax_matches_its_rule(ln: Line, places: int) -> None:
    t = totals_or_skip(ln, places)
    net = D(t.net).scaleb(-places)
    for tax in ln.taxes:
        if tax.type == "normal":
            assert t.taxes[tax.id] == minor(net * tax.rate / 100, places)
        elif tax.type == "fixed":
            assert t.taxes[tax.id] == minor(tax.rate * ln.quantity, places)
        elif tax.type == "withholding":
            assert t.taxes[tax.id] == -minor(net * tax.rate / 100, places)
            assert t.taxes[tax.id] <= 0
    base = t.net + sum(t.taxes[tax.id] for tax in ln.taxes if tax.type in ("normal", "fixed"))
    for tax in ln.taxes:
        if tax.type == "compound":
            assert t.taxes[tax.id] == minor(D(base).scaleb(-places) * tax.rate / 100, places)
