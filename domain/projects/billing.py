"""Invoicing a project (`POST /api/projects/{id}/invoice`).

An hourly project invoices its time: billable, approved, uninvoiced entries in a range become
one draft invoice to the project's customer, its lines grouped by task, by person or one per
entry (each group split by rate, so a line is hours x one rate). The entries are marked
invoiced with the invoice's id and number inside the same transaction, so invoicing them
twice is impossible (a second run finds nothing left to invoice).

A fixed-fee project invoices milestones instead: the milestones named, or by default every
uninvoiced one due by `to_date` (all of them without it; one without a due date only then,
or when named), one line each, on one draft invoice; the project records each milestone's invoice. A
non-billable project invoices nothing (409).

Cancelling (or deleting) the invoice releases what it billed, in the same transaction (a
`Reaction` to the documents area): its entries are approved and unbilled again, its
milestones uninvoiced, ready for the next invoice.

Lines are hours x rate rounded once per line; an entry's own amount is rounded on its own,
so a line can differ from the sum of its entries by at most half a cent per entry. The
invoice's figures are the ones billed.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import Field

from domain import resources
from domain.context import Ctx
from domain.documents.documents import DOCUMENTS
from domain.errors import Conflict, Invalid
from domain.fields import Day, Input, Name, Output, in_day_range
from domain.money import from_minor, precision, to_number
from domain.resources import Reaction
from memory.ids import utcnow

DEFAULT_TERM_DAYS = 30
BILLABLE_STATES = ("active", "on_hold", "completed")
InvoiceOut = DOCUMENTS.read


class InvoiceTimeIn(Input):
    from_date: Day | None = Field(None, description="First day of time to invoice (default: all)")
    to_date: Day | None = Field(None, description="Last day of time to invoice (default: all)")
    group_by: Literal["task", "person", "entry"] = "task"
    issued_at: Day | None = Field(None, description="Default: today")
    due_at: Day | None = Field(None, description=f"Default: {DEFAULT_TERM_DAYS} days after issue")
    milestones: list[Name] | None = Field(
        None,
        max_length=100,
        description="Fixed-fee projects: the milestones to invoice (default: those due by to_date)",
    )


class InvoiceTimeOut(Output):
    invoice: InvoiceOut | None = Field(  # type: ignore[valid-type]
        None, description="The draft invoice made, or null when there was nothing to invoice"
    )
    entries: int
    hours: float
    amount: float
    milestones: list[str] = Field(default_factory=list, description="Milestones invoiced")


async def release(ctx: Ctx, invoice: dict[str, Any], previous: str) -> None:
    """What the cancelled or deleted `invoice` billed is unbilled again."""
    if invoice.get("type", "invoice") != "invoice":
        return
    await ctx.store.update_many(
        "time_entries",
        ctx.scope(status="invoiced", invoice_id=invoice["_id"]),
        {
            "$set": {"status": "approved", "updated_at": utcnow()},
            "$unset": {"invoice_id": "", "invoice_number": ""},
        },
    )
    # Fixed-fee projects are few in a company; their marks are a map, not an index.
    for project in await ctx.store.find("projects", ctx.scope(billing_method="fixed_fee")):
        marks = project.get("milestone_invoices") or {}
        kept = {name: m for name, m in marks.items() if m["invoice_id"] != invoice["_id"]}
        if kept != marks:
            await ctx.store.update_one(
                "projects",
                ctx.scope(_id=project["_id"]),
                {"$set": {"milestone_invoices": kept, "updated_at": utcnow()}},
            )


RELEASE_ON_CANCEL = Reaction(
    "documents", "cancelled", release, "A cancelled invoice's time and milestones are unbilled"
)
RELEASE_ON_DELETE = Reaction(
    "documents", "deleted", release, "A deleted invoice's time and milestones are unbilled"
)


def _dates(body: InvoiceTimeIn) -> tuple[str, str]:
    issued = body.issued_at or datetime.now(UTC).date()
    if body.due_at is not None:
        due = body.due_at
    else:
        try:
            due = in_day_range(issued + timedelta(days=DEFAULT_TERM_DAYS))
        except ValueError as error:
            raise Invalid(f"due_at: {error}", details=[{"field": "due_at"}]) from None
    if due < issued:
        raise Invalid(
            "due_at must be on or after issued_at",
            details=[{"field": "due_at", "message": "before issued_at"}],
        )
    return issued.isoformat(), due.isoformat()


async def _names(ctx: Ctx, collection: str, ids: set[str]) -> dict[str, str]:
    if not ids:
        return {}
    docs = await ctx.store.find(collection, ctx.scope(_id={"$in": sorted(ids)}))
    return {d["_id"]: d["name"] for d in docs}


def _lines(
    entries: list[dict[str, Any]],
    group_by: str,
    tasks: dict[str, str],
    people: dict[str, str],
    period: str,
) -> list[dict[str, Any]]:
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for entry in entries:
        key = {
            "task": entry.get("task_id") or "",
            "person": entry["person_id"],
            "entry": entry["_id"],
        }[group_by]
        groups.setdefault((key, entry["rate"]), []).append(entry)
    lines = []
    for (_key, rate), group in groups.items():
        first = group[0]
        task = tasks.get(first.get("task_id") or "", "Time")
        person = people.get(first["person_id"], "")
        if group_by == "task":
            name, description = task, f"{len(group)} entries, {period}"
        elif group_by == "person":
            name, description = person, f"{len(group)} entries, {period}"
        else:
            name = f"{first['date']} {task}"
            description = " - ".join(x for x in (person, first.get("notes")) if x)
        hours = from_minor(sum(e["hours_c"] for e in group), 2)
        lines.append(
            {
                "name": name[:200],
                "description": description[:5000] or None,
                "quantity": str(hours),
                "price": rate,
            }
        )
    return [{k: v for k, v in line.items() if v is not None} for line in lines]


async def invoice(ctx: Ctx, project: dict[str, Any], body: InvoiceTimeIn) -> dict[str, Any]:
    if body.from_date and body.to_date and body.to_date < body.from_date:
        raise Invalid("to_date must be on or after from_date", details=[{"field": "to_date"}])
    method = project["billing_method"]
    if method == "non_billable":
        raise Conflict("a non-billable project invoices nothing", code="not_billable")
    if not project.get("customer_id"):
        raise Conflict("set the project's customer_id before invoicing it", code="no_customer")
    if body.milestones is not None and method != "fixed_fee":
        raise Invalid(
            "milestones: only a fixed-fee project invoices milestones",
            details=[{"field": "milestones", "message": "not a fixed-fee project"}],
        )
    issued, due = _dates(body)
    if method == "fixed_fee":
        return await _invoice_milestones(ctx, project, body, issued, due)
    return await _invoice_time(ctx, project, body, issued, due)


async def _draft_invoice(
    ctx: Ctx,
    project: dict[str, Any],
    issued: str,
    due: str,
    notes: str,
    lines: list[dict[str, Any]],
) -> dict[str, Any]:
    return await resources.insert(
        ctx,
        DOCUMENTS,
        {
            "type": "invoice",
            "contact_id": project["customer_id"],
            "issued_at": issued,
            "due_at": due,
            "currency": project["currency"],
            "status": "draft",
            "reference": (project.get("code") or project["name"])[:200],
            "notes": notes[:5000],
            "lines": lines,
        },
    )


def _amount(invoice: dict[str, Any]) -> float | int:
    return to_number(invoice["total"], precision(invoice["currency"]))


def invoiced_milestones(project: dict[str, Any]) -> dict[str, dict[str, str]]:
    """The project's milestones on an invoice, by name."""
    return dict(project.get("milestone_invoices") or {})


