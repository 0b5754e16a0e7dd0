"""Orders over the stock ledger (`domain/inventory/stock.py`): which lines are tracked,
in which warehouse, and the reservation and movements each order step makes.

Every movement and reservation names its source `{"type": <order kind>, "id": <order id>,
"line": <line number>}`, so the stock ledger shows which order moved what. Whether a line
is tracked is decided when the order is confirmed (its item's `track_inventory` then) and
kept on the line, so an item's flag changed later cannot leave a reservation undelivered.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from domain.context import Ctx
from domain.inventory import stock
from domain.inventory.warehouses import warehouse as find_warehouse
from domain.money import from_minor
from domain.orders.flow import OrderFlow


async def warehouse(ctx: Ctx, warehouse_id: str | None) -> str:
    """The order's warehouse: the one named (this company's, enabled: 400 otherwise) or the
    company's default."""
    return (await find_warehouse(ctx, warehouse_id, "warehouse_id"))["_id"]


async def mark_tracked(ctx: Ctx, order: dict[str, Any]) -> list[dict[str, Any]]:
    ids = sorted({line["item_id"] for line in order["lines"] if line.get("item_id")})
    tracked: set[str] = set()
    if ids:
        items = await ctx.store.find("items", ctx.scope(_id={"$in": ids}))
        tracked = {i["_id"] for i in items if i.get("track_inventory")}
    lines = [{**line, "tracked": line.get("item_id") in tracked} for line in order["lines"]]
    return lines


def source(flow: OrderFlow, order: dict[str, Any], line: dict[str, Any]) -> dict[str, str]:
    return {"type": flow.kind, "id": order["_id"], "line": str(line["line"])}


async def reserve(
    ctx: Ctx, flow: OrderFlow, order: dict[str, Any], line: dict[str, Any], quantity: Decimal
) -> None:
    await stock.reserve(
        ctx,
        item_id=line["item_id"],
        warehouse_id=order["warehouse_id"],
        quantity=quantity,
        source=source(flow, order, line),
    )


async def move(
    ctx: Ctx,
    flow: OrderFlow,
    order: dict[str, Any],
    line: dict[str, Any],
    quantity: Decimal,
    day: str,
    *,
    reserved: bool = False,
    value: int | None = None,
    counter: str | None = None,
) -> dict[str, Any] | None:
    """Units in (positive) or out (negative); a receipt is valued at `value` (base minor
    units for the whole quantity). None: the item keeps no stock (any more)."""
    unit_cost = None
    if value is not None:
        unit_cost = from_minor(value, order["base_precision"]) / abs(quantity)
    return await stock.move(
        ctx,
        item_id=line["item_id"],
        warehouse_id=order["warehouse_id"],
        quantity=quantity,
        date=day,
        source=source(flow, order, line),
        unit_cost=unit_cost,
        counter_account=counter,
        consume_reservation=reserved,
    )


async def release(ctx: Ctx, order: dict[str, Any]) -> None:
    """Give back whatever the order still holds reserved."""
    await stock.release(ctx, source_id=order["_id"])
