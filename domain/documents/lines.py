"""Document lines shared by invoices, bills, estimates and credit notes: the input model,
the lookups (items, taxes: this company's, enabled), and the stored shape with totals."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from pydantic import Field, model_validator
from pydantic.json_schema import SkipJsonSchema

from domain.context import Ctx
from domain.documents.totals import DiscountTooLarge, DocumentTotals, Line, Tax, document_totals
from domain.errors import Invalid
from domain.fields import Amount, Input, LongText, ObjectIdStr, Output, Quantity, ShortText
from domain.money import to_number
from domain.references import referenced

MAX = Decimal("1000000000000")


class LineIn(Input):
    item_id: ObjectIdStr | None = None
    name: ShortText | None = Field(None, description="Default: the item's name")
    description: LongText | None = None
    quantity: Quantity = Field(Decimal(1), gt=0, le=MAX, decimal_places=6)
    price: Amount | None = Field(
        None,
        ge=0,
        le=MAX,
        decimal_places=6,
        description="Default: the item's sale (or purchase) price",
    )
    discount_type: Literal["percent", "amount"] | None = None
    discount: Amount = Field(Decimal(0), ge=0, le=MAX, decimal_places=6)
    tax_ids: list[ObjectIdStr] | None = Field(
        None, max_length=10, description="Default: the item's taxes"
    )

    # The figures of a line sent back as GET answered it: checked, never stored.
    computed: SkipJsonSchema[dict[str, Amount] | None] = None

    @model_validator(mode="before")
    @classmethod
    def _as_read(cls, data: Any) -> Any:
        """A line as GET answered it is accepted back: its taxes name the tax ids, and its
        figures must be those the server computes (a different one is a 400 naming it)."""
        if not isinstance(data, dict) or not COMPUTED.intersection(data):
            return data
        line = {k: v for k, v in data.items() if k not in COMPUTED}
        taxes = data.get("taxes")
        if "tax_ids" not in line and isinstance(taxes, list):
            line["tax_ids"] = [t.get("id") if isinstance(t, dict) else t for t in taxes]
        line["computed"] = {k: data[k] for k in LINE_MONEY if k in data}
        return line

    @model_validator(mode="after")
    def _named(self) -> LineIn:
        if self.item_id is None and not self.name:
            raise ValueError("a line needs an item_id or a name")
        if self.item_id is None and self.price is None:
            raise ValueError("a free-text line needs a price")
        if self.discount_type == "percent" and self.discount > 100:
            raise ValueError("a percent discount is at most 100")
        return self


Lines = Field(min_length=1, max_length=500)
COMPUTED = frozenset({"taxes", "gross", "discount_amount", "net", "tax", "total"})


class LineTaxOut(Output):
    id: str
    name: str
    type: str
    rate: float


class LineOut(Output):
    item_id: str | None = None
    name: str
    description: str | None = None
    quantity: float
    price: float
    discount_type: Literal["percent", "amount"] | None = None
    discount: float | None = None
    taxes: list[LineTaxOut]
    gross: float
    discount_amount: float
    net: float
    tax: float
    total: float


class TaxTotalOut(Output):
    id: str
    name: str
    amount: float


async def build_lines(
    ctx: Ctx, lines: list[dict[str, Any]], places: int, price_key: str = "sale_price"
) -> tuple[list[dict[str, Any]], DocumentTotals]:
    """Resolve items and taxes, compute totals; answer the stored lines and the totals."""
    taxes_by_id: dict[str, dict[str, Any]] = {}
    resolved: list[dict[str, Any]] = []
    for i, line in enumerate(lines):
        item = None
        if line.get("item_id"):
            item = await referenced(ctx, "items", line["item_id"], f"lines.{i}.item_id", "item")
        tax_ids = line.get("tax_ids")
        if tax_ids is None:
            tax_ids = item.get("tax_ids", []) if item else []
        taxes = []
        for j, tax_id in enumerate(tax_ids):
            if tax_id not in taxes_by_id:
                taxes_by_id[tax_id] = await referenced(
                    ctx, "taxes", tax_id, f"lines.{i}.tax_ids.{j}", "tax"
                )
            tax = taxes_by_id[tax_id]
            taxes.append(
                {"id": tax["_id"], "name": tax["name"], "type": tax["type"], "rate": tax["rate"]}
            )
        price = line.get("price")
        if price is None:
            price = (item or {}).get(price_key, "0")
        resolved.append(
            {
                **({"item_id": item["_id"]} if item else {}),
                "name": line.get("name") or (item or {}).get("name"),
                **({"description": line["description"]} if line.get("description") else {}),
                "quantity": str(Decimal(str(line.get("quantity", 1))).normalize()),
                "price": str(Decimal(str(price)).normalize()),
                **(
                    {
                        "discount_type": line["discount_type"],
                        "discount": str(Decimal(str(line.get("discount", 0))).normalize()),
                    }
                    if line.get("discount_type")
                    else {}
                ),
                "taxes": taxes,
            }
        )
    try:
        totals = document_totals([_line(r) for r in resolved], places)
    except DiscountTooLarge as error:
        raise Invalid(str(error), code="discount_too_large") from error
    for i, (stored, computed) in enumerate(zip(resolved, totals.lines, strict=True)):
        stored.update(
            gross=computed.gross,
            discount_amount=computed.discount,
            net=computed.net,
            tax=sum(computed.taxes.values()),
            total=computed.total,
        )
        _check_echoed(i, lines[i].get("computed") or {}, stored, places)
    return resolved, totals


def _check_echoed(i: int, sent: dict[str, Any], stored: dict[str, Any], places: int) -> None:
    """A figure sent back with a line must be the one the server computes."""
    for key, value in sent.items():
        if Decimal(str(value)) != Decimal(str(to_number(stored[key], places))):
            raise Invalid(
                f"lines.{i}.{key} is computed by the server "
                f"({to_number(stored[key], places)}); send it unchanged or leave it out",
                details=[{"field": f"lines.{i}.{key}", "message": "computed by the server"}],
            )


def _line(stored: dict[str, Any]) -> Line:
    return Line(
        quantity=Decimal(stored["quantity"]),
        price=Decimal(stored["price"]),
        taxes=tuple(Tax(t["id"], t["type"], Decimal(t["rate"])) for t in stored["taxes"]),
        discount_type=stored.get("discount_type"),
        discount=Decimal(stored.get("discount", "0")),
    )


def totals_fields(totals: DocumentTotals, taxes_named: dict[str, str]) -> dict[str, Any]:
    return {
        "subtotal": totals.subtotal,
        "discount": totals.discount,
        "net": totals.net,
        "tax": totals.tax,
        "total": totals.total,
        "taxes": [
            {"id": k, "name": taxes_named.get(k, ""), "amount": v} for k, v in totals.taxes.items()
        ],
    }


def tax_names(lines: list[dict[str, Any]]) -> dict[str, str]:
    return {t["id"]: t["name"] for line in lines for t in line["taxes"]}


def as_input(line: dict[str, Any]) -> dict[str, Any]:
    """A stored line back into input form, to recompute or copy it."""
    keys = ("item_id", "name", "description", "quantity", "price", "discount_type", "discount")
    return {**{k: line[k] for k in keys if k in line}, "tax_ids": [t["id"] for t in line["taxes"]]}


MONEY_FIELDS = ("subtotal", "discount", "net", "tax", "total", "paid", "credited", "due")
LINE_MONEY = ("gross", "discount_amount", "net", "tax", "total")


def present_amounts(doc: dict[str, Any]) -> dict[str, Any]:
    """Minor units -> JSON numbers at the document currency's precision."""
    places = doc["precision"]
    out = dict(doc)
    for key in MONEY_FIELDS:
        if key in out:
            out[key] = to_number(out[key], places)
    for key in ("total_base", "due_base"):
        if key in out:
            out[key] = to_number(out[key], doc["base_precision"])
    out["lines"] = [
        {
            **line,
            "quantity": float(line["quantity"]),
            "price": float(line["price"]),
            **({"discount": float(line["discount"])} if "discount" in line else {}),
            "taxes": [{**t, "rate": float(t["rate"])} for t in line["taxes"]],
            **{k: to_number(line[k], places) for k in LINE_MONEY if k in line},
        }
        for line in doc.get("lines", [])
    ]
    out["taxes"] = [{**t, "amount": to_number(t["amount"], places)} for t in doc.get("taxes", [])]
    if "rate" in out:
        out["rate"] = float(out["rate"])
    return out
