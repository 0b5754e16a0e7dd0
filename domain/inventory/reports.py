"""The stock reads: levels now, the stock report as of a date, and the stock ledger.

- `inventory/levels`: on hand, reserved, available, value and average unit cost per item x
  warehouse, now (one document per item x warehouse: no sum over movements).
- `inventory/stock-report`: quantity and value per item x warehouse at the end of a date,
  with the total value; read from month and day cells (`ledger.moved_as_of`), so its cost
  does not grow with the number of movements (as of a date after every movement, such as
  today: from the levels, one document per item x warehouse). Its total equals the
  inventory account's balance on that date when every movement posted (transfers move
  value between warehouses, not out of inventory).
- `inventory/ledger`: the movements in date order (of one item, one warehouse, a period),
  each with its quantity, unit cost, value change and the item x warehouse's running
  quantity and value after it, as revalued by any backdated movement.
Amounts are in the base currency; lists page with `page` and `limit` (at most 200).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from domain.context import Ctx
from domain.currencies import base_currency
from domain.fields import Day, ObjectIdStr, QueryInt
from domain.inventory import ledger, stock
from domain.inventory import valuation as v
from domain.inventory.warehouses import COLLECTION as WAREHOUSES
from domain.money import from_minor, precision
from domain.references import referenced
from domain.resources import Report


class _Query(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    item_id: ObjectIdStr | None = None
    warehouse_id: ObjectIdStr | None = None


class _Paged(_Query):
    page: QueryInt = Field(1, ge=1)
    limit: QueryInt = Field(50, ge=1, le=200)


class AsOfQuery(_Query):
    as_of: Day | None = Field(None, description="Default: today")


class LedgerQuery(_Paged):
    from_: Day | None = Field(None, alias="from")
    to: Day | None = None


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LevelRow(_Out):
    item_id: str
    item_name: str
    sku: str | None
    warehouse_id: str
    warehouse_code: str
    on_hand: float
    reserved: float
    available: float
    value: float
    unit_cost: float


class LevelsOut(_Out):
    currency: str
    rows: list[LevelRow]
    total: int
    page: int
    limit: int


class StockRow(_Out):
    item_id: str
    item_name: str
    sku: str | None
    warehouse_id: str
    warehouse_code: str
    quantity: float
    value: float
    unit_cost: float


class StockReportOut(_Out):
    as_of: str
    currency: str
    rows: list[StockRow]
    total_value: float


class LedgerRow(_Out):
    id: str
    date: str
    item_id: str
    warehouse_id: str
    quantity: float
    unit_cost: float
    value_change: float
    quantity_after: float
    value_after: float
    source: dict[str, str]
    reversal_of: str | None = None
    reversed_by: str | None = None


class LedgerOut(_Out):
    currency: str
    rows: list[LedgerRow]
    total: int
    page: int
    limit: int


async def _check(ctx: Ctx, q: _Query) -> dict[str, str]:
    filter = {}
    if q.item_id:
        filter["item_id"] = (await referenced(ctx, "items", q.item_id, "item_id", "item"))["_id"]
    if q.warehouse_id:
        found = await referenced(ctx, WAREHOUSES, q.warehouse_id, "warehouse_id", "warehouse")
        filter["warehouse_id"] = found["_id"]
    return filter


async def _names(ctx: Ctx, pairs: list[tuple[str, str]]) -> tuple[dict, dict]:
    item_ids = sorted({i for i, _ in pairs})
    warehouse_ids = sorted({w for _, w in pairs})
    items: dict[str, dict[str, Any]] = {}
    for start in range(0, len(item_ids), 500):
        chunk = item_ids[start : start + 500]
        for doc in await ctx.store.find("items", ctx.scope(_id={"$in": chunk})):
            items[doc["_id"]] = doc
    warehouses = {
        doc["_id"]: doc
        for doc in await ctx.store.find(WAREHOUSES, ctx.scope(_id={"$in": warehouse_ids}))
    }
    return items, warehouses


def _labels(items: dict, warehouses: dict, item_id: str, warehouse_id: str) -> dict[str, Any]:
    item = items.get(item_id, {})
    return {
        "item_id": item_id,
        "item_name": item.get("name", ""),
        "sku": item.get("sku"),
        "warehouse_id": warehouse_id,
        "warehouse_code": warehouses.get(warehouse_id, {}).get("code", ""),
    }


async def levels(ctx: Ctx, q: _Paged) -> dict[str, Any]:
    filter = ctx.scope(**await _check(ctx, q))
    currency = await base_currency(ctx)
    places = precision(currency)
    docs = await ctx.store.find(
        "stock_levels",
        filter,
        sort=[("item_id", 1), ("warehouse_id", 1)],
        skip=(q.page - 1) * q.limit,
        limit=q.limit,
    )
    total = await ctx.store.count("stock_levels", filter)
    items, warehouses = await _names(ctx, [(d["item_id"], d["warehouse_id"]) for d in docs])
    rows = []
    for doc in docs:
        view = stock.level_view(doc, places)
        rows.append(
            {
                **_labels(items, warehouses, doc["item_id"], doc["warehouse_id"]),
                **{k: float(view[k]) for k in ("on_hand", "reserved", "available", "value")},
                "unit_cost": float(view["unit_cost"]),
            }
        )
    return {"currency": currency, "rows": rows, "total": total, "page": q.page, "limit": q.limit}


async def stock_report(ctx: Ctx, q: AsOfQuery) -> dict[str, Any]:
    filter = await _check(ctx, q)
    as_of = (q.as_of or datetime.now(UTC).date()).isoformat()
    currency = await base_currency(ctx)
    places = precision(currency)
    moved = await _held_as_of(ctx, as_of, filter)
    held = sorted(pair for pair, (quantity, value) in moved.items() if quantity or value)
    items, warehouses = await _names(ctx, held)
    rows, total = [], 0
    for item_id, warehouse_id in held:
        quantity, value = moved[(item_id, warehouse_id)]
        total += value
        rows.append(
            {
                **_labels(items, warehouses, item_id, warehouse_id),
                "quantity": float(stock.quantity_of(quantity)),
                "value": float(from_minor(value, places)),
                "unit_cost": float(stock.cost_per_unit(value, quantity, places)),
            }
        )
    rows.sort(key=lambda r: (r["item_name"], r["warehouse_code"]))
    return {
        "as_of": as_of,
        "currency": currency,
        "rows": rows,
        "total_value": float(from_minor(total, places)),
    }


async def _held_as_of(
    ctx: Ctx, as_of: str, filter: dict[str, str]
) -> dict[tuple[str, str], tuple[int, int]]:
    """Nothing moved after the date (a report as of today): the levels are the answer;
    else the cells."""
    if await ctx.store.count("stock_moves", ctx.scope(date={"$gt": as_of}, **filter)):
        return await ledger.moved_as_of(ctx, as_of, **filter)
    found = await ctx.store.find("stock_levels", ctx.scope(**filter))
    return {(d["item_id"], d["warehouse_id"]): (d["on_hand"], d["value"]) for d in found}


async def stock_ledger(ctx: Ctx, q: LedgerQuery) -> dict[str, Any]:
    filter: dict[str, Any] = await _check(ctx, q)
    if q.from_ or q.to:
        filter["date"] = {
            **({"$gte": q.from_.isoformat()} if q.from_ else {}),
            **({"$lte": q.to.isoformat()} if q.to else {}),
        }
    scope = ctx.scope(**filter)
    currency = await base_currency(ctx)
    places = precision(currency)
    facts = await ctx.store.find(
        "stock_moves",
        scope,
        sort=[("date", 1), ("seq", 1)],
        skip=(q.page - 1) * q.limit,
        limit=q.limit,
    )
    total = await ctx.store.count("stock_moves", scope)
    spans: dict[tuple[str, str], list[str]] = {}
    for fact in facts:
        span = spans.setdefault((fact["item_id"], fact["warehouse_id"]), [fact["date"]] * 2)
        span[0], span[1] = min(span[0], fact["date"]), max(span[1], fact["date"])
    entries: dict[str, v.Entry] = {}
    for (item_id, warehouse_id), (first, last) in spans.items():
        entries |= await ledger.entries_by_id(ctx, item_id, warehouse_id, first, last)
    rows = []
    for fact in facts:
        shown = stock.present(fact, entries[fact["_id"]], places)
        rows.append(
            {
                **shown,
                **{
                    k: float(shown[k])
                    for k in ("quantity", "unit_cost", "value_change", "quantity_after")
                },
                "value_after": float(shown["value_after"]),
            }
        )
    return {"currency": currency, "rows": rows, "total": total, "page": q.page, "limit": q.limit}


LEVELS = Report(
    path="inventory/levels",
    summary="Stock levels now: on hand, reserved, available and value per item and warehouse",
    module="inventory",
    tag="Inventory",
    query=_Paged,
    run=levels,
    output=LevelsOut,
)
STOCK_REPORT = Report(
    path="inventory/stock-report",
    summary="Stock valuation as of a date: quantity and value per item and warehouse",
    module="inventory",
    tag="Inventory",
    query=AsOfQuery,
    run=stock_report,
    output=StockReportOut,
)
STOCK_LEDGER = Report(
    path="inventory/ledger",
    summary="The stock ledger: movements in date order with running quantity and value",
    module="inventory",
    tag="Inventory",
    query=LedgerQuery,
    run=stock_ledger,
    output=LedgerOut,
)
