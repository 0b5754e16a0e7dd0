"""Credit notes against an invoice: at most what the invoice still has open (409 beyond),
reducing what the customer owes. Posted at once, at the invoice's currency and rate.

In the base currency a note is converted as a document is (`posting.base_components`: its
total once, each tax on its own, income absorbing the rounding), and it clears that much of
the invoice's receivable (`cleared_base`), or all that is left when it settles the invoice;
the difference, a rounding left by earlier partial settlements, is an exchange difference."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from pydantic import Field, model_validator

from domain.context import Ctx
from domain.documents import lines as doc_lines
from domain.documents.numbering import next_number
from domain.documents.posting import base_components, post_document
from domain.errors import Conflict
from domain.fields import Amount, Day, LongText, ObjectIdStr
from domain.money import to_number
from domain.references import referenced
from domain.resources import Declared, Hooks, InDays, Ref, Resource, Server, Shown, WriteOnly
from memory.ids import utcnow
from memory.store import CollectionSpec, declare

declare(
    CollectionSpec(
        "credit_notes",
        fields=("company_id", "document_id", "contact_id", "number", "issued_at", "created_at"),
        unique=(("company_id", "number"),),
    )
)
CREDITABLE = ("sent", "viewed", "partial", "draft")


class CreditNoteFields(Declared):
    document_id: ObjectIdStr = Field(description="The invoice credited")
    issued_at: Day
    amount: WriteOnly[Amount | None] = Field(
        None,
        gt=0,
        le=Decimal("1000000000000"),
        decimal_places=4,
        description="A plain credit without lines (no tax)",
    )
    lines: Annotated[list[doc_lines.LineIn] | None, Shown(list[doc_lines.LineOut])] = Field(
        None, min_length=1, max_length=500
    )
    reason: LongText | None = None
    number: Server[str]
    document_number: Server[str]
    contact_id: Server[str]
    currency: Server[str]
    rate: Server[float]
    subtotal: Server[float]
    discount: Server[float]
    net: Server[float]
    tax: Server[float]
    total: Server[float]
    taxes: Server[list[doc_lines.TaxTotalOut]]

    @model_validator(mode="after")
    def _amount_or_lines(self) -> CreditNoteFields:
        if (self.amount is None) == (self.lines is None):
            raise ValueError("send either amount or lines")
        return self


async def _before_create(ctx: Ctx, data: dict[str, Any]) -> dict[str, Any]:
    invoice = await referenced(
        ctx, "documents", data["document_id"], "document_id", "invoice", type="invoice"
    )
    if invoice["status"] not in CREDITABLE:
        raise Conflict(f"a {invoice['status']} invoice cannot be credited", code="not_creditable")
    lines = data.get("lines") or [
        {"name": f"Credit for {invoice['number']}", "price": str(data["amount"]), "tax_ids": []}
    ]
    stored, totals = await doc_lines.build_lines(ctx, lines, invoice["precision"])
    if totals.total > invoice["due"]:
        open_ = to_number(invoice["due"], invoice["precision"])
        raise Conflict(
            f"the credit exceeds what {invoice['number']} has open: {open_} {invoice['currency']}",
            code="over_credit",
            details=[{"open": open_, "currency": invoice["currency"]}],
        )
    note = {
        "type": "credit_note",
        "number": await next_number(ctx, "credit_note"),
        "document_id": invoice["_id"],
        "document_number": invoice["number"],
        "contact_id": invoice["contact_id"],
        "category_id": invoice.get("category_id"),
        "issued_at": str(data["issued_at"]),
        "currency": invoice["currency"],
        "precision": invoice["precision"],
        "rate": invoice["rate"],
        "base_currency": invoice["base_currency"],
        "base_precision": invoice["base_precision"],
        "lines": stored,
        **doc_lines.totals_fields(totals, doc_lines.tax_names(stored)),
        **({"reason": data["reason"]} if data.get("reason") else {}),
    }
    note["total_base"] = base_components(note).total
    note["cleared_base"] = cleared_base(invoice, totals.total, note["total_base"])
    return note


def cleared_base(invoice: dict[str, Any], credited: int, total_base: int) -> int:
    """What a credit of `credited` (the invoice's currency) takes off its receivable: the
    rest of it when the credit settles the invoice, else the credit at the invoice's rate
    (the note's own base total, converted once), never more than is left."""
    if credited == invoice["due"]:
        return invoice["due_base"]
    return min(invoice["due_base"], total_base)


async def _after_create(ctx: Ctx, note: dict[str, Any]) -> None:
    invoice = await ctx.store.find_one("documents", ctx.scope(_id=note["document_id"]))
    assert invoice is not None
    if invoice["status"] == "draft":
        await post_document(ctx, invoice)
    await post_document(ctx, note)
    await ctx.store.update_one(
        "documents",
        ctx.scope(_id=invoice["_id"]),
        {
            "$inc": {
                "credited": note["total"],
                "due": -note["total"],
                "due_base": -note["cleared_base"],
            },
            "$set": {
                "status": _status_after_credit(invoice, note["total"]),
                "updated_at": utcnow(),
            },
        },
    )


def _status_after_credit(invoice: dict[str, Any], credited: int) -> str:
    if invoice["due"] == credited:
        return "paid"
    if invoice["paid"]:
        return "partial"
    return "sent" if invoice["status"] == "draft" else invoice["status"]


def present(doc: dict[str, Any]) -> dict[str, Any]:
    return doc_lines.present_amounts(doc)


CREDIT_NOTES = Resource(
    name="credit-notes",
    label="credit note",
    collection="credit_notes",
    module="invoicing",
    tag="Credit Notes",
    fields=CreditNoteFields,
    search=("number", "document_number", "reason"),
    filters={"document_id": "eq", "contact_id": "eq"},
    sort=("number", "issued_at", "created_at"),
    default_sort="-issued_at",
    date_field="issued_at",
    operations=("list", "create", "get"),
    hooks=Hooks(before_create=_before_create, after_create=_after_create),
    present=present,
    example={
        "document_id": Ref("documents", status="sent"),
        "issued_at": InDays(0),
        "amount": 100,
        "reason": "Goodwill credit for a late delivery",
    },
)
