"""What a refund is worth: its lines' share of the sale, and the points it takes back.

A refund of q units of a sold line is their share of the line as sold: the share of the
d + q units refunded by then less that of the d refunded before, where the share of x
units is x / quantity of the line's net, discount and each tax, each rounded half-up
(gross and total are their sums, so they grow with x too). So a line's refunds add up to
the line as sold, to the cent, however it is split, and no refund is worth less than
nothing (`tests/pos/test_properties.py`). The points a refund takes back are the sale's
points in proportion to the money refunded, rounded down to the programme's step, never
more than is left of them.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from typing import Any

from domain.documents import lines as doc_lines
from domain.documents.totals import DocumentTotals, Line, LineTotals, Tax, line_totals
from domain.errors import Conflict, Invalid
from domain.pos import loyalty


def _tax_split(sold: dict[str, Any], places: int) -> dict[str, int]:
    """A sold line's tax by tax (recomputed as the sale computed it; the line stores the sum)."""
    return line_totals(
        Line(
            quantity=Decimal(sold["quantity"]),
            price=Decimal(sold["price"]),
            taxes=tuple(Tax(t["id"], t["type"], Decimal(t["rate"])) for t in sold["taxes"]),
            discount_type=sold.get("discount_type"),
            discount=Decimal(sold.get("discount", "0")),
        ),
        places,
    ).taxes


def _share(sold: dict[str, Any], taxes: dict[str, int], units: Decimal) -> LineTotals:
    """The first `units` of a sold line: that share of its net, discount and each tax, each
    rounded half-up (so each grows with `units`); gross and total are their sums."""
    whole = Decimal(sold["quantity"])

    def part(minor: int) -> int:
        return int((Decimal(minor) * units / whole).quantize(Decimal(1), rounding=ROUND_HALF_UP))

    shares = {k: part(v) for k, v in taxes.items()}
    inclusive = {t["id"] for t in sold["taxes"] if t["type"] == "inclusive"}
    net, discount = part(sold["net"]), part(sold["discount_amount"])
    return LineTotals(
        gross=net + discount + sum(v for k, v in shares.items() if k in inclusive),
        discount=discount,
        net=net,
        taxes=shares,
        total=net + sum(shares.values()),
    )


def _between(sold: dict[str, Any], done: Decimal, more: Decimal, places: int) -> LineTotals:
    """A refund of `more` units after `done` were refunded: the share of done + more less
    the share of done. A line's refunds add up to the line as sold, to the cent, however
    it is split, and none is worth less than nothing."""
    taxes = _tax_split(sold, places)
    after, before = _share(sold, taxes, done + more), _share(sold, taxes, done)
    return LineTotals(
        gross=after.gross - before.gross,
        discount=after.discount - before.discount,
        net=after.net - before.net,
        taxes={k: v - before.taxes[k] for k, v in after.taxes.items()},
        total=after.total - before.total,
    )


def refund_lines(
    sale: dict[str, Any], sent: list[dict[str, Any]], places: int
) -> tuple[list[dict[str, Any]], DocumentTotals]:
    """The refund's lines and totals; records on `sale` what of each line is refunded."""
    count = len(sale["lines"])
    refunded = [Decimal(q) for q in sale.get("refunded", ["0"] * count)]
    if len({w["line"] for w in sent}) != len(sent):
        raise Invalid("lines: name each line of the sale once")
    lines, totals = [], DocumentTotals()
    for i, wanted in enumerate(sent):
        index = wanted["line"]
        if index >= count:
            raise Invalid(
                f"lines.{i}.line: order {sale['number']} has {count} lines",
                details=[{"field": f"lines.{i}.line", "message": "no such line"}],
            )
        sold = sale["lines"][index]
        quantity = Decimal(str(wanted["quantity"]))
        left = Decimal(sold["quantity"]) - refunded[index]
        if quantity > left:
            raise Conflict(
                f"lines.{i}: {left.normalize():f} of line {index} ({sold['name']}) is left to "
                f"refund, not {quantity.normalize():f}",
                code="refund_exceeds_sale",
                details=[{"line": index, "left": float(left)}],
            )
        figures = _between(sold, refunded[index], quantity, places)
        refunded[index] += quantity
        line = {k: v for k, v in sold.items() if k not in doc_lines.LINE_MONEY}
        line["quantity"] = str(quantity.normalize())
        if sold.get("discount_type") == "amount":
            share = Decimal(sold["discount"]) * quantity / Decimal(sold["quantity"])
            line["discount"] = str(share.quantize(Decimal("0.000001")).normalize())
        line.update(
            refunds_line=index,
            gross=figures.gross,
            discount_amount=figures.discount,
            net=figures.net,
            tax=sum(figures.taxes.values()),
            total=figures.total,
        )
        lines.append(line)
        totals.lines.append(figures)
        totals.subtotal += figures.gross
        totals.discount += figures.discount
        totals.net += figures.net
        totals.total += figures.total
        for tax_id, amount in figures.taxes.items():
            totals.taxes[tax_id] = totals.taxes.get(tax_id, 0) + amount
    totals.tax = sum(totals.taxes.values())
    sale["refunded"] = [str(q.normalize()) for q in refunded]
    return lines, totals


def points_back(sale: dict[str, Any], program: dict[str, Any] | None, total: int) -> int:
    """The share of the sale's points a refund of `total` takes back, rounded down, never
    more than is left of them."""
    if program is None or not sale["points_earned"] or not sale["total"]:
        return 0
    left = sale["points_earned"] - sale.get("points_reversed", 0)
    share = Decimal(sale["points_earned"]) * Decimal(total) / Decimal(sale["total"])
    step = 1 if program.get("fractional_points") else loyalty.CENTI
    back = int((share / step).to_integral_value(rounding=ROUND_DOWN)) * step
    return max(0, min(back, left))
