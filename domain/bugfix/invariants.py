"""What Numbors can check about its own data: the invariants the bug-fix conductor localises
with, and that a repair must restore.

An `Invariant` belongs to product areas (`domains`, the names bugs carry: `invoicing`,
`invoices`, `payments`...), names the words a bug must share with it to be related
(`keywords`) and checks one company (`check(ctx)`), answering its `Violation`s. A violation
names the row (`collection`, `id`, `label`), what was expected and found, and, when the
defect is in data and the right value is known from another record, a `repair`: which row,
which fields, their current value (`before`, checked again when the repair is confirmed)
and the value to set (`after`).

The checks (each area adds its own as it is built):

- `trial_balance_zero` (every domain): the company's journal lines debit what they credit,
  and so does every entry. No automatic repair: a journal entry is immutable, so a
  correction is a reversing entry someone decides on.
- `paid_matches_payments` (invoicing): a document's `paid` is the sum of what its payments
  applied, and `due` its total less paid and credited. Localised to the row that disagrees
  with the ledger: a payment whose stored amount differs from its own journal entry is
  repaired from that entry (the ledger is written once and never edited); otherwise the
  document's figures are repaired from its payments. A POS session's invoices are settled by
  the session's close, not by payments: for them only `due` is checked.
- `on_hand_matches_ledger` (inventory, POS, orders): a stock level's on hand is the sum of
  its movements, and what is reserved never exceeds it (reported, not repaired: a level
  also holds its value and cost layers, which only the inventory area can re-derive).
- `numbers_without_gaps` (invoicing): each document type's numbers under one prefix run
  without gaps (a gap is a lost or deleted document, or a numbering jump someone set:
  reported for review, never repaired).
- `loyalty_matches_ledger` (POS): a loyalty balance's points are the sum of its ledger's
  rows (earn, redeem, expire, reverse, return). The ledger is append-only and the balance
  derived from it, so the balance is repaired from its ledger.
- `pay_run_matches_slips` (payroll): an approved or paid run's figures (gross, deductions,
  employer cost, net) are its slips' sums, its live accrual entry debits the slips' employer
  cost (gross and contributions) and its payment entry moves their net; a cancelled run has
  no live entry. A run's figures are repaired from its slips; an entry is immutable, so an
  entry that disagrees is reported (a correction is a reversing entry someone decides on).

Figures are in minor units in `expected` and `found`, with the row's `currency` and
`precision`, so a narrative states them as money exactly.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from domain.context import Ctx

Violation = dict[str, Any]
ALL = "*"


@dataclass(frozen=True)
class Invariant:
    key: str
    label: str
    domains: tuple[str, ...]
    keywords: tuple[str, ...]
    check: Callable[[Ctx], Awaitable[list[Violation]]]

    def covers(self, domain: str) -> bool:
        return ALL in self.domains or domain in self.domains


def violation(
    invariant: str,
    collection: str,
    id: str,
    label: str,
    message: str,
    expected: int,
    found: int,
    currency: str | None = None,
    precision: int = 0,
    repair: dict[str, Any] | None = None,
) -> Violation:
    return {
        "invariant": invariant,
        "collection": collection,
        "id": id,
        "label": label,
        "message": message,
        "expected": expected,
        "found": found,
        "currency": currency,
        "precision": precision,
        "repair": repair,
    }


# --- the ledger -------------------------------------------------------------------------------


async def _base(ctx: Ctx) -> tuple[str, int]:
    company = await ctx.store.find_one("companies", {"_id": ctx.company_id})
    code = (company or {}).get("base_currency", "USD")
    from domain.money import precision

    return code, precision(code)


async def trial_balance_zero(ctx: Ctx) -> list[Violation]:
    code, places = await _base(ctx)
    found: list[Violation] = []
    [total] = await ctx.store.sum_by("journal_lines", ctx.scope(), [], ["debit", "credit"]) or [
        {"debit": 0, "credit": 0}
    ]
    if (total["debit"] or 0) != (total["credit"] or 0):
        found.append(
            violation(
                "trial_balance_zero",
                "journal_lines",
                ctx.company_id,
                "the trial balance",
                "the journal's debits and credits differ",
                total["debit"] or 0,
                total["credit"] or 0,
                code,
                places,
            )
        )
    for row in await ctx.store.sum_by(
        "journal_lines", ctx.scope(), ["entry_id"], ["debit", "credit"]
    ):
        if row["debit"] != row["credit"]:
            entry = await ctx.store.find_one("journal_entries", ctx.scope(_id=row["entry_id"]))
            number = (entry or {}).get("number", row["entry_id"])
            found.append(
                violation(
                    "trial_balance_zero",
                    "journal_entries",
                    row["entry_id"],
                    f"journal entry {number}",
                    f"journal entry {number} debits what it does not credit",
                    row["debit"],
                    row["credit"],
                    code,
                    places,
                )
            )
    return found


# --- documents and their payments --------------------------------------------------------------


async def _ledger_amounts(ctx: Ctx, tx: dict[str, Any]) -> tuple[int, int] | None:
    """What a payment's own journal entry moved: (bank, receivable or payable) in base
    units; None when it has no single live entry."""
    entries = await ctx.store.find("journal_entries", ctx.scope(**{"source.id": tx["_id"]}))
    live = [e for e in entries if not e.get("reversed_by") and not e.get("reversal_of")]
    if len(live) != 1:
        return None
    bank = next(
        (line for line in live[0]["lines"] if line["account_id"] == tx["ledger_account_id"]), None
    )
    if bank is None:
        return None
    moved = bank["debit"] or bank["credit"]
    others = [line for line in live[0]["lines"] if line is not bank]
    cleared = max((line["debit"] or line["credit"] for line in others), default=moved)
    return moved, cleared


def _same_currency(tx: dict[str, Any], doc: dict[str, Any]) -> bool:
    return tx["currency"] == doc["currency"] == tx["base_currency"]


async def paid_matches_payments(ctx: Ctx) -> list[Violation]:
    applied = {
        row["document_id"]: row["applied"] or 0
        for row in await ctx.store.sum_by(
            "transactions",
            ctx.scope(document_id={"$exists": True, "$ne": None}),
            ["document_id"],
            ["applied"],
        )
    }
    # One grouped pass over the documents' figures (a read per document would be 100k reads).
    figures = await ctx.store.sum_by(
        "documents", ctx.scope(), ["_id"], ["total", "paid", "due", "credited"]
    )
    # A POS session's invoices are settled by its close (`pos/invoicing.py`), not by
    # payments: for them only due against total, paid and credited is checked.
    till = {
        row["_id"]
        for row in await ctx.store.sum_by(
            "documents", ctx.scope(pos_session_id={"$exists": True}), ["_id"], []
        )
    }
    found: list[Violation] = []
    for row in figures:
        paid = row["paid"] if row["_id"] in till else applied.get(row["_id"], 0)
        if row["paid"] == paid and row["due"] == row["total"] - row["paid"] - row["credited"]:
            continue
        doc = await ctx.store.find_one("documents", ctx.scope(_id=row["_id"]))
        if doc is not None:
            found.append(await _localise_payment(ctx, doc, paid))
    return found


async def _localise_payment(ctx: Ctx, doc: dict[str, Any], paid: int) -> Violation:
    """The row to repair: a payment that disagrees with its own ledger entry, else the
    document's figures."""
    label = f"{doc['type']} {doc['number']}"
    where = ("documents", doc["_id"], label)
    message = (
        f"{label}: paid is {doc['paid']} but its payments applied {paid} (minor units)"
        if doc["paid"] != paid
        else f"{label}: due is {doc['due']}, not total less paid and credited"
    )
    payments = await ctx.store.find("transactions", ctx.scope(document_id=doc["_id"]))
    for tx in payments:
        ledger = await _ledger_amounts(ctx, tx)
        if ledger is None or not _same_currency(tx, doc):
            continue
        moved, cleared = ledger
        if tx["amount_base"] == moved and tx.get("applied") == moved:
            continue
        fields = ("amount", "amount_base", "applied", "cleared_base")
        repair = {
            "collection": "transactions",
            "id": tx["_id"],
            "label": f"payment {tx['_id']} of {label}",
            "before": {k: tx.get(k) for k in fields},
            "after": {
                "amount": moved,
                "amount_base": moved,
                "applied": moved,
                "cleared_base": cleared,
            },
            "source": "its journal entry",
        }
        return violation(
            "paid_matches_payments",
            *where,
            f"{message}; payment {tx['_id']} records {tx.get('applied')} but its journal "
            f"entry moved {moved}",
            doc["paid"],
            paid,
            doc["currency"],
            doc["precision"],
            repair,
        )
    due = doc["total"] - paid - doc["credited"]
    status = doc["status"]
    if paid or status in ("partial", "paid"):
        status = "paid" if paid and due == 0 else "partial" if paid else "sent"
    repair = {
        "collection": "documents",
        "id": doc["_id"],
        "label": label,
        "before": {"paid": doc["paid"], "due": doc["due"], "status": doc["status"]},
        "after": {"paid": paid, "due": due, "status": status},
        "source": "its payments",
    }
    return violation(
        "paid_matches_payments",
        *where,
        message,
        doc["paid"],
        paid,
        doc["currency"],
        doc["precision"],
        repair,
    )


