"""Estimates (quotes): draft -> sent -> approved or refused. Any estimate not refused or
already converted converts to a new numbered draft invoice with the same lines; a converted
estimate is kept (the invoice refers to it) and cannot change or be deleted. Estimates
never touch the ledger."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from pydantic import Field, model_validator

from domain import resources
from domain.context import Ctx
from domain.documents import lines as doc_lines
from domain.documents.documents import DOCUMENTS, compose
from domain.documents.forms import ContentIn, ContentUpdate
from domain.documents.numbering import next_number
from domain.errors import Conflict, Invalid
from domain.fields import Day, Input, ObjectIdStr, Output, in_day_range
from domain.resources import Hooks, Resource
from memory.ids import utcnow
from memory.store import CollectionSpec, declare

Status = Literal["draft", "sent", "approved", "refused", "converted"]
TRANSITIONS: dict[str, frozenset[str]] = {
    "draft": frozenset({"sent", "approved", "refused"}),
    "sent": frozenset({"approved", "refused"}),
    "approved": frozenset({"refused"}),
    "refused": frozenset({"sent"}),
    "converted": frozenset(),
}
CONTENT = ("contact_id", "issued_at", "expires_at", "currency", "rate", "category_id", "lines")
DEFAULT_TERM_DAYS = 30

declare(
    CollectionSpec(
        "estimates",
        fields=("company_id", "status", "number", "contact_id", "issued_at", "created_at"),
        unique=(("company_id", "number"),),
    )
)


class EstimateCreate(ContentIn):
    expires_at: Day

    @model_validator(mode="after")
    def _dates(self) -> EstimateCreate:
        if self.expires_at < self.issued_at:
            raise ValueError("expires_at must be on or after issued_at")
        return self


class EstimateUpdate(ContentUpdate):
    expires_at: Day = None  # type: ignore[assignment]
    status: Literal["sent", "approved", "refused"] = None  # type: ignore[assignment]


class EstimateOut(Output):
    id: ObjectIdStr
    number: str
    status: Status
    contact_id: str
    contact_name: str
    issued_at: str
    expires_at: str
    currency: str
    lines: list[dict[str, Any]]
    subtotal: float
    discount: float
    tax: float
    total: float
    invoice_id: str | None = None
    created_at: str
    updated_at: str


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
    status = existing["status"]
    if status == "converted":
        raise Conflict("a converted estimate cannot change", code="document_locked")
    target = changes.get("status")
    if target and target != status and target not in TRANSITIONS[status]:
        raise Conflict(f"a {status} estimate cannot become {target}", code="invalid_transition")
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


async def convert(
    ctx: Ctx, estimate_id: str, issued_at: str | None, due_at: str | None
) -> dict[str, Any]:
    """Turn an estimate into a new draft invoice with the same lines, atomically."""
    today = datetime.now(UTC).date()
    issued = issued_at or today.isoformat()
    due = due_at or _default_due(issued)
    if due < issued:
        raise Invalid("due_at must be on or after issued_at")
    async with ctx.store.transaction():
        estimate = await resources.fetch(ctx, ESTIMATES, estimate_id)
        if estimate["status"] in ("converted", "refused"):
            raise Conflict(
                f"a {estimate['status']} estimate cannot be converted", code="invalid_transition"
            )
        invoice = await resources.create_document(
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
            ctx.scope(_id=estimate_id),
            {"$set": {"status": "converted", "invoice_id": invoice["id"], "updated_at": utcnow()}},
        )
    return invoice


def present(doc: dict[str, Any]) -> dict[str, Any]:
    out = doc_lines.present_amounts(doc)
    for key in ("precision", "base_precision", "total_base"):
        out.pop(key, None)
    return out


ESTIMATES = Resource(
    name="estimates",
    label="estimate",
    collection="estimates",
    module="invoicing",
    tag="Estimates",
    create=EstimateCreate,
    update=EstimateUpdate,
    read=EstimateOut,
    search=("number", "contact_name", "reference"),
    filters={"status": "eq", "contact_id": "eq"},
    sort=("number", "issued_at", "expires_at", "total", "created_at"),
    default_sort="-issued_at",
    date_field="issued_at",
    hooks=Hooks(
        before_create=_before_create, before_update=_before_update, before_delete=_keep_converted
    ),
    present=present,
)
