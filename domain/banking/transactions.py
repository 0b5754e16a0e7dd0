"""Income and expense transactions on bank and cash accounts, and payments of documents.

A transaction with a `document_id` is a payment: income against an invoice, expense against
a bill. It converts to the document's currency through the base currency at both current
rates (the payment's and the document currency's, not the document's old rate), may not
exceed what is due (409), and moves the document to partial or paid. The payment
clears the receivable (payable) at the document's own rate; a difference against the
payment's rate is an exchange gain or loss. Posting a payment to a draft document posts the
document first.

The receivable is the document total converted once at its rate, so a payment of the total
at the document's rate clears it exactly and books no exchange difference, and one at
another rate books (total x new rate) - (total x document rate), each side rounded once
(the bank's base amount and the receivable as booked). Partial payments clear their share
at the document's rate; the one that settles the document clears what is left, so any
rounding of the shares ends there, as an exchange difference of at most a unit per share.

Tax (`tax_id`, income and expense only; a payment carries its document's taxes): the amount
is what the account moved, so the tax is carved out of it as an inclusive tax of its rate
(`documents.totals`, as a document line carves one out), whether the tax is inclusive or
normal (the same rate on the net the amount includes). The entry splits as a document's does
(`posting.base_components`: the bank side the amount converted once, the tax converted on
its own, the category the rest): income credits tax payable (output tax), expense debits tax
receivable (input tax). Fixed and withholding taxes do not apply to a bank amount (400).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import Field

from domain.accounting import journal
from domain.accounting.chart import system_account
from domain.context import Ctx
from domain.currencies import base_currency, rate_of
from domain.documents.posting import base_components, post_document
from domain.documents.totals import Line, Tax, line_totals
from domain.errors import Conflict, Invalid
from domain.fields import Amount, Day, LongText, ObjectIdStr, Rate, ShortText
from domain.money import convert_minor, normalise_rate, precision, to_minor, to_number
from domain.references import referenced
from domain.resources import Declared, Hooks, Ref, Resource, Server, Shown
from memory.ids import utcnow
from memory.store import CollectionSpec, declare

TxType = Literal["income", "expense"]
MAX = Decimal("1000000000000")
PAYMENT_TYPE = {"invoice": "income", "bill": "expense"}
DEFAULT_CATEGORY = {"income": "sales", "expense": "general_expenses"}

declare(
    CollectionSpec(
        "transactions",
        fields=(
            "company_id",
            "type",
            "account_id",
            "paid_at",
            "amount",
            "amount_base",
            "category_id",
            "contact_id",
            "document_id",
            "cleared_base",
            "transfer_id",
            "created_at",
        ),
        indexes=(
            # covering for ageing at a past date: what payments after it cleared, by document
            ("company_id", "paid_at", "document_id", "cleared_base"),
            ("company_id", "account_id", "type"),
            ("company_id", "document_id"),
            ("company_id", "category_id"),
            ("company_id", "contact_id"),
            ("company_id", "type"),
            ("company_id", "amount"),
            ("company_id", "created_at"),
        ),
    )
)


class TransactionFields(Declared):
    type: Annotated[TxType | None, Shown(TxType)] = Field(
        None, description="Required unless document_id is given"
    )
    account_id: ObjectIdStr
    paid_at: Day
    amount: Amount = Field(gt=0, le=MAX, decimal_places=4)
    rate: Rate | None = Field(
        None, gt=0, le=Decimal("1000000000"), description="Base units per account-currency unit"
    )
    document_id: ObjectIdStr | None = Field(None, description="Pay this invoice or bill")
    category_id: ObjectIdStr | None = None
    contact_id: ObjectIdStr | None = None
    description: LongText | None = None
    reference: ShortText | None = None
    payment_method: ShortText | None = None
    tax_id: ObjectIdStr | None = Field(
        None,
        description="A tax carved out of the amount (gross): output tax on income, input tax "
        "on expense; not with document_id",
    )
    tax_amount: Server[float | None] = Field(None, description="The tax in the amount")
    currency: Server[str]
    amount_base: Server[float]
    base_currency: Server[str]
    applied: Server[float | None] = Field(
        None, description="A payment: what it settled, in the document's currency"
    )
    transfer_id: Server[str | None] = None


async def _before_create(ctx: Ctx, data: dict[str, Any]) -> dict[str, Any]:
    account = await referenced(ctx, "accounts", data["account_id"], "account_id", "account")
    code = account["currency"]
    base = await base_currency(ctx)
    rate = Decimal(str(data["rate"])) if data.get("rate") else await rate_of(ctx, code)
    if code == base and rate != 1:
        raise Invalid("rate: a transaction in the base currency has rate 1", code="base_rate_fixed")
    places, base_places = precision(code), precision(base)
    amount = to_minor(Decimal(str(data["amount"])), places)
    if amount <= 0:
        raise Invalid(f"amount rounds to zero at {code}'s precision", code="amount_too_small")
    tx: dict[str, Any] = {
        **data,
        "currency": code,
        "precision": places,
        "rate": str(normalise_rate(rate)),
        "amount": amount,
        "amount_base": convert_minor(amount, rate, places, base_places),
        "base_currency": base,
        "base_precision": base_places,
        "ledger_account_id": account["ledger_account_id"],
    }
    if data.get("document_id"):
        if data.get("tax_id"):
            raise Invalid(
                "tax_id: a payment carries its document's taxes",
                details=[{"field": "tax_id", "message": "not with document_id"}],
            )
        return await _payment(ctx, tx)
    if not data.get("type"):
        raise Invalid(
            "type: income or expense is required without a document_id",
            details=[{"field": "type", "message": "required"}],
        )
    if data.get("category_id"):
        await referenced(
            ctx, "categories", data["category_id"], "category_id", "category", type=data["type"]
        )
    else:
        category = await ctx.store.find_one(
            "categories", ctx.scope(system=DEFAULT_CATEGORY[data["type"]])
        )
        tx["category_id"] = category["_id"] if category else None
    if data.get("contact_id"):
        await referenced(ctx, "contacts", data["contact_id"], "contact_id", "contact")
    if data.get("tax_id"):
        tax = await bank_tax(ctx, data["tax_id"], "tax_id")
        tx["tax_amount"] = tax_in(amount, tax, places)
        tx["tax_name"] = tax["name"]
    return tx


BANK_TAX_TYPES = ("normal", "inclusive", "compound")


async def bank_tax(ctx: Ctx, tax_id: Any, field: str) -> dict[str, Any]:
    """A tax that can be carved out of a bank amount: this company's, enabled, a rate (a
    fixed or withholding tax is a 400 naming `field`)."""
    return await referenced(ctx, "taxes", tax_id, field, "tax", type=BANK_TAX_TYPES)


def tax_in(gross: int, tax: dict[str, Any], places: int) -> int:
    """The tax included in `gross` (minor units) at the tax's rate, rounded as a document
    line with that inclusive tax rounds it."""
    line = Line(
        quantity=Decimal(1),
        price=Decimal(gross).scaleb(-places),
        taxes=(Tax(tax["_id"], "inclusive", Decimal(str(tax["rate"]))),),
    )
    return line_totals(line, places).taxes[tax["_id"]]


async def _payment(ctx: Ctx, tx: dict[str, Any]) -> dict[str, Any]:
    doc = await referenced(ctx, "documents", tx["document_id"], "document_id", "document")
    expected = PAYMENT_TYPE[doc["type"]]
    if tx.get("type") and tx["type"] != expected:
        raise Invalid(
            f"type: a payment of a {doc['type']} is {expected}",
            details=[{"field": "type", "message": f"must be {expected}"}],
        )
    if doc["status"] == "cancelled":
        raise Conflict(
            f"{doc['number']} is cancelled and takes no payments", code="document_cancelled"
        )
    if doc["currency"] == tx["currency"]:
        applied = tx["amount"]
    else:
        # Today's rates on both sides: the document's own rate is history, and only decides
        # how much receivable (payable) the payment clears.
        cross = Decimal(tx["rate"]) / await rate_of(ctx, doc["currency"], "document_id")
        applied = convert_minor(tx["amount"], cross, tx["precision"], doc["precision"])
    if applied <= 0:
        # else it would settle nothing, yet mark the document partial and book it all as FX
        raise Invalid(
            f"the payment rounds to zero in {doc['currency']}, the currency of {doc['number']}",
            code="amount_too_small",
        )
    if applied > doc["due"]:
        due = to_number(doc["due"], doc["precision"])
        raise Conflict(
            f"the payment exceeds what is due on {doc['number']}: {due} {doc['currency']}",
            code="overpayment",
            details=[{"due": due, "currency": doc["currency"]}],
        )
    cleared = cleared_base(doc, applied)
    return {
        **tx,
        "type": expected,
        "contact_id": doc["contact_id"],
        "category_id": doc.get("category_id"),
        "applied": applied,
        "document_precision": doc["precision"],
        "cleared_base": cleared,
    }


def cleared_base(doc: dict[str, Any], applied: int) -> int:
    """What settling `applied` (the document's currency) of `doc` clears of its receivable
    (payable), in base units: the rest of it when the payment settles the document, else
    `applied` at the document's own rate, never more than is left. The receivable is the
    total converted once (`posting.base_components`), so one payment of the total clears
    exactly what was booked."""
    if applied == doc["due"]:
        return doc["due_base"]
    rate = Decimal(doc["rate"])
    return min(
        doc["due_base"], convert_minor(applied, rate, doc["precision"], doc["base_precision"])
    )


def _draft(tx: dict[str, Any]) -> journal.Draft:
    return journal.Draft(
        date=tx["paid_at"],
        description=tx.get("description")
        or f"{tx['type'].capitalize()} {to_number(tx['amount'], tx['precision'])} {tx['currency']}",
        source={"type": "transaction", "id": tx["_id"]},
        reference=tx.get("reference"),
    )


async def payment_draft(ctx: Ctx, tx: dict[str, Any], doc_type: str) -> journal.Draft:
    """A payment's entry: the bank at the payment's rate, the receivable (payable) cleared
    at the document's, the difference a realised exchange gain or loss."""
    draft = _draft(tx)
    bank = tx["ledger_account_id"]
    fx = (await system_account(ctx, "fx"))["_id"]
    gain = tx["amount_base"] - tx["cleared_base"]
    if doc_type == "invoice":
        receivable = (await system_account(ctx, "receivable"))["_id"]
        draft.debit(bank, tx["amount_base"]).credit(receivable, tx["cleared_base"])
        draft.credit(fx, gain)
    else:
        payable = (await system_account(ctx, "payable"))["_id"]
        draft.credit(bank, tx["amount_base"]).debit(payable, tx["cleared_base"])
        draft.debit(fx, gain)
    return draft


async def _after_create(ctx: Ctx, tx: dict[str, Any]) -> None:
    if tx.get("document_id"):
        await _settle(ctx, tx)
        return
    draft = _draft(tx)
    bank = tx["ledger_account_id"]
    category = await ctx.store.find_one("categories", ctx.scope(_id=tx["category_id"]))
    key = "sales" if tx["type"] == "income" else "expenses"
    counter = (category or {}).get("ledger_account_id") or (await system_account(ctx, key))["_id"]
    net, tax = tx["amount_base"], 0
    if tx.get("tax_id"):
        # split as a document of the same total and tax would be (one conversion each)
        amounts = base_components(
            {
                "rate": tx["rate"],
                "precision": tx["precision"],
                "base_precision": tx["base_precision"],
                "total": tx["amount"],
                "taxes": [{"id": tx["tax_id"], "amount": tx["tax_amount"]}],
            }
        )
        net, tax = amounts.net, amounts.taxes[tx["tax_id"]]
    name = tx.get("tax_name")
    if tx["type"] == "income":
        draft.debit(bank, tx["amount_base"]).credit(counter, net)
        if tax:
            draft.credit((await system_account(ctx, "tax_payable"))["_id"], tax, name)
    else:
        draft.debit(counter, net).credit(bank, tx["amount_base"])
        if tax:
            draft.debit((await system_account(ctx, "tax_receivable"))["_id"], tax, name)
    await journal.post(ctx, draft)


async def _settle(ctx: Ctx, tx: dict[str, Any]) -> None:
    doc = await ctx.store.find_one("documents", ctx.scope(_id=tx["document_id"]))
    assert doc is not None
    if doc["status"] == "draft":
        await post_document(ctx, doc)
    await journal.post(ctx, await payment_draft(ctx, tx, doc["type"]))
    due = doc["due"] - tx["applied"]
    await ctx.store.update_one(
        "documents",
        ctx.scope(_id=doc["_id"]),
        {
            "$inc": {"paid": tx["applied"], "due": -tx["applied"], "due_base": -tx["cleared_base"]},
            "$set": {"status": "paid" if due == 0 else "partial", "updated_at": utcnow()},
        },
    )


def present(doc: dict[str, Any]) -> dict[str, Any]:
    out = {
        **doc,
        "amount": to_number(doc["amount"], doc["precision"]),
        "amount_base": to_number(doc["amount_base"], doc["base_precision"]),
        "rate": float(doc["rate"]),
    }
    if "applied" in out:
        out["applied"] = to_number(doc["applied"], doc.get("document_precision", doc["precision"]))
    if out.get("tax_amount") is not None:
        out["tax_amount"] = to_number(doc["tax_amount"], doc["precision"])
    for key in (
        "tax_name",
        "precision",
        "base_precision",
        "cleared_base",
        "ledger_account_id",
        "document_precision",
    ):
        out.pop(key, None)
    return out


TRANSACTIONS = Resource(
    name="transactions",
    label="transaction",
    collection="transactions",
    module="accounting",
    tag="Transactions",
    fields=TransactionFields,
    search=("description", "reference"),
    filters={
        "type": "eq",
        "account_id": "eq",
        "document_id": "eq",
        "contact_id": "eq",
        "category_id": "eq",
    },
    sort=("paid_at", "amount", "created_at"),
    default_sort="-paid_at",
    date_field="paid_at",
    operations=("list", "create", "get"),
    hooks=Hooks(before_create=_before_create, after_create=_after_create),
    present=present,
    example={
        "type": "expense",
        "account_id": Ref("accounts"),
        "paid_at": "2026-11-20",
        "amount": 89.5,
        "description": "Office supplies",
    },
)


async def undo(ctx: Ctx, tx: dict[str, Any], description: str, status_before: str = "sent") -> None:
    """Take back a transaction recorded by mistake (a bank line reconciled to the wrong
    invoice): its entries are reversed on their own date, so the ledger agrees with the
    balances derived from transactions at every date; a payment gives its document back what
    it settled (the document reads `status_before` when nothing else settles it, else
    partial); then the record goes. Inside the caller's transaction."""
    await journal.reverse_source(ctx, tx["_id"], None, description)
    if tx.get("document_id"):
        doc = await ctx.store.find_one("documents", ctx.scope(_id=tx["document_id"]))
        assert doc is not None
        settled = doc["paid"] - tx["applied"] + doc.get("credited", 0)
        await ctx.store.update_one(
            "documents",
            ctx.scope(_id=doc["_id"]),
            {
                "$inc": {
                    "paid": -tx["applied"],
                    "due": tx["applied"],
                    "due_base": tx["cleared_base"],
                },
                "$set": {
                    "status": status_before if settled == 0 else "partial",
                    "updated_at": utcnow(),
                },
            },
        )
    await ctx.store.delete_many("transactions", ctx.scope(_id=tx["_id"]))
