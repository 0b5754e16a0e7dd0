"""Monthly ledger totals: reports read whole months from them and edges from the lines, and
the answer is always what summing every line would give."""

from __future__ import annotations

import random
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from domain.accounting import journal, periods
from domain.companies import create_company
from domain.context import Ctx
from memory.ids import new_id
from memory.sqlite import SQLiteStore

START = date(2025, 11, 20)
DAYS = 160


@pytest.fixture
async def store(tmp_path: Path) -> Any:
    opened = SQLiteStore(tmp_path / "books.db")
    yield opened
    await opened.close()


async def company_books(store: SQLiteStore, entries: int, seed: int) -> Ctx:
    """A company with `entries` random balanced entries over five months, posted as the
    platform posts them."""
    user = new_id()
    company = await create_company(store, user, f"Periods {seed}")
    ctx = Ctx(store, user, company["_id"], "owner")
    accounts = await store.find("ledger_accounts", ctx.scope())
    rng = random.Random(seed)
    for _ in range(entries):
        day = (START + timedelta(days=rng.randrange(DAYS))).isoformat()
        debit, credit = rng.sample(accounts, 2)
        amount = rng.randint(1, 100_000)
        draft = journal.Draft(date=day, description="test")
        draft.debit(debit["_id"], amount).credit(credit["_id"], amount)
        await journal.post(ctx, draft)
    return ctx


async def line_sums(ctx: Ctx, start: str | None, end: str, types: Any = None) -> periods.Sums:
    """The reference: every line of the range, summed."""
    dates = {"$lte": end} if start is None else {"$gte": start, "$lte": end}
    filter: dict[str, Any] = ctx.scope(date=dates)
    if types:
        filter["account_type"] = {"$in": list(types)}
    rows = await ctx.store.sum_by("journal_lines", filter, ["account_id"], ["debit", "credit"])
    return {r["account_id"]: (int(r["debit"]), int(r["credit"])) for r in rows}


def day(offset: int) -> str:
    return (START + timedelta(days=offset)).isoformat()


EDGES = [
    (None, "2025-12-31"),  # whole months only
    (None, "2026-01-15"),  # and a partial last month
    ("2025-12-01", "2026-02-28"),  # exactly whole months
    ("2025-12-02", "2026-02-27"),  # partial at both ends
    ("2026-01-10", "2026-01-20"),  # inside one month
    ("2026-01-01", "2026-01-31"),  # one whole month
    ("2025-11-30", "2025-12-01"),  # across a boundary, no whole month
    ("2024-01-01", "2024-12-31"),  # before any entry
    (None, "2030-12-31"),  # after every entry
    ("2026-02-01", "2026-02-28"),  # February, not a leap year
    ("2025-12-31", "2026-01-01"),  # across a year
]


@pytest.mark.parametrize(("start", "end"), EDGES)
async def test_sums_equal_the_lines_at_the_edges(
    store: SQLiteStore, start: str | None, end: str
) -> None:
    ctx = await company_books(store, 300, seed=1)
    assert await periods.sums(ctx, start, end) == await line_sums(ctx, start, end)
    income = ("income", "expense")
    assert await periods.sums(ctx, start, end, income) == await line_sums(ctx, start, end, income)


async def test_sums_equal_the_lines_for_random_ranges(store: SQLiteStore) -> None:
    ctx = await company_books(store, 400, seed=2)
    rng = random.Random(3)
    for _ in range(150):
        a, b = sorted(rng.randrange(-20, DAYS + 20) for _ in range(2))
        start = None if rng.random() < 0.2 else day(a)
        assert await periods.sums(ctx, start, day(b)) == await line_sums(ctx, start, day(b))


async def test_months_hold_one_row_per_account_and_month(store: SQLiteStore) -> None:
    ctx = await company_books(store, 200, seed=4)
    months = await store.find(periods.MONTHS, ctx.scope())
    keys = [(m["account_id"], m["month"]) for m in months]
    assert len(keys) == len(set(keys))
    assert {m["month"] for m in months} <= {f"2025-{n}" for n in (11, 12)} | {
        f"2026-0{n}" for n in (1, 2, 3, 4)
    }
    assert sum(m["debit"] for m in months) == sum(m["credit"] for m in months) > 0


async def test_a_reversal_moves_the_months_back(store: SQLiteStore) -> None:
    ctx = await company_books(store, 5, seed=5)
    before = await periods.sums(ctx, None, "2026-12-31")
    entry = (await store.find("journal_entries", ctx.scope(), limit=1))[0]
    await journal.reverse(ctx, entry["_id"])
    after = await periods.sums(ctx, None, "2026-12-31")
    assert after != before
    for account_id, (debit, credit) in after.items():
        old_debit, old_credit = before.get(account_id, (0, 0))
        moved = [line for line in entry["lines"] if line["account_id"] == account_id]
        entry_net = sum(line["debit"] - line["credit"] for line in moved)
        assert debit - credit == old_debit - old_credit - entry_net  # the mirror cancels it
        assert debit == old_debit + sum(line["credit"] for line in moved)


async def test_a_failed_entry_leaves_the_months_alone(store: SQLiteStore) -> None:
    ctx = await company_books(store, 20, seed=6)
    before = await store.find(periods.MONTHS, ctx.scope(), sort=[("_id", 1)])
    accounts = await store.find("ledger_accounts", ctx.scope(), limit=2)
    draft = journal.Draft(date="2026-01-05", description="unbalanced")
    draft.debit(accounts[0]["_id"], 100).credit(accounts[1]["_id"], 99)
    with pytest.raises(Exception, match="unbalanced"):
        await journal.post(ctx, draft)
    with pytest.raises(RuntimeError):
        async with store.transaction():
            ok = journal.Draft(date="2026-01-05", description="rolled back")
            ok.debit(accounts[0]["_id"], 100).credit(accounts[1]["_id"], 100)
            await journal.post(ctx, ok)
            raise RuntimeError("the caller's transaction fails after the post")
    assert await store.find(periods.MONTHS, ctx.scope(), sort=[("_id", 1)]) == before


async def test_backfill_gives_older_books_their_months_once(store: SQLiteStore) -> None:
    first = await company_books(store, 150, seed=7)
    second = await company_books(store, 150, seed=8)
    await store.delete_many(periods.MONTHS, {})  # books written before the months existed
    assert await periods.backfill(store) == 2
    for ctx in (first, second):
        for start, end in EDGES:
            assert await periods.sums(ctx, start, end) == await line_sums(ctx, start, end)
    assert await periods.backfill(store) == 0
