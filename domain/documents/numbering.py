"""Document numbers: an atomic per-company, per-type counter and a configurable prefix.

The counter lives in the store (`next_value`), so concurrent creations in any process never
share or skip a number; a unique index on (company, type, number) backs it up. The next
number can be moved forward (say, to continue a previous system's series), never back.
"""

from __future__ import annotations

from typing import Any

from domain.context import Ctx
from domain.errors import Conflict, Forbidden
from memory.ids import utcnow

DEFAULT_PREFIX = {
    "invoice": "INV-",
    "bill": "BILL-",
    "estimate": "EST-",
    "credit_note": "CN-",
    "sales_order": "SO-",
    "purchase_order": "PO-",
}
DIGITS = 5


def _counter(ctx: Ctx, kind: str) -> str:
    return f"{ctx.company_id}:{kind}"


async def _prefix(ctx: Ctx, kind: str) -> str:
    company = await ctx.store.find_one("companies", {"_id": ctx.company_id}) or {}
    return company.get("numbering", {}).get(kind, {}).get("prefix", DEFAULT_PREFIX[kind])


async def next_number(ctx: Ctx, kind: str) -> str:
    prefix = await _prefix(ctx, kind)
    value = await ctx.store.next_value(_counter(ctx, kind))
    return f"{prefix}{value:0{DIGITS}d}"


async def configure(
    ctx: Ctx, kind: str, prefix: str | None, next_value: int | None
) -> dict[str, Any]:
    if ctx.role not in ("owner", "admin"):
        raise Forbidden(
            "only an owner or admin can change document numbering", code="admin_required"
        )
    async with ctx.store.transaction():
        if prefix is not None:
            await ctx.store.update_one(
                "companies",
                {"_id": ctx.company_id},
                {"$set": {f"numbering.{kind}.prefix": prefix, "updated_at": utcnow()}},
            )
        current = await ctx.store.raise_counter(_counter(ctx, kind), 0)
        if next_value is not None:
            if next_value <= current:
                raise Conflict(
                    f"the next {kind} number must be above {current}, the last one used",
                    code="number_used",
                )
            current = await ctx.store.raise_counter(_counter(ctx, kind), next_value - 1)
    return {"type": kind, "prefix": await _prefix(ctx, kind), "next_number": current + 1}