async def _invoice_milestones(
    ctx: Ctx, project: dict[str, Any], body: InvoiceTimeIn, issued: str, due: str
) -> dict[str, Any]:
    milestones = {m["name"]: m for m in project.get("milestones") or []}
    done = invoiced_milestones(project)
    if body.milestones is not None:
        for i, name in enumerate(body.milestones):
            if name not in milestones:
                raise Invalid(
                    f"milestones.{i}: the project has no milestone {name!r}",
                    details=[{"field": f"milestones.{i}", "message": "unknown milestone"}],
                )
            if name in done:
                raise Conflict(
                    f"milestone {name!r} is on invoice {done[name]['invoice_number']}",
                    code="milestone_invoiced",
                )
        chosen = [milestones[name] for name in dict.fromkeys(body.milestones)]
    else:
        last = body.to_date.isoformat() if body.to_date else None
        chosen = [
            m
            for m in milestones.values()
            if m["name"] not in done
            and (last is None or (m.get("due_at") is not None and m["due_at"] <= last))
        ]
    if not chosen:
        return {"invoice": None, "entries": 0, "hours": 0, "amount": 0, "milestones": []}
    lines = [{"name": m["name"][:200], "quantity": "1", "price": m["amount"]} for m in chosen]
    names = ", ".join(m["name"] for m in chosen)
    invoice = await _draft_invoice(ctx, project, issued, due, f"{project['name']}: {names}", lines)
    marks = {
        **done,
        **{
            m["name"]: {"invoice_id": invoice["_id"], "invoice_number": invoice["number"]}
            for m in chosen
        },
    }
    await ctx.store.update_one(
        "projects",
        ctx.scope(_id=project["_id"]),
        {"$set": {"milestone_invoices": marks, "updated_at": utcnow()}},
    )
    return {
        "invoice": await resources.view(ctx, DOCUMENTS, invoice),
        "entries": 0,
        "hours": 0,
        "amount": _amount(invoice),
        "milestones": [m["name"] for m in chosen],
    }