DIGITS = re.compile(r"^(.*?)(\d+)$")


async def numbers_without_gaps(ctx: Ctx) -> list[Violation]:
    found: list[Violation] = []
    for kind in ("invoice", "bill"):
        runs: dict[str, list[int]] = {}
        for row in await ctx.store.sum_by("documents", ctx.scope(type=kind), ["number"], []):
            match = DIGITS.match(row["number"] or "")
            if match:
                runs.setdefault(match.group(1), []).append(int(match.group(2)))
        for prefix, values in sorted(runs.items()):
            values.sort()
            missing = sorted(set(range(values[0], values[-1] + 1)) - set(values))
            if missing:
                found.append(
                    violation(
                        "numbers_without_gaps",
                        "documents",
                        ctx.company_id,
                        f"{kind} numbers {prefix}",
                        f"{len(missing)} {kind} numbers missing under {prefix!r}, "
                        f"first {missing[0]}",
                        len(values) + len(missing),
                        len(values),
                    )
                )
    return found


# --- stock ---------------------------------------------------------------------------------


async def on_hand_matches_ledger(ctx: Ctx) -> list[Violation]:
    """Each stock level's on hand is the sum of its item x warehouse's movements (the
    ledger's year cells), and reserves never exceed it. No automatic repair: a level holds
    its value and cost layers too, which only the inventory area can re-derive."""
    moved = {
        (row["item_id"], row["warehouse_id"]): row["quantity"] or 0
        for row in await ctx.store.sum_by(
            "stock_year_cells", ctx.scope(), ["item_id", "warehouse_id"], ["quantity"]
        )
    }
    found: list[Violation] = []
    levels = await ctx.store.sum_by(
        "stock_levels", ctx.scope(), ["_id", "item_id", "warehouse_id"], ["on_hand", "reserved"]
    )
    for lvl in levels:
        ledger = moved.get((lvl["item_id"], lvl["warehouse_id"]), 0)
        label = f"stock of item {lvl['item_id']} in warehouse {lvl['warehouse_id']}"
        if lvl["on_hand"] != ledger:
            found.append(
                violation(
                    "on_hand_matches_ledger",
                    "stock_levels",
                    lvl["_id"],
                    label,
                    f"{label}: on hand {lvl['on_hand']} but its movements sum to {ledger} (units)",
                    ledger,
                    lvl["on_hand"],
                )
            )
        if lvl["reserved"] > lvl["on_hand"]:
            found.append(
                violation(
                    "on_hand_matches_ledger",
                    "stock_levels",
                    lvl["_id"],
                    label,
                    f"{label}: {lvl['reserved']} reserved of {lvl['on_hand']} on hand (units)",
                    lvl["on_hand"],
                    lvl["reserved"],
                )
            )
    return found


