"""The journal entries of documents, one composer per document kind.

Invoice: debit receivable; credit the category's income account (net) and tax payable.
Bill: debit the category's expense account (net) and tax receivable; credit payable.
Credit note: the invoice's entry in reverse for the credited amounts. Amounts are converted
to the base currency component by component at the document's rate; the receivable or
payable side is their sum, so every entry balances exactly.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from domain.accounting import journal
from domain.accounting.chart import system_account
from domain.context import Ctx
from domain.money import convert_minor


def base_components(doc: dict[str, Any]) -> tuple[int, dict[str, int], int]:
    """(net, {tax id: amount}, total) in base minor units at the document's rate."""
    rate = Decimal(doc["rate"])
    places, base_places = doc["precision"], doc["base_precision"]
    net = convert_minor(doc["net"], rate, places, base_places)
    taxes = {t["id"]: convert_minor(t["amount"], rate, places, base_places) for t in doc["taxes"]}
    return net, taxes, net + sum(taxes.values())


async def _category_account(ctx: Ctx, doc: dict[str, Any]) -> str:
    category = await ctx.store.find_one("categories", ctx.scope(_id=doc["category_id"]))
    if category and category.get("ledger_account_id"):
        return category["ledger_account_id"]
    key = "sales" if doc["type"] in ("invoice", "credit_note") else "expenses"
    return (await system_account(ctx, key))["_id"]


async def post_document(ctx: Ctx, doc: dict[str, Any]) -> dict[str, Any] | None:
    """Post the document's entry; a document of zero value posts nothing."""
    net, taxes, total = base_components(doc)
    if net == 0 and not any(taxes.values()):
        return None
    category_account = await _category_account(ctx, doc)
    label = f"{doc['type'].replace('_', ' ').capitalize()} {doc['number']}"
    draft = journal.Draft(
        date=doc["issued_at"],
        description=label,
        source={"type": doc["type"], "id": doc["_id"]},
        reference=doc["number"],
    )
    if doc["type"] == "invoice":
        receivable = (await system_account(ctx, "receivable"))["_id"]
        tax_account = (await system_account(ctx, "tax_payable"))["_id"]
        draft.debit(receivable, total)
        draft.credit(category_account, net)
        for amount in taxes.values():
            draft.credit(tax_account, amount)
    elif doc["type"] == "bill":
        payable = (await system_account(ctx, "payable"))["_id"]
        tax_account = (await system_account(ctx, "tax_receivable"))["_id"]
        draft.credit(payable, total)
        draft.debit(category_account, net)
        for amount in taxes.values():
            draft.debit(tax_account, amount)
    elif doc["type"] == "credit_note":
        receivable = (await system_account(ctx, "receivable"))["_id"]
        tax_account = (await system_account(ctx, "tax_payable"))["_id"]
        cleared = doc.get("cleared_base", total)
        draft.credit(receivable, cleared)
        draft.debit(category_account, net)
        for amount in taxes.values():
            draft.debit(tax_account, amount)
        draft.credit((await system_account(ctx, "fx"))["_id"], total - cleared)
    else:
        raise ValueError(f"no posting for {doc['type']}")
    return await journal.post(ctx, draft)
