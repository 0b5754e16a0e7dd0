"""Financial reports, computed with the store's grouped sums over the ledger's monthly
totals and `journal_lines` (`periods.sums`), and over open documents for ageing: never by
loading every document into Python.

All amounts are in the base currency. These are plain async functions so the API and the
AI analysis call the same code.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from domain.accounting import periods
from domain.context import Ctx
from domain.currencies import base_currency
from domain.errors import Invalid
from domain.money import precision, to_number

OPEN = ("sent", "viewed", "partial")
POSTED = (*OPEN, "paid")
BUCKETS = (
    ("current", None, 0),
    ("1-30", 1, 30),
    ("31-60", 31, 60),
    ("61-90", 61, 90),
    ("90+", 91, None),
)


async def _chart(ctx: Ctx) -> dict[str, dict[str, Any]]:
    accounts = await ctx.store.find("ledger_accounts", ctx.scope(), sort=[("code", 1)])
    return {a["_id"]: a for a in accounts}


async def _sums(
    ctx: Ctx, date_filter: dict[str, str], types: tuple[str, ...] | None = None
) -> dict[str, tuple[int, int]]:
    return await periods.sums(ctx, date_filter.get("$gte"), date_filter["$lte"], types)


class _Money:
    def __init__(self, code: str):
        self.code = code
        self.places = precision(code)

    def __call__(self, minor: int) -> float | int:
        return to_number(minor, self.places)


async def _money(ctx: Ctx) -> _Money:
    return _Money(await base_currency(ctx))


def _check_period(start: str, end: str) -> None:
    if end < start:
        raise Invalid("the period ends before it starts: `to` must be on or after `from`")


async def trial_balance(ctx: Ctx, as_of: str) -> dict[str, Any]:
    money = await _money(ctx)
    chart = await _chart(ctx)
    sums = await _sums(ctx, {"$lte": as_of})
    rows = []
    total_debit = total_credit = 0
    for account_id, account in chart.items():
        debit, credit = sums.get(account_id, (0, 0))
        if not debit and not credit:
            continue
        balance = debit - credit
        row_debit, row_credit = max(balance, 0), max(-balance, 0)
        total_debit += row_debit
        total_credit += row_credit
        rows.append(
            {
                "account_id": account_id,
                "code": account["code"],
                "name": account["name"],
                "type": account["type"],
                "debit": money(row_debit),
                "credit": money(row_credit),
            }
        )
    return {
        "as_of": as_of,
        "currency": money.code,
        "accounts": rows,
        "total_debit": money(total_debit),
        "total_credit": money(total_credit),
        "balanced": total_debit == total_credit,
    }


async def _profit_and_loss(
    ctx: Ctx, chart: dict[str, Any], start: str, end: str
) -> tuple[dict[str, int], int, int]:
    sums = await _sums(ctx, {"$gte": start, "$lte": end}, ("income", "expense"))
    amounts: dict[str, int] = {}
    income = expense = 0
    for account_id, (debit, credit) in sums.items():
        account = chart.get(account_id)
        if account is None:
            continue
        if account["type"] == "income":
            amounts[account_id] = credit - debit
            income += credit - debit
        else:
            amounts[account_id] = debit - credit
            expense += debit - credit
    return amounts, income, expense


async def profit_and_loss(
    ctx: Ctx,
    start: str,
    end: str,
    compare_start: str | None = None,
    compare_end: str | None = None,
) -> dict[str, Any]:
    _check_period(start, end)
    money = await _money(ctx)
    chart = await _chart(ctx)
    amounts, income, expense = await _profit_and_loss(ctx, chart, start, end)
    if (compare_start is None) != (compare_end is None):
        raise Invalid("send both compare_from and compare_to, or neither")
    comparing = compare_start is not None and compare_end is not None
    before, income_before, expense_before = ({}, 0, 0)
    if comparing:
        assert compare_start is not None and compare_end is not None
        _check_period(compare_start, compare_end)
        before, income_before, expense_before = await _profit_and_loss(
            ctx, chart, compare_start, compare_end
        )

    def section(kind: str) -> list[dict[str, Any]]:
        rows = []
        for account_id, account in chart.items():
            if account["type"] != kind or (account_id not in amounts and account_id not in before):
                continue
            now, then = amounts.get(account_id, 0), before.get(account_id, 0)
            row = {
                "account_id": account_id,
                "code": account["code"],
                "name": account["name"],
                "amount": money(now),
            }
            if comparing:
                row.update(_change(money, now, then))
            rows.append(row)
        return rows

    report: dict[str, Any] = {
        "period": {"from": start, "to": end},
        "currency": money.code,
        "income": section("income"),
        "expenses": section("expense"),
        "total_income": money(income),
        "total_expenses": money(expense),
        "net_profit": money(income - expense),
    }
    if comparing:
        report["comparison"] = {
            "period": {"from": compare_start, "to": compare_end},
            "total_income": money(income_before),
            "total_expenses": money(expense_before),
            "net_profit": money(income_before - expense_before),
            "income_change": _change(money, income, income_before),
            "expenses_change": _change(money, expense, expense_before),
            "net_profit_change": _change(money, income - expense, income_before - expense_before),
        }
    return report


def _change(money: _Money, now: int, then: int) -> dict[str, Any]:
    pct = None if then == 0 else round((now - then) * 100 / abs(then), 2)
    return {"previous": money(then), "change": money(now - then), "change_pct": pct}


async def balance_sheet(ctx: Ctx, as_of: str) -> dict[str, Any]:
    money = await _money(ctx)
    chart = await _chart(ctx)
    sums = await _sums(ctx, {"$lte": as_of})
    sections: dict[str, list[dict[str, Any]]] = {"asset": [], "liability": [], "equity": []}
    totals = {"asset": 0, "liability": 0, "equity": 0}
    earnings = 0
    for account_id, account in chart.items():
        debit, credit = sums.get(account_id, (0, 0))
        kind = account["type"]
        if kind in ("income", "expense"):
            earnings += credit - debit
            continue
        balance = debit - credit if kind == "asset" else credit - debit
        if balance:
            totals[kind] += balance
            sections[kind].append(
                {
                    "account_id": account_id,
                    "code": account["code"],
                    "name": account["name"],
                    "amount": money(balance),
                }
            )
    sections["equity"].append(
        {"account_id": None, "code": None, "name": "Current earnings", "amount": money(earnings)}
    )
    equity = totals["equity"] + earnings
    return {
        "as_of": as_of,
        "currency": money.code,
        "assets": sections["asset"],
        "liabilities": sections["liability"],
        "equity": sections["equity"],
        "total_assets": money(totals["asset"]),
        "total_liabilities": money(totals["liability"]),
        "total_equity": money(equity),
        "balanced": totals["asset"] == totals["liability"] + equity,
    }


async def cash_flow(ctx: Ctx, start: str, end: str) -> dict[str, Any]:
    """Direct method: cash accounts' opening and closing balances from the ledger, the
    movement between them by category from transactions (transfers between own accounts
    are internal and left out)."""
    _check_period(start, end)
    money = await _money(ctx)
    chart = await _chart(ctx)
    cash_ids = [i for i, a in chart.items() if a.get("subtype") in ("bank", "cash")]
    day_before = (date.fromisoformat(start) - timedelta(days=1)).isoformat()
    opening_rows = await _sums(ctx, {"$lte": day_before})
    closing_rows = await _sums(ctx, {"$lte": end})
    opening = sum(d - c for i, (d, c) in opening_rows.items() if i in cash_ids)
    closing = sum(d - c for i, (d, c) in closing_rows.items() if i in cash_ids)
    rows = await ctx.store.sum_by(
        "transactions",
        ctx.scope(paid_at={"$gte": start, "$lte": end}, transfer_id={"$exists": False}),
        ["type", "category_id"],
        ["amount_base"],
    )
    categories = {c["_id"]: c["name"] for c in await ctx.store.find("categories", ctx.scope())}
    inflows = [
        {
            "category_id": r["category_id"],
            "name": categories.get(r["category_id"], "—"),
            "amount": money(int(r["amount_base"])),
        }
        for r in rows
        if r["type"] == "income"
    ]
    outflows = [
        {
            "category_id": r["category_id"],
            "name": categories.get(r["category_id"], "—"),
            "amount": money(int(r["amount_base"])),
        }
        for r in rows
        if r["type"] == "expense"
    ]
    total_in = sum(int(r["amount_base"]) for r in rows if r["type"] == "income")
    total_out = sum(int(r["amount_base"]) for r in rows if r["type"] == "expense")
    return {
        "period": {"from": start, "to": end},
        "currency": money.code,
        "opening_cash": money(opening),
        "inflows": inflows,
        "outflows": outflows,
        "total_inflows": money(total_in),
        "total_outflows": money(total_out),
        "net_change": money(closing - opening),
        "closing_cash": money(closing),
        "other_movements": money(closing - opening - (total_in - total_out)),
    }


async def _cleared_after(ctx: Ctx, as_of: str) -> dict[str, int]:
    """What payments and credit notes dated after `as_of` took off each document (base
    currency, at the document's rate)."""
    cleared: dict[str, int] = {}
    for collection, dated in (("transactions", "paid_at"), ("credit_notes", "issued_at")):
        # Filtered by date only and grouped by date first, so the (company, date, document,
        # cleared) index answers it alone; plain income and expense group under None.
        rows = await ctx.store.sum_by(
            collection,
            ctx.scope(**{dated: {"$gt": as_of}}),
            [dated, "document_id"],
            ["cleared_base"],
        )
        for row in rows:
            if row["document_id"] and row["cleared_base"]:
                doc_id = row["document_id"]
                cleared[doc_id] = cleared.get(doc_id, 0) + int(row["cleared_base"])
    return cleared


def _bucket(as_of: date, due_at: str) -> str:
    late = (as_of - date.fromisoformat(due_at[:10])).days
    for name, low, high in BUCKETS:
        if (low is None and late <= 0) or (
            low is not None and low <= late and (high is None or late <= high)
        ):
            return name
    raise AssertionError(f"no bucket for {late} days late")


def _due_range(as_of: date, low: int | None, high: int | None) -> dict[str, str]:
    """The due dates `low`..`high` days before `as_of` (None: unbounded)."""
    bounds: dict[str, str] = {}
    if low is not None:
        bounds["$lte"] = (as_of - timedelta(days=low)).isoformat()
    if high is not None:
        bounds["$gt" if low is None else "$gte"] = (as_of - timedelta(days=high)).isoformat()
    return bounds


async def aged(ctx: Ctx, kind: str, as_of: str) -> dict[str, Any]:
    """Aged receivables (invoices) or payables (bills): what is open, by days past due.

    One grouped sum per bucket (due-date range), by contact: the store does the bucketing.
    What is open today is then given back what was paid or credited after `as_of` (a
    grouped sum of those payments and credit notes, by document), so a past date shows what
    was owed on that date."""
    money = await _money(ctx)
    doc_type = {"receivables": "invoice", "payables": "bill"}[kind]
    as_of_date = date.fromisoformat(as_of)
    base = ctx.scope(type=doc_type, status={"$in": list(OPEN)}, issued_at={"$lte": as_of})
    by_contact: dict[str, dict[str, int]] = {}
    totals = {name: 0 for name, _, _ in BUCKETS}

    def owed(contact_id: str, bucket: str, amount: int) -> None:
        by_contact.setdefault(contact_id, dict.fromkeys(totals, 0))[bucket] += amount
        totals[bucket] += amount

    for name, low, high in BUCKETS:
        # current: due today or later; n-m: due n to m days ago
        bounds = {"$gte": as_of} if low is None else _due_range(as_of_date, low, high)
        rows = await ctx.store.sum_by(
            "documents", {**base, "due_at": bounds}, ["contact_id"], ["due_base"]
        )
        for row in rows:
            owed(row["contact_id"], name, int(row["due_base"]))
    cleared = await _cleared_after(ctx, as_of)
    if cleared:
        reopened = await ctx.store.find(
            "documents",
            ctx.scope(
                _id={"$in": list(cleared)},
                type=doc_type,
                status={"$in": list(POSTED)},
                issued_at={"$lte": as_of},
            ),
        )
        for doc in reopened:
            owed(doc["contact_id"], _bucket(as_of_date, doc["due_at"]), cleared[doc["_id"]])
    rows = [{"contact_id": cid} for cid in by_contact]
    names = (
        {
            c["_id"]: c["name"]
            for c in await ctx.store.find(
                "contacts", ctx.scope(_id={"$in": list({r["contact_id"] for r in rows})})
            )
        }
        if rows
        else {}
    )
    contacts = [
        {
            "contact_id": cid,
            "name": names.get(cid, ""),
            **{b: money(v) for b, v in buckets.items()},
            "total": money(sum(buckets.values())),
        }
        for cid, buckets in sorted(by_contact.items(), key=lambda kv: -sum(kv[1].values()))
    ]
    return {
        "as_of": as_of,
        "currency": money.code,
        "kind": kind,
        "contacts": contacts,
        "totals": {b: money(v) for b, v in totals.items()},
        "total": money(sum(totals.values())),
    }
