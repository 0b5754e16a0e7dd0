"""Manual journal entries through the API, and the journal as a listable resource."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import Field, model_validator

from domain.accounting import journal
from domain.context import Ctx
from domain.currencies import base_currency
from domain.errors import Conflict, Invalid, not_found
from domain.fields import Amount, Day, Input, LongText, ObjectIdStr, Output, ShortText
from domain.money import precision, to_minor, to_number
from domain.resources import Resource, check_id, view

MAX = Decimal("1000000000000")


class JournalLineIn(Input):
    account_id: ObjectIdStr
    debit: Amount = Field(Decimal(0), ge=0, le=MAX, decimal_places=4)
    credit: Amount = Field(Decimal(0), ge=0, le=MAX, decimal_places=4)
    description: ShortText | None = None

    @model_validator(mode="after")
    def _one_side(self) -> JournalLineIn:
        if (self.debit > 0) == (self.credit > 0):
            raise ValueError("a line has either a debit or a credit above zero, not both")
        return self


class JournalEntryIn(Input):
    date: Day
    description: LongText
    reference: ShortText | None = None
    lines: list[JournalLineIn] = Field(min_length=2, max_length=500)


class JournalEntryOut(Output):
    id: ObjectIdStr
    number: str
    date: str
    description: str
    reference: str | None = None
    source: dict[str, str] | None = None
    manual: bool
    currency: str
    lines: list[dict[str, Any]]
    total: float
    reversal_of: str | None = None
    reversed_by: str | None = None
    created_at: str


class ReverseIn(Input):
    date: Day | None = Field(None, description="Default: the original entry's date")
    description: LongText | None = None


async def create_manual(ctx: Ctx, body: JournalEntryIn) -> dict[str, Any]:
    places = precision(await base_currency(ctx))
    draft = journal.Draft(
        date=body.date.isoformat(), description=body.description, reference=body.reference
    )
    for i, line in enumerate(body.lines):
        debit, credit = to_minor(line.debit, places), to_minor(line.credit, places)
        if not debit and not credit:
            raise Invalid(
                f"lines.{i}: the amount rounds to zero at the base currency's precision",
                code="amount_too_small",
                details=[{"field": f"lines.{i}", "message": "rounds to zero"}],
            )
        draft.lines.append(
            {
                "account_id": line.account_id,
                "debit": debit,
                "credit": credit,
                **({"description": line.description} if line.description else {}),
            }
        )
    entry = await journal.post(ctx, draft, manual=True)
    return await view(ctx, JOURNAL, entry)


async def reverse_entry(ctx: Ctx, entry_id: str, body: ReverseIn) -> dict[str, Any]:
    """Reverse a manual entry. Entries the platform posted for a document, payment or
    transfer follow that object: cancel or edit it instead, or the books and the object
    would disagree."""
    check_id(JOURNAL, entry_id)
    entry = await ctx.store.find_one("journal_entries", ctx.scope(_id=entry_id))
    if entry is None:
        raise not_found("journal entry", entry_id)
    if entry.get("source"):
        kind = entry["source"]["type"].replace("_", " ")
        raise Conflict(
            f"entry {entry['number']} was posted for a {kind}; cancel or change the {kind} instead",
            code="posted_by_source",
        )
    when = body.date.isoformat() if body.date else None
    entry = await journal.reverse(ctx, entry_id, when, body.description)
    return await view(ctx, JOURNAL, entry)


async def _with_currency(ctx: Ctx, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    code = await base_currency(ctx)
    return [{**e, "currency": code, "precision": precision(code)} for e in entries]


def present(doc: dict[str, Any]) -> dict[str, Any]:
    places = doc.pop("precision")
    return {
        **doc,
        "total": to_number(doc["total"], places),
        "lines": [
            {
                **line,
                "debit": to_number(line["debit"], places),
                "credit": to_number(line["credit"], places),
            }
            for line in doc["lines"]
        ],
    }


JOURNAL = Resource(
    name="accounting/journal",
    label="journal entry",
    collection="journal_entries",
    module="accounting",
    tag="Accounting",
    create=JournalEntryIn,
    update=JournalEntryIn,
    read=JournalEntryOut,
    search=("description", "reference", "number"),
    filters={"manual": "eq"},
    sort=("date", "number", "created_at"),
    default_sort="-date",
    date_field="date",
    operations=("list", "get"),
    present=present,
    enrich=_with_currency,
)
