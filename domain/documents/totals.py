"""Line and document totals: the server computes them, a request that sends totals
is refused (unknown fields are a 400), so no client figure is ever stored.

Per line, in order, each step rounded half-up at the document currency's precision:
gross = quantity x price; discount (percent of gross, or an amount, never above gross);
inclusive taxes are carved out of what remains (the last one absorbs the rounding so
net + inclusive taxes equals the discounted gross exactly); normal taxes on net; fixed
taxes are an amount per unit; withholding is a negative percentage of net; compound taxes
apply on net plus every other tax but withholding. A document's figures are sums of its
rounded lines, so the document never drifts from its lines.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from domain.money import from_minor, round_half_up, to_minor

TaxType = Literal["normal", "inclusive", "compound", "fixed", "withholding"]
HUNDRED = Decimal(100)


@dataclass(frozen=True)
class Tax:
    id: str
    type: TaxType
    rate: Decimal


@dataclass(frozen=True)
class Line:
    quantity: Decimal
    price: Decimal
    taxes: tuple[Tax, ...] = ()
    discount_type: Literal["percent", "amount"] | None = None
    discount: Decimal = Decimal(0)


@dataclass(frozen=True)
class LineTotals:
    gross: int
    discount: int
    net: int
    taxes: dict[str, int]
    total: int


@dataclass
class DocumentTotals:
    subtotal: int = 0
    discount: int = 0
    net: int = 0
    tax: int = 0
    total: int = 0
    taxes: dict[str, int] = field(default_factory=dict)
    lines: list[LineTotals] = field(default_factory=list)


class DiscountTooLarge(ValueError):
    pass


def line_totals(line: Line, places: int) -> LineTotals:
    gross = round_half_up(line.quantity * line.price, places)
    if line.discount_type == "percent":
        discount = round_half_up(gross * line.discount / HUNDRED, places)
    elif line.discount_type == "amount":
        discount = round_half_up(line.discount, places)
    else:
        discount = Decimal(0)
    if abs(discount) > abs(gross):
        raise DiscountTooLarge("the discount is larger than the line amount")
    after_discount = gross - discount

    taxes: dict[str, Decimal] = {}
    inclusive = [t for t in line.taxes if t.type == "inclusive"]
    net = after_discount
    if inclusive:
        rate = sum((t.rate for t in inclusive), Decimal(0))
        net = round_half_up(after_discount * HUNDRED / (HUNDRED + rate), places)
        remaining = after_discount - net
        for tax in inclusive[:-1]:
            amount = round_half_up(net * tax.rate / HUNDRED, places)
            taxes[tax.id] = amount
            remaining -= amount
        taxes[inclusive[-1].id] = remaining
    for tax in line.taxes:
        if tax.type == "normal":
            taxes[tax.id] = round_half_up(net * tax.rate / HUNDRED, places)
        elif tax.type == "fixed":
            taxes[tax.id] = round_half_up(tax.rate * line.quantity, places)
    withholding: dict[str, Decimal] = {
        t.id: -round_half_up(net * t.rate / HUNDRED, places)
        for t in line.taxes
        if t.type == "withholding"
    }
    base = net + sum(taxes.values(), Decimal(0))
    for tax in line.taxes:
        if tax.type == "compound":
            taxes[tax.id] = round_half_up(base * tax.rate / HUNDRED, places)
    taxes.update(withholding)
    total = net + sum(taxes.values(), Decimal(0))
    return LineTotals(
        gross=to_minor(gross, places),
        discount=to_minor(discount, places),
        net=to_minor(net, places),
        taxes={k: to_minor(v, places) for k, v in taxes.items()},
        total=to_minor(total, places),
    )


def document_totals(lines: list[Line], places: int) -> DocumentTotals:
    out = DocumentTotals()
    for line in lines:
        totals = line_totals(line, places)
        out.lines.append(totals)
        out.subtotal += totals.gross
        out.discount += totals.discount
        out.net += totals.net
        out.total += totals.total
        for tax_id, amount in totals.taxes.items():
            out.taxes[tax_id] = out.taxes.get(tax_id, 0) + amount
    out.tax = sum(out.taxes.values())
    return out


def as_decimal(minor: int, places: int) -> Decimal:
    return from_minor(minor, places)
