"""A document's base-currency figures (`posting.base_components`), without the API: for any
document and rate, the receivable (payable) is the total converted and rounded once, each
tax (withholding too) is converted on its own, and the income (expense) side is what makes
the entry balance. The HTTP side of the same rule is tests/accounting/test_foreign_currency.py.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from domain.documents.posting import base_components
from domain.documents.totals import Line, Tax, document_totals

D = Decimal
KINDS = ("normal", "inclusive", "compound", "fixed", "withholding")


def q(amount: Decimal, places: int) -> int:
    return int(amount.quantize(D(1).scaleb(-places), ROUND_HALF_UP).scaleb(places))


@st.composite
def documents(draw: st.DrawFn) -> dict[str, Any]:
    places = draw(st.sampled_from([0, 2, 3]))
    base_places = draw(st.sampled_from([0, 2, 3]))
    rate = draw(st.decimals(min_value=D("0.0001"), max_value=D(500), places=6))
    taxes = [
        Tax(f"t{i}", kind, draw(st.decimals(min_value=D(0), max_value=D(30), places=2)))
        for i, kind in enumerate(draw(st.lists(st.sampled_from(KINDS), max_size=4, unique=True)))
    ]
    lines = [
        Line(
            quantity=draw(st.decimals(min_value=D("0.001"), max_value=D(100), places=3)),
            price=draw(st.decimals(min_value=D(0), max_value=D(10_000), places=4)),
            taxes=tuple(draw(st.lists(st.sampled_from(taxes), unique=True)) if taxes else ()),
        )
        for _ in range(draw(st.integers(1, 4)))
    ]
    totals = document_totals(lines, places)
    return {
        "type": draw(st.sampled_from(["invoice", "bill"])),
        "rate": str(rate),
        "precision": places,
        "base_precision": base_places,
        "net": totals.net,
        "total": totals.total,
        "taxes": [{"id": k, "name": k, "amount": v} for k, v in totals.taxes.items()],
        "lines": [{"taxes": [{"id": t.id, "type": t.type} for t in ln.taxes]} for ln in lines],
        "kinds": {t.id: t.type for t in taxes},
    }


@given(documents())
def test_the_receivable_is_the_total_converted_once(doc: dict[str, Any]) -> None:
    rate, places, base_places = D(doc["rate"]), doc["precision"], doc["base_precision"]

    def convert(minor: int) -> int:
        return q(D(minor).scaleb(-places) * rate, base_places)

    amounts = base_components(doc)
    assert amounts.total == convert(doc["total"])
    for tax in doc["taxes"]:
        if doc["kinds"][tax["id"]] == "withholding":
            assert amounts.withheld[tax["id"]] == convert(-tax["amount"]) >= 0
            assert tax["id"] not in amounts.taxes
        else:
            assert amounts.taxes[tax["id"]] == convert(tax["amount"]) >= 0
    # debits equal credits: the receivable and withholding against income and the taxes
    assert amounts.total + sum(amounts.withheld.values()) == amounts.net + sum(
        amounts.taxes.values()
    )
    # the income side differs from its own conversion by the rounding alone
    assert abs(amounts.net - convert(doc["net"])) <= len(doc["taxes"]) + 1
