"""Turning a feed line into the books: a payment of an invoice or bill, or income and
expense transactions by category, each through `domain/banking/transactions.py` (so the
document's paid and due, its status and the ledger move exactly as for any payment); and
undoing either (`transactions.undo`: entries reversed on their own date, the document given
back what it was paid).

A tax on a categorisation (the line's, or a split's) is the transaction's `tax_id`: the
transaction carves it out of its (gross) amount and posts it, and undo reverses that entry
whole, so the split is never computed twice.

A line is reconciled at most once: the move to `reconciled` is a conditional update on the
line's open states inside the action's transaction, so of two concurrent accepts one wins
and the other is a 409.
"""

from __future__ import annotations

from typing import Any

from domain.bankfeeds.rules import allocate
from domain.banking import transactions
from domain.banking.transactions import TRANSACTIONS
from domain.context import Ctx
from domain.errors import Conflict, Invalid
from domain.money import from_minor
from domain.references import referenced
from domain.resources import insert
from memory.ids import utcnow

COLLECTION = "bank_feed_lines"
OPEN_STATES = ("new", "suggested", "categorised")


async def claim(ctx: Ctx, line: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """Move an open line to reconciled with `changes`, or 409 when another request did."""
    if line.get("pending"):
        raise Conflict(
            "this line is still pending at the bank; it can be reconciled once it posts",
            code="line_pending",
        )
    moved = await ctx.store.update_one(
        COLLECTION,
        ctx.scope(_id=line["_id"], status={"$in": list(OPEN_STATES)}),
        {
            "$set": {
                **changes,
                "status": "reconciled",
                "reconciled_at": utcnow(),
                "updated_at": utcnow(),
            }
        },
    )
    if moved is None:
        raise Conflict("this line is already reconciled or ignored", code="already_reconciled")
    return moved


def _base(line: dict[str, Any]) -> dict[str, Any]:
    return {
        "account_id": line["account_id"],
        "paid_at": line["date"],
        "description": line["description"][:5000],
        "reference": (line.get("reference") or "")[:200] or None,
    }


async def pay(ctx: Ctx, line: dict[str, Any], document_id: str) -> dict[str, Any]:
    """Record the line as a payment of the document (money in pays an invoice, out a bill)."""
    doc = await referenced(ctx, "documents", document_id, "document_id", "document")
    expected = "invoice" if line["amount"] > 0 else "bill"
    if doc["type"] != expected:
        raise Invalid(
            f"document_id: money {'in' if expected == 'invoice' else 'out'} pays an {expected}, "
            f"and {doc['number']} is a {doc['type']}",
            code="wrong_document_type",
            details=[{"field": "document_id", "message": f"must be an {expected}"}],
        )
    if doc["currency"] != line["currency"]:
        raise Invalid(
            f"document_id: {doc['number']} is in {doc['currency']} and the line in "
            f"{line['currency']}; record a payment in another currency as a transaction",
            code="currency_mismatch",
            details=[{"field": "document_id", "message": "another currency"}],
        )
    data = {
        **_base(line),
        "amount": str(from_minor(abs(line["amount"]), line["precision"])),
        "document_id": doc["_id"],
    }
    tx = await insert(ctx, TRANSACTIONS, {k: v for k, v in data.items() if v is not None})
    return await claim(
        ctx,
        line,
        {
            "transaction_ids": [tx["_id"]],
            "document_id": doc["_id"],
            "document_status_before": doc["status"],
            "categorisation": line.get("categorisation"),
        },
    )


async def categorise(
    ctx: Ctx,
    line: dict[str, Any],
    category_id: str | None,
    contact_id: str | None,
    splits: list[dict[str, Any]],
    rule_id: str | None = None,
    tax_id: str | None = None,
) -> dict[str, Any]:
    """Record the line as income (money in) or expense (out): one transaction, or one per
    split (fixed amounts first, then percentages of the rest). `claim` last, so a refused
    transaction leaves the line open."""
    ids = await record(ctx, line, category_id, contact_id, splits, tax_id)
    return await claim(ctx, line, {"transaction_ids": ids, "categorised_by": rule_id})


Part = tuple[int, str | None, str | None, str | None]  # minor units, category, description, tax


async def plan(
    ctx: Ctx,
    line: dict[str, Any],
    category_id: str | None,
    contact_id: str | None,
    splits: list[dict[str, Any]],
    tax_id: str | None = None,
) -> list[Part]:
    """What recording the line would write, checked before anything is written: the split
    (fixed amounts first, then percentages of the rest), each category of the line's kind
    and each tax (a split's, else `tax_id`), the contact."""
    kind = "income" if line["amount"] > 0 else "expense"
    total = abs(line["amount"])
    parts = allocate(total, splits, line["precision"]) if splits else [total]
    chosen = splits or [{}]
    out: list[Part] = []
    for i, (part, split) in enumerate(zip(parts, chosen, strict=True)):
        category = split.get("category_id") or category_id
        if category:
            field = f"splits.{i}.category_id" if splits else "category_id"
            await referenced(ctx, "categories", category, field, "category", type=kind)
        tax = split.get("tax_id") or tax_id
        if tax:
            await transactions.bank_tax(ctx, tax, f"splits.{i}.tax_id" if splits else "tax_id")
        if part:
            out.append((part, category, split.get("description"), tax))
    if contact_id:
        await referenced(ctx, "contacts", contact_id, "contact_id", "contact")
    return out


async def record(
    ctx: Ctx,
    line: dict[str, Any],
    category_id: str | None,
    contact_id: str | None,
    splits: list[dict[str, Any]],
    tax_id: str | None = None,
) -> list[str]:
    """The line's income or expense transactions (one per part of `plan`); their ids."""
    parts = await plan(ctx, line, category_id, contact_id, splits, tax_id)
    return await write(ctx, line, parts, contact_id)


async def write(
    ctx: Ctx, line: dict[str, Any], parts: list[Part], contact_id: str | None
) -> list[str]:
    kind = "income" if line["amount"] > 0 else "expense"
    ids: list[str] = []
    for part, category, description, tax in parts:
        data = {
            **_base(line),
            "type": kind,
            "amount": str(from_minor(part, line["precision"])),
            "category_id": category,
            "contact_id": contact_id,
            "tax_id": tax,
        }
        if description:
            data["description"] = description
        tx = await insert(ctx, TRANSACTIONS, {k: v for k, v in data.items() if v is not None})
        ids.append(tx["_id"])
    return ids


async def undo(ctx: Ctx, line: dict[str, Any]) -> None:
    """Take back what reconciling the line recorded."""
    before = line.get("document_status_before") or "sent"
    for tx_id in line.get("transaction_ids") or []:
        tx = await ctx.store.find_one("transactions", ctx.scope(_id=tx_id))
        if tx is not None:
            await transactions.undo(
                ctx, tx, f"Undo: bank line {line['date']} {line['description'][:80]}", before
            )
