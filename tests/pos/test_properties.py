"""Property: a sold line refunded in any number of parts, in any sizes, gives back exactly
the line as sold (gross, discount, net, each tax and total, to the cent), and no part is
worth less than nothing. Random quantities, prices (up to 6 decimals), discounts (none,
percent, amount) and taxes (normal, inclusive, compound), in currencies of 0 and 2
decimals."""

from __future__ import annotations

import itertools
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.documents.totals import Line, Tax, document_totals
from domain.pos.refunds import refund_lines

TAXES = {
    "normal": Tax("a" * 24, "normal", Decimal("7.5")),
    "inclusive": Tax("b" * 24, "inclusive", Decimal(20)),
    "compound": Tax("c" * 24, "compound", Decimal(3)),
}


@st.composite
def sold_line(draw: st.DrawFn) -> tuple[dict[str, Any], list[Decimal], int]:
    places = draw(st.sampled_from([0, 2]))
    units = draw(st.integers(1, 40))
    step = draw(st.sampled_from([Decimal(1), Decimal("0.5"), Decimal("0.001")]))
    quantity = units * step
    price = Decimal(draw(st.integers(1, 10**8))).scaleb(-draw(st.integers(0, 6)))
    kind = draw(st.sampled_from([None, "percent", "amount"]))
    gross = quantity * price
    discount = Decimal(0)
    if kind == "percent":
        discount = Decimal(draw(st.integers(0, 1000))) / 10
    elif kind == "amount":
        discount = (gross * Decimal(draw(st.integers(0, 100))) / 100).quantize(Decimal("0.01"))
    taxes = [TAXES[k] for k in draw(st.sets(st.sampled_from(sorted(TAXES)), max_size=3))]
    totals = document_totals([Line(quantity, price, tuple(taxes), kind, discount)], places)
    figures = totals.lines[0]
    line = {
        "name": "Thing",
        "quantity": str(quantity),
        "price": str(price),
        "taxes": [{"id": t.id, "name": t.type, "type": t.type, "rate": str(t.rate)} for t in taxes],
        **({"discount_type": kind, "discount": str(discount)} if kind else {}),
        "gross": figures.gross,
        "discount_amount": figures.discount,
        "net": figures.net,
        "tax": sum(figures.taxes.values()),
        "total": figures.total,
        "account_id": "d" * 24,
        "tax_split": figures.taxes,
    }
    cuts = sorted(draw(st.sets(st.integers(1, units - 1), max_size=6))) if units > 1 else []
    bounds = [0, *cuts, units]
    parts = [(b - a) * step for a, b in itertools.pairwise(bounds)]
    return line, parts, places


@settings(max_examples=300, deadline=None)
@given(sold_line())
def test_refunds_in_parts_add_up_to_the_line(case: tuple[dict[str, Any], list[Decimal], int]):
    line, parts, places = case
    split = line.pop("tax_split")
    sale = {"number": "POS-000001", "lines": [line]}
    sums = {"gross": 0, "discount": 0, "net": 0, "total": 0}
    taxes: dict[str, int] = {}
    for part in parts:
        _, totals = refund_lines(sale, [{"line": 0, "quantity": part}], places)
        [figures] = totals.lines
        assert min(figures.gross, figures.discount, figures.net, figures.total) >= 0
        assert all(v >= 0 for v in figures.taxes.values())
        sums["gross"] += figures.gross
        sums["discount"] += figures.discount
        sums["net"] += figures.net
        sums["total"] += figures.total
        for tax_id, amount in figures.taxes.items():
            taxes[tax_id] = taxes.get(tax_id, 0) + amount
    assert sums == {
        "gross": line["gross"],
        "discount": line["discount_amount"],
        "net": line["net"],
        "total": line["total"],
    }
    assert taxes == split
    assert sale["refunded"] == [str(Decimal(line["quantity"]).normalize())]