# --- loyalty ------------------------------------------------------------------------------


async def loyalty_matches_ledger(ctx: Ctx) -> list[Violation]:
    ledger = {
        (row["program_id"], row["customer_id"]): row["points"] or 0
        for row in await ctx.store.sum_by(
            "pos_loyalty_entries", ctx.scope(), ["program_id", "customer_id"], ["points"]
        )
    }
    found: list[Violation] = []
    for account in await ctx.store.sum_by(
        "pos_loyalty_accounts", ctx.scope(), ["_id", "program_id", "customer_id"], ["points"]
    ):
        rows = ledger.get((account["program_id"], account["customer_id"]), 0)
        if account["points"] == rows:
            continue
        label = f"loyalty balance of customer {account['customer_id']}"
        found.append(
            violation(
                "loyalty_matches_ledger",
                "pos_loyalty_accounts",
                account["_id"],
                label,
                f"{label}: {account['points']} points but its ledger sums to {rows} "
                "(hundredths of a point)",
                rows,
                account["points"],
                precision=2,
                repair={
                    "collection": "pos_loyalty_accounts",
                    "id": account["_id"],
                    "label": label,
                    "before": {"points": account["points"]},
                    "after": {"points": rows},
                    "source": "its ledger",
                },
            )
        )
    return found


# --- payroll ------------------------------------------------------------------------------

RUN_FIGURES = ("gross", "deductions", "employer_cost", "net")


