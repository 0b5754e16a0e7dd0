"""Manual journal entries through the API, and the journal as a listable resource."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from pydantic import Field, model_validator

from domain.accounting import journal
from domain.context import Ctx
from domain.currencies import base_currency
from domain.errors import Conflict, Invalid
from domain.fields import Amount, Day, Input, LongText, ObjectIdStr, Output, ShortText
from domain.money import precision, to_minor, to_number
from domain.resources import Action, Declared, Hooks, Ref, Resource, Server, Shown

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


class JournalLineOut(Output):
    account_id: str
    debit: float
    credit: float
    description: str | None = None


class JournalEntryFields(Declared):
    date: Day
    description: LongText
    reference: ShortText | None = None
    lines: Annotated[list[JournalLineIn], Shown(list[JournalLineOut])] = Field(
        min_length=2, max_length=500
    )
    number: Server[str]
    source: Server[dict[str, str] | None] = Field(
        None, description="The document, payment or transfer the platform posted it for"
    )
    manual: Server[bool]
    currency: Server[str]
    total: Server[float]
    reversal_of: Server[str | None] = None
    reversed_by: Server[str | None] = None


class ReverseIn(Input):
    date: Day | None = Field(None, description="Default: the original entry's date")
    description: LongText | None = None


async def _post_manual(ctx: Ctx, data: dict[str, Any]) -> dict[str, Any]:
    places = precision(await base_currency(ctx))
    draft = journal.Draft(
        date=str(data["date"]), description=data["description"], reference=data.get("reference")
    )
    for i, line in enumerate(data["lines"]):
        debit = to_minor(Decimal(str(line.get("debit", 0))), places)
        credit = to_minor(Decimal(str(line.get("credit", 0))), places)
        if not debit and not credit:
            raise Invalid(
                f"lines.{i}: the amount rounds to zero at the base currency's precision",
                code="amount_too_small",
                details=[{"field": f"lines.{i}", "message": "rounds to zero"}],
            )
        draft.lines.append(
            {
                "account_id": line["account_id"],
                "debit": debit,
                "credit": credit,
                **({"description": line["description"]} if line.get("description") else {}),
            }
        )
    return await journal.post(ctx, draft, manual=True)


async def _reverse(ctx: Ctx, entry: dict[str, Any], body: ReverseIn) -> dict[str, Any]:
    """Reverse a manual entry. Entries the platform posted for a document, payment or
    transfer follow that object: cancel or edit it instead, or the books and the object
    would disagree."""
    if entry.get("source"):
        kind = entry["source"]["type"].replace("_", " ")
        raise Conflict(
            f"entry {entry['number']} was posted for a {kind}; cancel or change the {kind} instead",
            code="posted_by_source",
        )
    when = body.date.isoformat() if body.date else None
    return await journal.reverse(ctx, entry["_id"], when, body.description)


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
    fields=JournalEntryFields,
    search=("description", "reference", "number"),
    filters={"manual": "eq"},
    sort=("date", "number", "created_at"),
    default_sort="-date",
    date_field="date",
    operations=("list", "create", "get"),
    hooks=Hooks(insert=_post_manual),
    actions=(
        Action(
            "reverse",
            "Reverse a posted journal entry",
            run=_reverse,
            input=ReverseIn,
            status_code=201,
            example={"date": "2026-11-30", "description": "Reversal of a wrong accrual"},
        ),
    ),
    present=present,
    enrich=_with_currency,
    example={
        "date": "2026-11-30",
        "description": "Accrued consulting fees",
        "lines": [
            {"account_id": Ref("accounting/chart-of-accounts"), "debit": 150},
            {"account_id": Ref("accounting/chart-of-accounts"), "credit": 150},
        ],
    },
)
