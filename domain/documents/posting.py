"""The journal entries of documents, one composer per document kind.

Invoice: debit receivable (the total) and the withholding tax credit (what the customer
withheld and pays to the tax office for us); credit the category's income account (net)
and tax payable (each tax).
Bill: debit the category's expense account (net) and tax receivable (each tax, in full);
credit payable (the total, less the withholding) and withholding tax payable (what we
withheld and owe the tax office). A bill made by a purchase order debits goods received
not billed instead of the expense account (its receipts credited it).
Credit note: the invoice's entry in reverse for the credited amounts; the receivable is
cleared by what the note takes off the invoice (`cleared_base`), any difference against the
note's own base total is an exchange difference.

Withholding is never netted against VAT: VAT and withholding are two obligations, on two
returns, and the balance sheet shows both (IAS 1.32).

Foreign currency (`base_components`): the receivable or payable is the document total
converted at the document's rate and rounded once, so it is exactly what a payment of the
total at that rate brings in; each tax (VAT and withholding alike) is converted on its own;
the income or expense side is what remains, so it absorbs the rounding and every entry
balances. `total_base` on the document is that receivable.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from domain.accounting import journal
from domain.accounting.chart import system_account
from domain.context import Ctx
from domain.money import convert_minor


@dataclass(frozen=True)
class BaseAmounts:
    """A document's figures in base minor units at its rate."""

    total: int  # the receivable (payable): the total converted once
    taxes: dict[str, int]  # each tax but withholding, converted on its own
    withheld: dict[str, int]  # each withholding, as a positive amount, converted on its own
    net: int  # income (expense): what remains, so the entry balances

    def is_zero(self) -> bool:
        return not (
            self.total or self.net or any(self.taxes.values()) or any(self.withheld.values())
        )


def withholding_ids(doc: dict[str, Any]) -> set[str]:
    """The document's withholding taxes, by the types its lines carry."""
    return {
        tax["id"]
        for line in doc.get("lines", [])
        for tax in line.get("taxes", [])
        if tax.get("type") == "withholding"
    }


def base_components(doc: dict[str, Any]) -> BaseAmounts:
    rate = Decimal(doc["rate"])
    places, base_places = doc["precision"], doc["base_precision"]

    def convert(minor: int) -> int:
        return convert_minor(minor, rate, places, base_places)

    withholding = withholding_ids(doc)
    taxes: dict[str, int] = {}
    withheld: dict[str, int] = {}
    for tax in doc["taxes"]:
        # A withholding is stored as a negative tax; no other tax is ever negative.
        if tax["id"] in withholding or tax["amount"] < 0:
            withheld[tax["id"]] = withheld.get(tax["id"], 0) + convert(-tax["amount"])
        else:
            taxes[tax["id"]] = taxes.get(tax["id"], 0) + convert(tax["amount"])
    total = convert(doc["total"])
    net = total - sum(taxes.values()) + sum(withheld.values())
    return BaseAmounts(total=total, taxes=taxes, withheld=withheld, net=net)


async def category_account(ctx: Ctx, doc: dict[str, Any]) -> str:
    category = await ctx.store.find_one("categories", ctx.scope(_id=doc.get("category_id")))
    if category and category.get("ledger_account_id"):
        return category["ledger_account_id"]
    key = "sales" if doc["type"] in ("invoice", "credit_note") else "expenses"
    return (await system_account(ctx, key))["_id"]


async def net_account(ctx: Ctx, doc: dict[str, Any]) -> str:
    """A bill made by a purchase order (`order_id`) clears goods received not billed: the
    order's receipts already put its net in inventory (or the expense) against that
    account. Any other document posts its net to its category's account."""
    if doc["type"] == "bill" and doc.get("order_id"):
        return (await system_account(ctx, "received_not_billed"))["_id"]
    return await category_account(ctx, doc)


def label(doc: dict[str, Any]) -> str:
    return f"{doc['type'].replace('_', ' ').capitalize()} {doc['number']}"


async def document_draft(
    ctx: Ctx, doc: dict[str, Any], income_or_expense: str | None = None
) -> journal.Draft | None:
    """The entry the document posts under the current rules (None: it posts nothing).
    `income_or_expense` names the net side's account (default: the category's)."""
    amounts = base_components(doc)
    if amounts.is_zero():
        return None
    counter = income_or_expense or await net_account(ctx, doc)
    names = {t["id"]: t.get("name") or "" for t in doc["taxes"]}
    draft = journal.Draft(
        date=doc["issued_at"],
        description=label(doc),
        source={"type": doc["type"], "id": doc["_id"]},
        reference=doc["number"],
    )

    async def account(key: str) -> str:
        return (await system_account(ctx, key))["_id"]

    if doc["type"] == "invoice":
        draft.debit(await account("receivable"), amounts.total)
        for tax_id, amount in amounts.withheld.items():
            draft.debit(await account("withholding_receivable"), amount, names[tax_id] or None)
        draft.credit(counter, amounts.net)
        for tax_id, amount in amounts.taxes.items():
            draft.credit(await account("tax_payable"), amount, names[tax_id] or None)
    elif doc["type"] == "bill":
        draft.credit(await account("payable"), amounts.total)
        for tax_id, amount in amounts.withheld.items():
            draft.credit(await account("withholding_payable"), amount, names[tax_id] or None)
        draft.debit(counter, amounts.net)
        for tax_id, amount in amounts.taxes.items():
            draft.debit(await account("tax_receivable"), amount, names[tax_id] or None)
    elif doc["type"] == "credit_note":
        cleared = doc.get("cleared_base", amounts.total)
        draft.credit(await account("receivable"), cleared)
        for tax_id, amount in amounts.withheld.items():
            draft.credit(await account("withholding_receivable"), amount, names[tax_id] or None)
        draft.debit(counter, amounts.net)
        for tax_id, amount in amounts.taxes.items():
            draft.debit(await account("tax_payable"), amount, names[tax_id] or None)
        draft.credit(await account("fx"), amounts.total - cleared)
    else:
        raise ValueError(f"no posting for {doc['type']}")
    return draft


async def post_document(ctx: Ctx, doc: dict[str, Any]) -> dict[str, Any] | None:
    """Post the document's entry; a document of zero value posts nothing."""
    draft = await document_draft(ctx, doc)
    if draft is None:
        return None
    return await journal.post(ctx, draft)