async def pay_run_matches_slips(ctx: Ctx) -> list[Violation]:
    code, places = await _base(ctx)
    found: list[Violation] = []
    runs = await ctx.store.find(
        "payroll_runs", ctx.scope(status={"$in": ["approved", "paid", "cancelled"]})
    )
    for run in runs:
        label = f"pay run {run['period_start']} to {run['period_end']}"
        slips = run.get("slips") or []
        sums = {key: sum(s[key] for s in slips) for key in RUN_FIGURES}
        wrong = [key for key in RUN_FIGURES if run.get(key) != sums[key]]
        if wrong:
            key = wrong[0]
            found.append(
                violation(
                    "pay_run_matches_slips",
                    "payroll_runs",
                    run["_id"],
                    label,
                    f"{label}: {', '.join(wrong)} differ from its slips' sums ({key} "
                    f"{run.get(key)} against {sums[key]})",
                    sums[key],
                    run.get(key) or 0,
                    run.get("currency", code),
                    places,
                    {
                        "collection": "payroll_runs",
                        "id": run["_id"],
                        "label": label,
                        "before": {k: run.get(k) for k in RUN_FIGURES},
                        "after": sums,
                        "source": "its slips",
                    },
                )
            )
        entries = await ctx.store.find("journal_entries", ctx.scope(**{"source.id": run["_id"]}))
        live = [e for e in entries if not e.get("reversed_by") and not e.get("reversal_of")]
        expected = (
            {}
            if run["status"] == "cancelled"
            else {
                run.get("accrual_entry_id"): sums["employer_cost"],
                run.get("payment_entry_id"): sums["net"],
            }
        )
        expected = {k: v for k, v in expected.items() if k and v}
        moved = {e["_id"]: sum(line["debit"] for line in e["lines"]) for e in live}
        for entry_id in sorted(set(expected) | set(moved)):
            if moved.get(entry_id, 0) == expected.get(entry_id, 0):
                continue
            entry = next((e for e in live if e["_id"] == entry_id), None)
            number = (entry or {}).get("number", entry_id)
            found.append(
                violation(
                    "pay_run_matches_slips",
                    "journal_entries",
                    entry_id,
                    f"journal entry {number} of the {label}",
                    f"{label} ({run['status']}): its entry {number} debits "
                    f"{moved.get(entry_id, 0)}, its slips make {expected.get(entry_id, 0)}",
                    expected.get(entry_id, 0),
                    moved.get(entry_id, 0),
                    run.get("currency", code),
                    places,
                )
            )
    return found


INVOICING = ("invoicing", "invoices", "bills", "documents", "payments", "banking", "transactions")
INVARIANTS: tuple[Invariant, ...] = (
    Invariant(
        "trial_balance_zero",
        "The trial balance is zero",
        (ALL,),
        ("balance", "ledger", "journal", "entry", "debit", "credit", "unbalanced"),
        trial_balance_zero,
    ),
    Invariant(
        "paid_matches_payments",
        "A document's paid equals its payments",
        INVOICING,
        ("paid", "payment", "payments", "due", "balance", "partial", "overpayment", "amount"),
        paid_matches_payments,
    ),
    Invariant(
        "on_hand_matches_ledger",
        "On hand equals the stock ledger, and reserved never exceeds it",
        ("inventory", "stock", "warehouses", "pos", "orders"),
        ("stock", "hand", "reserved", "inventory", "quantity", "warehouse", "level", "levels"),
        on_hand_matches_ledger,
    ),
    Invariant(
        "numbers_without_gaps",
        "Document numbers have no gaps",
        INVOICING,
        ("number", "numbering", "gap", "sequence", "duplicate"),
        numbers_without_gaps,
    ),
    Invariant(
        "loyalty_matches_ledger",
        "A loyalty balance equals its ledger",
        ("pos", "loyalty", "points"),
        ("loyalty", "points", "balance", "redeem", "redemption", "earn", "expire", "programme"),
        loyalty_matches_ledger,
    ),
    Invariant(
        "pay_run_matches_slips",
        "A pay run's entries match its slips",
        ("payroll", "pay-runs", "payslips", "salaries"),
        ("pay", "run", "slip", "payslip", "payroll", "salary", "net", "gross", "accrual", "wages"),
        pay_run_matches_slips,
    ),
)
BY_KEY = {i.key: i for i in INVARIANTS}


def for_domain(domain: str) -> list[Invariant]:
    return [i for i in INVARIANTS if i.covers(domain)]


async def check(ctx: Ctx, domain: str, only: list[str] | None = None) -> dict[str, list[Violation]]:
    """The invariants of `domain` (or `only` those), checked: key -> its violations (empty:
    it holds)."""
    return {i.key: await i.check(ctx) for i in for_domain(domain) if only is None or i.key in only}