async def _invoice_time(
    ctx: Ctx, project: dict[str, Any], body: InvoiceTimeIn, issued: str, due: str
) -> dict[str, Any]:
    where: dict[str, Any] = {"project_id": project["_id"], "status": "approved", "billable": True}
    bounds = {}
    if body.from_date:
        bounds["$gte"] = body.from_date.isoformat()
    if body.to_date:
        bounds["$lte"] = body.to_date.isoformat()
    if bounds:
        where["date"] = bounds
    entries = await ctx.store.find(
        "time_entries", ctx.scope(**where), sort=[("date", 1), ("created_at", 1)]
    )
    if not entries:
        return {"invoice": None, "entries": 0, "hours": 0, "amount": 0}
    tasks = await _names(ctx, "project_tasks", {e["task_id"] for e in entries if e.get("task_id")})
    people = await _names(ctx, "contacts", {e["person_id"] for e in entries})
    period = f"{entries[0]['date']} to {entries[-1]['date']}"
    lines = _lines(entries, body.group_by, tasks, people, period)
    invoice = await _draft_invoice(
        ctx, project, issued, due, f"Time on {project['name']}, {period}", lines
    )
    ids = [e["_id"] for e in entries]
    marked = await ctx.store.update_many(
        "time_entries",
        ctx.scope(_id={"$in": ids}, status="approved"),
        {
            "$set": {
                "status": "invoiced",
                "invoice_id": invoice["_id"],
                "invoice_number": invoice["number"],
                "updated_at": utcnow(),
            }
        },
    )
    if marked != len(ids):  # another request invoiced some of them first
        raise Conflict("some of these entries were invoiced meanwhile; try again", code="raced")
    hours = from_minor(sum(e["hours_c"] for e in entries), 2)
    return {
        "invoice": await resources.view(ctx, DOCUMENTS, invoice),
        "entries": len(entries),
        "hours": float(hours),
        "amount": _amount(invoice),
    }


INVOICE = resources.Action(
    "invoice",
    "Invoice a project's billable, approved time (or a fixed fee's milestones)",
    run=invoice,
    input=InvoiceTimeIn,
    output=InvoiceTimeOut,
    from_states=BILLABLE_STATES,
    example={"from_date": "2026-11-01", "to_date": "2026-11-30", "group_by": "task"},
    description="Hourly: billable, approved, uninvoiced entries in the range become one "
    "draft invoice to the project's customer (lines by task, by person or one per entry); the "
    "entries are marked invoiced with its id and number. Fixed fee: the milestones named (or "
    "due by to_date) become one draft invoice, a line each. Cancelling the invoice releases "
    "them. Answers invoice null when there is nothing to invoice.",
)
