"""Transfers: several lines of tracked items moved from one warehouse to another at once.

Each line issues from the source warehouse at its valuation (moving average or FIFO there)
and receives in the destination at exactly that value, so a transfer is value-neutral: it
posts no journal entry (one inventory account holds every warehouse). When a backdated
movement later revalues the issue, the receipt follows (`stock.py`). Lifecycle and
atomicity: `movements.py`. The source defaults to the company's default warehouse and must
differ from the destination.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from pydantic import Field

from domain.context import Ctx
from domain.currencies import base_currency
from domain.errors import Invalid
from domain.fields import Day, Input, LongText, ObjectIdStr, Output, Quantity, ShortText
from domain.inventory import movements as mv
from domain.inventory import stock
from domain.inventory.warehouses import warehouse
from domain.money import precision, to_minor
from domain.resources import Declared, Hooks, Ref, Resource, Server, Shown
from memory.ids import new_id, today
from memory.store import CollectionSpec, declare

COLLECTION = "inventory_transfers"

declare(
    CollectionSpec(
        COLLECTION,
        fields=("company_id", "number", "status", "date", "from_warehouse_id", "to_warehouse_id"),
        indexes=(
            ("company_id", "date"),
            ("company_id", "number"),
            ("company_id", "status"),
            ("company_id", "from_warehouse_id"),
            ("company_id", "to_warehouse_id"),
            ("company_id", "created_at"),
            ("company_id", "updated_at"),
        ),
        unique=(("company_id", "number"),),
    )
)


class TransferLineIn(Input):
    item_id: ObjectIdStr
    quantity: Quantity = Field(gt=0, le=mv.MAX, decimal_places=6)


class TransferLineOut(Output):
    item_id: str
    quantity: float
    unit_cost: float | None = Field(None, description="Base currency, once completed")
    value: float | None = Field(None, description="Value moved (base currency), once completed")


class TransferFields(Declared):
    from_warehouse_id: ObjectIdStr | None = Field(None, description="Default: the default one")
    to_warehouse_id: ObjectIdStr
    date: Day | None = Field(None, description="Default: today")
    lines: Annotated[list[TransferLineIn], Shown(list[TransferLineOut])] = mv.LinesField
    reference: ShortText | None = None
    notes: LongText | None = None
    status: Annotated[mv.Status, Shown(mv.Status)] = mv.StatusField
    number: Server[str]


async def _resolve(ctx: Ctx, data: dict[str, Any]) -> dict[str, Any]:
    source = await warehouse(ctx, data.get("from_warehouse_id"), "from_warehouse_id")
    target = await warehouse(ctx, data["to_warehouse_id"], "to_warehouse_id")
    if source["_id"] == target["_id"]:
        raise Invalid(
            "to_warehouse_id: a transfer moves stock to another warehouse than its source",
            details=[{"field": "to_warehouse_id", "message": "same as the source"}],
        )
    lines = []
    for i, line in enumerate(data["lines"]):
        await mv.tracked_item(ctx, line["item_id"], f"lines.{i}.item_id")
        lines.append({"item_id": line["item_id"], "quantity": mv.plain(line["quantity"])})
    return {
        **data,
        "from_warehouse_id": source["_id"],
        "to_warehouse_id": target["_id"],
        "date": str(data.get("date") or today()),
        "lines": lines,
    }


async def _before_create(ctx: Ctx, data: dict[str, Any]) -> dict[str, Any]:
    resolved = await _resolve(ctx, data)
    return {**resolved, "number": await mv.number(ctx, "transfer", "TR-")}


async def _before_update(
    ctx: Ctx, existing: dict[str, Any], changes: dict[str, Any]
) -> dict[str, Any]:
    keys = ("from_warehouse_id", "to_warehouse_id", "date", "lines")
    if not any(k in changes for k in keys):
        return changes
    merged = {k: existing.get(k) for k in keys} | changes
    resolved = await _resolve(ctx, merged)
    return {**changes, **{k: resolved[k] for k in keys}}


async def complete(ctx: Ctx, doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Move every line: issue from the source, receive the same value at the destination."""
    places = precision(await base_currency(ctx))
    done = []
    for i, line in enumerate(doc["lines"]):
        source = {"type": "transfer", "id": doc["_id"], "line": str(i)}
        receipt_id = new_id()
        quantity = Decimal(line["quantity"])
        out = await stock.move(
            ctx,
            item_id=line["item_id"],
            warehouse_id=doc["from_warehouse_id"],
            quantity=-quantity,
            date=doc["date"],
            source=source,
            post=False,
            peer=[receipt_id, doc["to_warehouse_id"]],
        )
        assert out is not None
        value = -out["value_change"]
        await stock.move(
            ctx,
            item_id=line["item_id"],
            warehouse_id=doc["to_warehouse_id"],
            quantity=quantity,
            date=doc["date"],
            source=source,
            post=False,
            link=(out["id"], to_minor(value, places)),
            move_id=receipt_id,
        )
        done.append({**line, "unit_cost": mv.plain(out["unit_cost"]), "value": mv.plain(value)})
    return done


def _present(doc: dict[str, Any]) -> dict[str, Any]:
    return mv.present_lines(doc, ("quantity", "unit_cost", "value"))


TRANSFERS = Resource(
    name="inventory/transfers",
    label="transfer",
    collection=COLLECTION,
    module="inventory",
    tag="Inventory",
    fields=TransferFields,
    search=("number", "reference"),
    filters={"status": "eq", "from_warehouse_id": "eq", "to_warehouse_id": "eq"},
    sort=("number", "date", "created_at", "updated_at"),
    default_sort="-date",
    date_field="date",
    hooks=Hooks(
        before_create=_before_create,
        after_create=mv.after_create(COLLECTION, complete),
        before_update=_before_update,
        before_delete=mv.before_delete("transfer"),
    ),
    lifecycle=mv.lifecycle(COLLECTION, complete),
    actions=mv.actions("transfer"),
    present=_present,
    example={
        "to_warehouse_id": Ref("inventory/warehouses"),
        "lines": [
            {
                "item_id": Ref("items", track_inventory=True, opening_stock=100, opening_cost=4),
                "quantity": 5,
            }
        ],
        "reference": "Restock east depot",
    },
)
