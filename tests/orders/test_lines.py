"""Properties of order lines' arithmetic: an amount discount shared out over any split of
a line adds up to the line's discount exactly, and progress reads 100 % only when every
unit of every line is done (ERPNext's rounding left 99.9996 %: PR #13392)."""

from __future__ import annotations

import itertools
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from domain.money import round_half_up
from domain.orders.lines import every, percent, shared_discount

quantities = st.decimals(min_value="0.001", max_value="100000", places=3)


@given(
    total=quantities,
    discount=st.decimals(min_value="0", max_value="1000000", places=6),
    cuts=st.lists(st.floats(min_value=0.01, max_value=0.99), max_size=6),
    places=st.sampled_from([0, 2, 3]),
)
def testshared_discounts_add_up_to_the_lines(
    total: Decimal, discount: Decimal, cuts: list[float], places: int
) -> None:
    line = {"quantity": str(total), "discount": str(discount)}
    points = sorted({(total * Decimal(str(c))).quantize(Decimal("0.001")) for c in cuts})
    bounds = [Decimal(0), *(p for p in points if 0 < p < total), total]
    shares = [shared_discount(line, hi - lo, lo, places) for lo, hi in itertools.pairwise(bounds)]
    assert sum(shares) == round_half_up(discount, places)
    assert all(share >= 0 for share in shares)


@given(
    st.lists(
        st.tuples(quantities, st.decimals(min_value="0", max_value="1", places=4)),
        min_size=1,
        max_size=8,
    )
)
def test_percent_is_100_only_when_every_unit_is_done(rows: list[tuple[Decimal, Decimal]]) -> None:
    lines = [{"quantity": str(q), "delivered": str(q * f)} for q, f in rows]
    value = percent(lines, "delivered")
    assert 0 <= value <= 100
    assert (value == 100) == every(lines, "delivered")
