"""Invoices and bills that move stock: those of tracked items that no order made.

A sales or purchase order moves its own stock (deliveries, receipts) and sets `order_id` on
the invoice or bill it makes; such a document moves none. Any other invoice or bill moves
the stock of its lines with a tracked item when it is posted (created sent, or sent or
viewed from draft), on its issue date, in its `warehouse_id` (default: the company's
default warehouse):
- an invoice line issues its quantity at the item's valuation: credit inventory, debit cost
  of goods sold (the invoice's own entry books the sale);
- a bill line receives its quantity at the line's net amount in the base currency: debit
  inventory, credit the bill's expense account (the bill's own entry debited that account
  with the whole net, so the goods end up in inventory, not in expenses).
Cancelling or deleting a posted document reverses its movements at their value (on the
cancel date); editing a posted one reverses them and moves the new lines. An invoice of
more than is on hand is 409 `insufficient_stock`. Credit notes move no stock (a return to
stock is an adjustment).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from domain.context import Ctx
from domain.documents.posting import category_account
from domain.inventory import stock
from domain.inventory.warehouses import warehouse
from domain.money import convert_minor, from_minor


async def check_warehouse(ctx: Ctx, data: dict[str, Any]) -> None:
    if data.get("warehouse_id"):
        await warehouse(ctx, data["warehouse_id"])


def moves_stock(doc: dict[str, Any]) -> bool:
    return doc.get("type") in ("invoice", "bill") and not doc.get("order_id")


async def move_document(ctx: Ctx, doc: dict[str, Any]) -> None:
    if not moves_stock(doc):
        return
    counter = "cogs" if doc["type"] == "invoice" else await category_account(ctx, doc)
    rate = Decimal(doc["rate"])
    for i, line in enumerate(doc["lines"]):
        if not line.get("item_id"):
            continue
        quantity = Decimal(line["quantity"])
        unit_cost = None
        if doc["type"] == "bill":
            net = convert_minor(line["net"], rate, doc["precision"], doc["base_precision"])
            unit_cost = from_minor(net, doc["base_precision"]) / quantity
        await stock.move(
            ctx,
            item_id=line["item_id"],
            warehouse_id=doc.get("warehouse_id"),
            quantity=-quantity if doc["type"] == "invoice" else quantity,
            date=doc["issued_at"],
            source={"type": doc["type"], "id": doc["_id"], "line": str(i)},
            unit_cost=unit_cost,
            counter_account=counter,
        )


async def reverse_document(ctx: Ctx, doc: dict[str, Any], date: str) -> None:
    if moves_stock(doc):
        await stock.reverse_source(ctx, doc["_id"], date)
