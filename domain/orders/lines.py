"""Order lines: the documents' lines (items, prices, discounts, taxes, totals through
`domain/documents/lines.py`) numbered from 1 and carrying their progress as quantities.

A part of a line (the 4 of 10 units a delivery or an invoice takes) is the same line with
that quantity: same price and taxes; a percent discount stays a percent, an amount discount
is shared out by quantity (rounded at the currency's precision, the last part taking what
is left so the parts add up to the line). Its net comes from the same totals code as any
document line, so a bill for what was received values it exactly as the receipts did.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal
from typing import Any

from pydantic import Field, model_validator

from domain.documents import lines as doc_lines
from domain.documents.totals import Line, Tax, line_totals
from domain.errors import Conflict, Invalid
from domain.fields import Input, Output, Quantity, StrictInt
from domain.money import round_half_up

ZERO = Decimal(0)
HUNDRED = Decimal(100)
PROGRESS = frozenset({"line", "delivered", "invoiced", "received", "billed"})


class OrderLineIn(doc_lines.LineIn):
    """A line as a document line; what GET answered (its number, its progress) may be sent
    back and is ignored: progress is the server's, and a line changes only in a draft."""

    @model_validator(mode="before")
    @classmethod
    def _without_progress(cls, data: Any) -> Any:
        if isinstance(data, dict) and PROGRESS.intersection(data):
            return {k: v for k, v in data.items() if k not in PROGRESS}
        return data


class SalesLineOut(doc_lines.LineOut):
    line: int = Field(description="The line's number, as deliveries and invoices name it")
    delivered: float
    invoiced: float


class PurchaseLineOut(doc_lines.LineOut):
    line: int = Field(description="The line's number, as receipts and bills name it")
    received: float
    billed: float


class LineQuantity(Input):
    line: StrictInt = Field(ge=1, le=500, description="The order line's number")
    quantity: Quantity = Field(gt=0, le=doc_lines.MAX, decimal_places=6)


class PartOut(Output):
    line: int
    quantity: float


def q(value: Any) -> Decimal:
    return Decimal(str(value))


def number_lines(stored: list[dict[str, Any]], *progress: str) -> list[dict[str, Any]]:
    return [
        {**line, "line": i + 1, **dict.fromkeys(progress, "0")} for i, line in enumerate(stored)
    ]


def left(line: dict[str, Any], of: str, done: str) -> Decimal:
    """What is left of `of` (a quantity or a progress key) once `done` is counted."""
    basis = q(line["quantity"]) if of == "quantity" else q(line[of])
    return max(basis - q(line[done]), ZERO)


def pick(
    lines: list[dict[str, Any]],
    asked: list[LineQuantity] | None,
    room: dict[int, Decimal],
    verb: str,
    why: str,
) -> dict[int, Decimal]:
    """The quantities to act on per line number: those asked (each within `room`, what is
    left to `verb` on that line: 409 beyond it), or by default everything left."""
    if asked is None:
        chosen = {n: r for n, r in room.items() if r > 0}
    else:
        chosen = {}
        for i, part in enumerate(asked):
            field = f"lines.{i}.line"
            if part.line in chosen:
                raise Invalid(
                    f"{field}: line {part.line} is named twice", details=[{"field": field}]
                )
            if part.line not in room:
                raise Invalid(
                    f"{field}: the order has no line {part.line} (it has 1 to {len(lines)})",
                    code="invalid_reference",
                    details=[{"field": field, "message": "no such line"}],
                )
            if part.quantity > room[part.line]:
                raise Conflict(
                    f"line {part.line}: cannot {verb} {part.quantity.normalize():f}; "
                    f"{room[part.line].normalize():f} left ({why})",
                    code=f"over_{verb.replace(' ', '_')}",
                    details=[
                        {
                            "line": part.line,
                            "requested": float(part.quantity),
                            "left": float(room[part.line]),
                        }
                    ],
                )
            chosen[part.line] = part.quantity
    if not chosen:
        raise Conflict(
            f"nothing is left to {verb} on this order ({why})", code=f"nothing_to_{verb}"
        )
    return chosen


def add(line: dict[str, Any], key: str, amount: Decimal) -> dict[str, Any]:
    return {**line, key: f"{(q(line[key]) + amount).normalize():f}"}


def part(line: dict[str, Any], quantity: Decimal, done: Decimal, places: int) -> dict[str, Any]:
    """`quantity` units of an order line as a document line's input, `done` units of it
    already taken by earlier parts (for sharing an amount discount)."""
    out = {**doc_lines.as_input(line), "quantity": f"{quantity.normalize():f}"}
    if line.get("discount_type") == "amount":
        out["discount"] = f"{shared_discount(line, quantity, done, places):f}"
    return out


def shared_discount(line: dict[str, Any], quantity: Decimal, done: Decimal, places: int) -> Decimal:
    total, discount = q(line["quantity"]), q(line["discount"])
    upto = round_half_up(discount * (done + quantity) / total, places)
    before = round_half_up(discount * done / total, places)
    return upto - before


def part_net(line: dict[str, Any], quantity: Decimal, done: Decimal, places: int) -> int:
    """The net (after discount, before tax; minor units of the order's currency) of a part."""
    taken = part(line, quantity, done, places)
    totals = line_totals(
        Line(
            quantity=quantity,
            price=q(line["price"]),
            taxes=tuple(Tax(t["id"], t["type"], q(t["rate"])) for t in line["taxes"]),
            discount_type=line.get("discount_type"),
            discount=q(taken.get("discount", "0")),
        ),
        places,
    )
    return totals.net


def percent(lines: list[dict[str, Any]], done: str) -> float:
    """Progress by quantities (never amounts): the units done over the units ordered,
    rounded down so that 100 means every unit of every line."""
    ordered = sum((q(line["quantity"]) for line in lines), ZERO)
    if not ordered:
        return 0.0
    taken = sum((min(q(line[done]), q(line["quantity"])) for line in lines), ZERO)
    return float((taken * HUNDRED / ordered).quantize(Decimal("0.01"), rounding=ROUND_DOWN))


def every(lines: list[dict[str, Any]], done: str) -> bool:
    return all(q(line[done]) >= q(line["quantity"]) for line in lines)


def present_progress(lines: list[dict[str, Any]], keys: tuple[str, ...]) -> list[dict[str, Any]]:
    return [{**line, **{k: float(q(line.get(k, "0"))) for k in keys}} for line in lines]
