"""Monthly totals per ledger account, so that a report over years reads a few hundred rows.

`journal.post` adds each entry's lines to their accounts' months (`ledger_months`) in the
entry's own transaction, so the totals can never disagree with the lines. A report's
grouped sum over a date range (`sums`) then reads the whole months inside the range from
here, and only the partial months at its edges from `journal_lines`. At a million
transactions a trial balance went from a scan of every line (about 0.6 s, `bench/reports.py`)
to a few hundred month rows plus at most two partial months of lines.

Books written before the totals existed get them once, at start-up (`backfill`).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from typing import Any

from domain.context import Ctx
from memory.store import CollectionSpec, DocumentStore, declare

MONTHS = "ledger_months"
LINES = "journal_lines"
VERSION_COUNTER = "schema:ledger_months"

declare(
    CollectionSpec(
        MONTHS,
        fields=("company_id", "account_id", "account_type", "month", "debit", "credit"),
        indexes=(("company_id", "month", "account_type", "account_id", "debit", "credit"),),
        unique=(("company_id", "account_id", "month"),),
    )
)

Sums = dict[str, tuple[int, int]]


async def add_lines(ctx: Ctx, lines: list[dict[str, Any]]) -> None:
    """Add journal lines (account_id, account_type, date, debit, credit) to their months.
    Call inside the transaction that writes the lines."""
    totals: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0, 0])
    for line in lines:
        total = totals[(line["account_id"], line["account_type"], line["date"][:7])]
        total[0] += line["debit"]
        total[1] += line["credit"]
    for (account_id, account_type, month), (debit, credit) in totals.items():
        added = await ctx.store.update_one(
            MONTHS,
            ctx.scope(account_id=account_id, month=month),
            {"$inc": {"debit": debit, "credit": credit}},
        )
        if added is None:
            await ctx.store.insert_one(
                MONTHS, _month(ctx, (account_id, account_type, month), debit, credit)
            )


def _month(ctx: Ctx, key: tuple[str, str, str], debit: int, credit: int) -> dict[str, Any]:
    account_id, account_type, month = key
    return {
        "company_id": ctx.company_id,
        "account_id": account_id,
        "account_type": account_type,
        "month": month,
        "debit": debit,
        "credit": credit,
    }


async def sums(ctx: Ctx, start: str | None, end: str, types: tuple[str, ...] | None = None) -> Sums:
    """Debits and credits per account over the lines dated `start` (None: ever) to `end`."""
    first, last = _whole_months(start, end)
    if first is not None and first > last:  # no whole month inside: the lines alone
        return await _line_sums(ctx, start, end, types)
    months: dict[str, Any] = {"$lte": last} if first is None else {"$gte": first, "$lte": last}
    totals = await _sum(ctx, MONTHS, {"month": months}, types)
    if start is not None and first is not None and start < f"{first}-01":
        _add(totals, await _line_sums(ctx, start, _day_before(f"{first}-01"), types))
    if end > _month_end(last):
        _add(totals, await _line_sums(ctx, _day_after(_month_end(last)), end, types))
    return totals


def _whole_months(start: str | None, end: str) -> tuple[str | None, str]:
    """The first and last months lying wholly inside the range (first None: from the start)."""
    first = None
    if start is not None:
        first = start[:7] if start[8:10] == "01" else _next_month(start[:7])
    last = end[:7] if end[:10] == _month_end(end[:7]) else _previous_month(end[:7])
    return first, last


async def _line_sums(ctx: Ctx, start: str | None, end: str, types: tuple[str, ...] | None) -> Sums:
    dates: dict[str, str] = {"$lte": end} if start is None else {"$gte": start, "$lte": end}
    return await _sum(ctx, LINES, {"date": dates}, types)


async def _sum(
    ctx: Ctx, collection: str, where: dict[str, Any], types: tuple[str, ...] | None
) -> Sums:
    filter: dict[str, Any] = ctx.scope(**where)
    if types:
        filter["account_type"] = {"$in": list(types)}
    rows = await ctx.store.sum_by(collection, filter, ["account_id"], ["debit", "credit"])
    return {r["account_id"]: (int(r["debit"]), int(r["credit"])) for r in rows}


def _add(totals: Sums, more: Sums) -> None:
    for account_id, (debit, credit) in more.items():
        before = totals.get(account_id, (0, 0))
        totals[account_id] = (before[0] + debit, before[1] + credit)


def _next_month(month: str) -> str:
    year, number = int(month[:4]), int(month[5:7])
    return f"{year + number // 12:04d}-{number % 12 + 1:02d}"


def _previous_month(month: str) -> str:
    year, number = int(month[:4]), int(month[5:7])
    return f"{year - 1:04d}-12" if number == 1 else f"{year:04d}-{number - 1:02d}"


def _month_end(month: str) -> str:
    return _day_before(f"{_next_month(month)}-01")


def _day_before(day: str) -> str:
    return (date.fromisoformat(day[:10]) - timedelta(days=1)).isoformat()


def _day_after(day: str) -> str:
    return (date.fromisoformat(day[:10]) + timedelta(days=1)).isoformat()


async def rebuild(ctx: Ctx) -> None:
    """Recompute the company's months from its lines (inside the caller's transaction)."""
    await ctx.store.delete_many(MONTHS, ctx.scope())
    rows = await ctx.store.sum_by(
        LINES, ctx.scope(), ["account_id", "account_type", "date"], ["debit", "credit"]
    )
    totals: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0, 0])
    for row in rows:
        total = totals[(row["account_id"], row["account_type"], row["date"][:7])]
        total[0] += int(row["debit"])
        total[1] += int(row["credit"])
    await ctx.store.insert_many(
        MONTHS, [_month(ctx, key, debit, credit) for key, (debit, credit) in totals.items()]
    )


async def backfill(store: DocumentStore) -> int:
    """Once per database: give every company written before `ledger_months` its months.
    Answers how many companies it rebuilt (0 once done)."""
    async with store.transaction():
        if await store.raise_counter(VERSION_COUNTER, 0) >= 1:  # reads it, never lowers it
            return 0
        companies = await store.find("companies", None)
        for company in companies:
            await rebuild(Ctx(store, "system", company["_id"], "owner"))
        await store.raise_counter(VERSION_COUNTER, 1)
    return len(companies)
