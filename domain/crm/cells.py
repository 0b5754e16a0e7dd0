"""The forecast's running totals: one cell per (status, month of expected close, pipeline,
owner, probability) of a company, holding the count and the base-currency value of its
deals. Every write that changes one of those (create, edit, win, lose, reopen, a stage's
probability, delete) moves the deal's value from its old cell to its new one, inside the
write's transaction, so the forecast reads a few hundred cells instead of every deal (the
issue's target: 100,000 deals in at most 100 ms). `rebuild` recomputes a company's cells
from its deals (for deals stored another way, or a repair).
"""

from __future__ import annotations

from typing import Any

from domain.context import Ctx
from memory.store import CollectionSpec, declare

KEY = ("status", "close_month", "pipeline_id", "owner_id", "probability")
CELLS = "crm_forecast_cells"

declare(
    CollectionSpec(
        CELLS,
        fields=("company_id", *KEY),
        unique=(("company_id", *KEY),),
    )
)


def key_of(deal: dict[str, Any]) -> dict[str, Any]:
    return {k: deal.get(k) for k in KEY}


async def _bump(ctx: Ctx, key: dict[str, Any], count: int, value: int) -> None:
    if not count and not value:
        return
    cell = await ctx.store.find_one(CELLS, ctx.scope(**key))
    if cell is None:
        await ctx.store.insert_one(
            CELLS, {"company_id": ctx.company_id, **key, "count": count, "value_base": value}
        )
    else:
        await ctx.store.update_one(
            CELLS, ctx.scope(_id=cell["_id"]), {"$inc": {"count": count, "value_base": value}}
        )


async def add(ctx: Ctx, deal: dict[str, Any], sign: int = 1) -> None:
    await _bump(ctx, key_of(deal), sign, sign * int(deal.get("value_base") or 0))


async def move(ctx: Ctx, before: dict[str, Any], after: dict[str, Any]) -> None:
    """One deal changed: from its old cell to its new one (nothing when neither changed)."""
    old, new = key_of(before), key_of(after)
    if old == new and before.get("value_base") == after.get("value_base"):
        return
    await add(ctx, before, -1)
    await add(ctx, after, 1)


async def move_many(ctx: Ctx, filter: dict[str, Any], changes: dict[str, Any]) -> None:
    """The deals `filter` finds are about to get `changes` (one update of many deals)."""
    groups = await ctx.store.sum_by("crm_deals", filter, KEY, ("value_base",))
    for group in groups:
        old = {k: group[k] for k in KEY}
        count, value = int(group["count"]), int(group["value_base"] or 0)
        await _bump(ctx, old, -count, -value)
        await _bump(ctx, {**old, **changes}, count, value)


async def rebuild(ctx: Ctx) -> int:
    """Recompute the company's cells from its deals; answers the number of cells."""
    async with ctx.store.transaction():
        await ctx.store.delete_many(CELLS, ctx.scope())
        groups = await ctx.store.sum_by("crm_deals", ctx.scope(), KEY, ("value_base",))
        cells = [
            {
                "company_id": ctx.company_id,
                **{k: g[k] for k in KEY},
                "count": int(g["count"]),
                "value_base": int(g["value_base"] or 0),
            }
            for g in groups
        ]
        if cells:
            await ctx.store.insert_many(CELLS, cells)
    return len(cells)
