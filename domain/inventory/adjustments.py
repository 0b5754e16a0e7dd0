"""Adjustments: a stock count or a correction in one warehouse, with a reason.

Each line either sets the counted quantity (`set`: the difference from what was on hand on
the adjustment's date moves), or adds or removes a quantity. What comes in is valued at the
line's `unit_cost`, else the current average cost in that warehouse, else the item's
purchase price; what goes out at the item's valuation. The value difference is posted
against the stock adjustment account: a gain debits inventory and credits stock
adjustments, a loss the reverse. Lifecycle and atomicity: `movements.py`; a removal or
count below what is available is 409 `insufficient_stock`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import Field

from domain.context import Ctx
from domain.fields import (
    Amount,
    Day,
    Input,
    LongText,
    Name,
    ObjectIdStr,
    Output,
    Quantity,
    ShortText,
)
from domain.inventory import ledger, stock
from domain.inventory import movements as mv
from domain.inventory.warehouses import warehouse
from domain.resources import Declared, Hooks, Ref, Resource, Server, Shown
from memory.ids import today
from memory.store import CollectionSpec, declare

COLLECTION = "inventory_adjustments"
Mode = Literal["set", "add", "remove"]

declare(
    CollectionSpec(
        COLLECTION,
        fields=("company_id", "number", "status", "date", "warehouse_id"),
        indexes=(
            ("company_id", "date"),
            ("company_id", "number"),
            ("company_id", "status"),
            ("company_id", "warehouse_id"),
            ("company_id", "created_at"),
            ("company_id", "updated_at"),
        ),
        unique=(("company_id", "number"),),
    )
)


class AdjustmentLineIn(Input):
    item_id: ObjectIdStr
    mode: Mode = Field("set", description="set: the counted quantity; add or remove: a change")
    quantity: Quantity = Field(ge=0, le=mv.MAX, decimal_places=6)
    unit_cost: Amount | None = Field(
        None,
        ge=0,
        le=mv.MAX,
        decimal_places=6,
        description="For what comes in (base currency); default: the current average cost, "
        "else the item's purchase price",
    )


class AdjustmentLineOut(Output):
    item_id: str
    mode: Mode
    quantity: float
    unit_cost: float | None = None
    quantity_change: float | None = Field(None, description="What moved, once completed")
    value_change: float | None = Field(None, description="Base currency, once completed")


class AdjustmentFields(Declared):
    warehouse_id: ObjectIdStr | None = Field(None, description="Default: the default warehouse")
    date: Day | None = Field(None, description="Default: today")
    reason: Name
    lines: Annotated[list[AdjustmentLineIn], Shown(list[AdjustmentLineOut])] = mv.LinesField
    reference: ShortText | None = None
    notes: LongText | None = None
    status: Annotated[mv.Status, Shown(mv.Status)] = mv.StatusField
    number: Server[str]


async def _resolve(ctx: Ctx, data: dict[str, Any]) -> dict[str, Any]:
    where = await warehouse(ctx, data.get("warehouse_id"))
    lines = []
    for i, line in enumerate(data["lines"]):
        await mv.tracked_item(ctx, line["item_id"], f"lines.{i}.item_id")
        stored = {
            "item_id": line["item_id"],
            "mode": line.get("mode") or "set",
            "quantity": mv.plain(line["quantity"]),
        }
        if line.get("unit_cost") is not None:
            stored["unit_cost"] = mv.plain(line["unit_cost"])
        lines.append(stored)
    return {
        **data,
        "warehouse_id": where["_id"],
        "date": str(data.get("date") or today()),
        "lines": lines,
    }


async def _before_create(ctx: Ctx, data: dict[str, Any]) -> dict[str, Any]:
    resolved = await _resolve(ctx, data)
    return {**resolved, "number": await mv.number(ctx, "adjustment", "ADJ-")}


async def _before_update(
    ctx: Ctx, existing: dict[str, Any], changes: dict[str, Any]
) -> dict[str, Any]:
    keys = ("warehouse_id", "date", "lines")
    if not any(k in changes for k in keys):
        return changes
    merged = {k: existing.get(k) for k in keys} | changes
    resolved = await _resolve(ctx, merged)
    return {**changes, **{k: resolved[k] for k in keys}}


async def _incoming_cost(ctx: Ctx, line: dict[str, Any], warehouse_id: str) -> Decimal:
    if line.get("unit_cost") is not None:
        return Decimal(line["unit_cost"])
    (level,) = await stock.levels(ctx, line["item_id"], warehouse_id) or [None]
    if level is not None and level["on_hand"] > 0:
        return level["unit_cost"]
    item = await ctx.store.find_one("items", ctx.scope(_id=line["item_id"]))
    return Decimal(str((item or {}).get("purchase_price") or 0))


async def complete(ctx: Ctx, doc: dict[str, Any]) -> list[dict[str, Any]]:
    done = []
    for i, line in enumerate(doc["lines"]):
        quantity = Decimal(line["quantity"])
        change = {"add": quantity, "remove": -quantity}.get(line["mode"])
        if change is None:
            on_hand = await ledger.quantity_as_of(
                ctx, line["item_id"], doc["warehouse_id"], doc["date"]
            )
            change = quantity - stock.quantity_of(on_hand)
        result = {**line, "quantity_change": mv.plain(change), "value_change": "0"}
        if change:
            cost = await _incoming_cost(ctx, line, doc["warehouse_id"]) if change > 0 else None
            moved = await stock.move(
                ctx,
                item_id=line["item_id"],
                warehouse_id=doc["warehouse_id"],
                quantity=change,
                date=doc["date"],
                source={"type": "adjustment", "id": doc["_id"], "line": str(i)},
                unit_cost=cost,
                counter_account="stock_adjustment",
            )
            assert moved is not None
            result.update(
                unit_cost=mv.plain(moved["unit_cost"]),
                value_change=mv.plain(moved["value_change"]),
            )
        done.append(result)
    return done


def _present(doc: dict[str, Any]) -> dict[str, Any]:
    return mv.present_lines(doc, ("quantity", "unit_cost", "quantity_change", "value_change"))


ADJUSTMENTS = Resource(
    name="inventory/adjustments",
    label="adjustment",
    collection=COLLECTION,
    module="inventory",
    tag="Inventory",
    fields=AdjustmentFields,
    search=("number", "reason", "reference"),
    filters={"status": "eq", "warehouse_id": "eq"},
    sort=("number", "date", "created_at", "updated_at"),
    default_sort="-date",
    date_field="date",
    hooks=Hooks(
        before_create=_before_create,
        after_create=mv.after_create(COLLECTION, complete),
        before_update=_before_update,
        before_delete=mv.before_delete("adjustment"),
    ),
    lifecycle=mv.lifecycle(COLLECTION, complete),
    actions=mv.actions("adjustment"),
    present=_present,
    example={
        "reason": "Opening stock count",
        "lines": [
            {
                "item_id": Ref("items", track_inventory=True),
                "mode": "add",
                "quantity": 10,
                "unit_cost": 4.5,
            }
        ],
    },
)
