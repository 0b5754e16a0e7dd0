"""The point of sale's use of the stock ledger (`domain/inventory/stock.py`): a sale moves
each stocked item out of the terminal's warehouse (409 `insufficient_stock` rather than
negative stock; the ledger posts cost of goods sold against inventory itself), a refund
moves it back in at the cost it went out at.

Only items that track inventory move; a service line moves nothing.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from domain.context import Ctx
from domain.inventory import stock as ledger
from domain.inventory.warehouses import warehouse as named_warehouse


async def warehouse(ctx: Ctx, warehouse_id: str | None) -> str:
    """The warehouse a terminal sells from: the one named (this company's, enabled), else
    the company's default."""
    if warehouse_id:
        return (await named_warehouse(ctx, warehouse_id))["_id"]
    return (await ledger.default_warehouse(ctx))["_id"]


async def sell(
    ctx: Ctx, terminal: dict[str, Any], order: dict[str, Any], lines: list[dict[str, Any]]
) -> None:
    """Move the order's stocked lines out; each line keeps the cost it went out at."""
    for i, line in enumerate(lines):
        if not line.get("stocked"):
            continue
        entry = await ledger.move(
            ctx,
            item_id=line["item_id"],
            warehouse_id=terminal["warehouse_id"],
            quantity=-Decimal(line["quantity"]),
            date=order["date"],
            source={"type": "pos_order", "id": order["_id"], "line": i},
        )
        if entry is not None:
            line["unit_cost"] = str(entry["unit_cost"])


async def take_back(
    ctx: Ctx, terminal: dict[str, Any], refund: dict[str, Any], lines: list[dict[str, Any]]
) -> None:
    """Move a refund's stocked lines back in at the cost their sale took them out at."""
    for i, line in enumerate(lines):
        if not line.get("stocked"):
            continue
        await ledger.move(
            ctx,
            item_id=line["item_id"],
            warehouse_id=terminal["warehouse_id"],
            quantity=Decimal(line["quantity"]),
            date=refund["date"],
            source={"type": "pos_order", "id": refund["_id"], "line": i},
            unit_cost=Decimal(line["unit_cost"]) if line.get("unit_cost") else None,
            counter_account="cogs",
        )
