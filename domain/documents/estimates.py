"""Estimates (quotes): draft -> sent -> approved or refused. Any estimate not refused or
already converted converts to a new numbered draft invoice with the same lines; a converted
estimate is kept (the invoice refers to it) and cannot change or be deleted. Estimates
never touch the ledger."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from domain import resources
from domain.context import Ctx
from domain.documents import lines as doc_lines
from domain.documents.documents import DOCUMENTS, compose
from domain.documents.forms import ContentFields
from domain.documents.numbering import next_number
from domain.errors import Conflict, Invalid
from domain.fields import Day, Input, in_day_range
from domain.resources import Action, Hooks, InDays, Lifecycle, Ref, Resource, Server, Shown
from memory.ids import today, utcnow
from memory.store import CollectionSpec, declare

Status = Literal["draft", "sent", "approved", "refused", "converted"]
CONTENT = ("contact_id", "issued_at", "expires_at", "currency", "rate", "category_id", "lines")
DEFAULT_TERM_DAYS = 30

declare(
    CollectionSpec(
        "estimates",
        fields=(
            "company_id",
            "status",
            "number",
            "contact_id",
            "issued_at",
            "expires_at",
            "total",
            "created_at",
        ),
        unique=(("company_id", "number"),),
    )
)


class EstimateFields(ContentFields):
    expires_at: Day
    status: Annotated[Literal["draft", "sent", "approved", "refused"], Shown(Status)] = Field(
        "draft", description="Created draft or sent; then through the actions"
    )
    number: Server[str]
    invoice_id: Server[str | None] = Field(None, description="The invoice it was converted to")

    @model_validator(mode="after")
    def _dates(self) -> EstimateFields:
        if self.expires_at < self.issued_at:
            raise ValueError("expires_at must be on or after issued_at")
        return self


class ConvertIn(Input):
    issued_at: Day | None = Field(None, description="Default: today")
    due_at: Day | None = Field(None, description=f"Default: {DEFAULT_TERM_DAYS} days after issue")


async def _compose(ctx: Ctx, data: dict[str, Any]) -> dict[str, Any]:
    if str(data["expires_at"]) < str(data["issued_at"]):
        raise Invalid(
            "expires_at must be on or after issued_at",
            details=[{"field": "expires_at", "message": "before issued_at"}],
        )
    doc = await compose(ctx, "estimate", {**data, "due_at": data["expires_at"]})
    doc["expires_at"] = doc.pop("due_at")
    return doc


async def _before_create(ctx: Ctx, data: dict[str, Any]) -> dict[str, Any]:
    doc = await _compose(ctx, data)
    extras = {k: data[k] for k in ("reference", "notes") if data.get(k)}
    return {
        "type": "estimate",
        "number": await next_number(ctx, "estimate"),
        "status": data.get("status", "draft"),
        **doc,
        **extras,
    }


async def _before_update(
    ctx: Ctx, existing: dict[str, Any], changes: dict[str, Any]
) -> dict[str, Any]:
    content = {k: v for k, v in changes.items() if k in CONTENT}
    if content:
        merged = {**{k: existing[k] for k in CONTENT if k in existing}, **content}
        if "lines" not in content:
            merged["lines"] = [doc_lines.as_input(line) for line in existing["lines"]]
        changes = {**changes, **await _compose(ctx, merged)}
    return changes


async def _keep_converted(ctx: Ctx, estimate: dict[str, Any]) -> None:
    if estimate["status"] == "converted":
        raise Conflict(
            "a converted estimate is the record behind its invoice; it cannot be deleted",
            code="document_locked",
        )


def _default_due(issued: str) -> str:
    """DEFAULT_TERM_DAYS after issue, inside the accepted date range (a 400 beyond it)."""
    try:
        due = in_day_range(date.fromisoformat(issued) + timedelta(days=DEFAULT_TERM_DAYS))
    except ValueError as error:
        message = f"{error} (due_at defaults to {DEFAULT_TERM_DAYS} days after issued_at)"
        raise Invalid(
            f"due_at: {message}", details=[{"field": "due_at", "message": message}]
        ) from None
    return due.isoformat()


async def convert(ctx: Ctx, estimate: dict[str, Any], body: ConvertIn) -> dict[str, Any]:
    """Turn an estimate into a new draft invoice with the same lines (in the action's
    transaction); the estimate keeps a link to it."""
    issued = body.issued_at.isoformat() if body.issued_at else today()
    due = body.due_at.isoformat() if body.due_at else _default_due(issued)
    if due < issued:
        raise Invalid("due_at must be on or after issued_at")
    invoice = await resources.insert(
        ctx,
        DOCUMENTS,
        {
            "type": "invoice",
            "contact_id": estimate["contact_id"],
            "issued_at": issued,
            "due_at": due,
            "currency": estimate["currency"],
            "rate": estimate["rate"],
            "category_id": estimate.get("category_id"),
            "status": "draft",
            "reference": estimate["number"],
            **({"notes": estimate["notes"]} if estimate.get("notes") else {}),
            "lines": [doc_lines.as_input(line) for line in estimate["lines"]],
        },
    )
    await ctx.store.update_one(
        "estimates",
        ctx.scope(_id=estimate["_id"]),
        {"$set": {"status": "converted", "invoice_id": invoice["_id"], "updated_at": utcnow()}},
    )
    return invoice


def present(doc: dict[str, Any]) -> dict[str, Any]:
    out = doc_lines.present_amounts(doc)
    return out


ESTIMATES = Resource(
    name="estimates",
    label="estimate",
    collection="estimates",
    module="invoicing",
    tag="Estimates",
    fields=EstimateFields,
    search=("number", "contact_name", "reference"),
    filters={"status": "eq", "contact_id": "eq"},
    sort=("number", "issued_at", "expires_at", "total", "created_at"),
    default_sort="-issued_at",
    date_field="issued_at",
    hooks=Hooks(
        before_create=_before_create, before_update=_before_update, before_delete=_keep_converted
    ),
    lifecycle=Lifecycle(
        locked_code="document_locked",
        states=("draft", "sent", "approved", "refused", "converted"),
        initial=("draft", "sent"),
        editable_in=("draft", "sent", "approved", "refused"),
    ),
    actions=(
        Action("send", "Send an estimate", from_states=("draft", "refused"), to="sent"),
        Action(
            "approve", "Record an estimate's approval", from_states=("draft", "sent"), to="approved"
        ),
        Action(
            "refuse",
            "Record an estimate's refusal",
            from_states=("draft", "sent", "approved"),
            to="refused",
        ),
        Action(
            "convert",
            "Convert an estimate into an invoice",
            run=convert,
            input=ConvertIn,
            output=DOCUMENTS,
            from_states=("draft", "sent", "approved"),
            status_code=201,
            example={"issued_at": InDays(0), "due_at": InDays(30)},
            description="A new numbered draft invoice with the estimate's lines; the "
            "estimate becomes converted and refers to it.",
        ),
    ),
    present=present,
    example={
        "contact_id": Ref("contacts", type="customer"),
        "issued_at": InDays(0),
        "expires_at": InDays(30),
        "lines": [{"name": "Website redesign", "quantity": 1, "price": 4800}],
    },
)
