"""An item's opening stock: what a tracked item created with `opening_stock` has on hand.

Received today into the company's default warehouse at `opening_cost` (default: the
item's purchase price), posted debit inventory / credit opening balance equity, with the
source `{"type": "opening_stock", "id": <item id>}`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from domain.context import Ctx
from domain.inventory import stock
from memory.ids import today


async def receive_opening_stock(ctx: Ctx, item: dict[str, Any]) -> None:
    cost = item.get("opening_cost")
    if cost is None:
        cost = item.get("purchase_price") or 0
    await stock.move(
        ctx,
        item_id=item["_id"],
        warehouse_id=None,
        quantity=Decimal(str(item["opening_stock"])),
        date=today(),
        source={"type": "opening_stock", "id": item["_id"]},
        unit_cost=Decimal(str(cost)),
        counter_account="opening_balance",
    )
