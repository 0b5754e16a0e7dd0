"""Tickets: subject, description, requester (an email and/or a contact), category, priority,
assignee, channel (web, email, chat), status, and the SLA that applies (`sla.py`).

Lifecycle: new -> open -> waiting (on the customer) / on_hold -> resolved -> closed, through
the actions `open` (also resumes), `wait`, `hold`, `assign`, `resolve`, `close`, `reopen`
(a PUT of `status` goes through the same actions). A refused move is 409 naming the state
and what it allows. Closed is final: a closed ticket takes no change and no reply (409
`ticket_closed`); a resolved one is reopened instead.

Defaults: the priority and assignee of the ticket's category when it names none (else
medium, unassigned). Assigning a new ticket opens it. The SLA is chosen when the ticket is
created and chosen again when its priority, category, channel or contact changes (the clock
keeps its start and its paused time).

Replies (`/api/helpdesk/tickets/{ticket_id}/replies`) are the conversation and internal
notes. The first public agent reply is the first response (and opens a new ticket); a
customer reply on a ticket waiting for them resumes it. Notes never count as a response.

SLA shown on every ticket: `first_response_due_at`, `resolution_due_at` (business time,
null while paused), `paused_minutes`, `agreement_status` and the breach flags as of the
request. `?breached=true|false` filters on them; `GET /api/helpdesk/tickets/breaching?
within_minutes=N` lists the tickets whose next due time falls within N minutes, soonest
first (both are index reads on `next_due_at`).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from domain import resources
from domain.context import Ctx
from domain.errors import Conflict
from domain.fields import Email, Input, LongText, Name, ObjectIdStr, QueryInt, StrictBool
from domain.helpdesk import sla
from domain.helpdesk.common import MODULE, TAG, Channel, Priority, Status, member
from domain.references import referenced
from domain.resources import (
    Action,
    Declared,
    Hooks,
    Lifecycle,
    Parent,
    Report,
    Resource,
    Server,
    Shown,
)
from memory.ids import new_id, utcnow
from memory.store import CollectionSpec, declare

STATES = ("new", "open", "waiting", "on_hold", "resolved", "closed")
LIVE = ("new", "open", "waiting", "on_hold")
CHOICE = ("priority", "category_id", "channel", "contact_id")
Agreement = Literal["first_response_due", "resolution_due", "paused", "fulfilled", "failed"]

declare(
    CollectionSpec(
        "helpdesk_tickets",
        fields=(
            "company_id",
            "status",
            "priority",
            "next_due_at",
            "created_at",
            "first_response_breached",
            "resolution_breached",
        ),
        indexes=(
            ("company_id", "status", "created_at"),
            ("company_id", "next_due_at"),
            ("company_id", "priority"),
            ("company_id", "category_id"),
            ("company_id", "assignee_id"),
            ("company_id", "channel"),
            ("company_id", "contact_id"),
            ("company_id", "sla_id"),
            ("company_id", "requester_email"),
            ("company_id", "breached"),
            ("company_id", "number"),
            ("company_id", "subject"),
            ("company_id", "created_at"),
            ("company_id", "updated_at"),
        ),
    )
)


class TicketFields(Declared):
    subject: Name
    description: LongText | None = None
    requester_email: Email | None = None
    contact_id: ObjectIdStr | None = Field(None, description="The requester as a contact")
    category_id: ObjectIdStr | None = None
    priority: Annotated[Priority | None, Shown(Priority)] = Field(
        None, description="Default: the category's default priority, else medium"
    )
    status: Status = Field("new", description="Created new (or open); then by its actions")
    assignee_id: ObjectIdStr | None = Field(None, description="Default: the category's")
    channel: Channel = "web"
    number: Server[int] = Field(description="The ticket's number in the company")
    sla_id: Server[str | None] = None
    sla_name: Server[str | None] = None
    first_response_due_at: Server[str | None] = None
    resolution_due_at: Server[str | None] = None
    first_responded_at: Server[str | None] = None
    resolved_at: Server[str | None] = None
    paused_minutes: Server[int] = 0
    agreement_status: Server[Agreement | None] = None
    first_response_breached: Server[bool] = False
    resolution_breached: Server[bool] = False
    breached: Server[bool] = Field(False, description="A target is (or was) breached")
    chat_session_id: Server[str | None] = Field(None, description="The chat it came from")
    reply_count: Server[int] = 0


def now() -> datetime:
    return datetime.now(UTC)


async def policies(ctx: Ctx) -> list[dict[str, Any]]:
    return await ctx.store.find("helpdesk_slas", ctx.scope(active=True))


async def _references(ctx: Ctx, data: dict[str, Any]) -> dict[str, Any] | None:
    """Checks the references `data` names; answers the category when it names one."""
    if data.get("contact_id"):
        await referenced(ctx, "contacts", data["contact_id"], "contact_id", "contact")
    if data.get("assignee_id"):
        await member(ctx, data["assignee_id"], "assignee_id")
    if data.get("category_id"):
        return await referenced(
            ctx, "helpdesk_categories", data["category_id"], "category_id", "category"
        )
    return None


async def _insert(ctx: Ctx, data: dict[str, Any]) -> dict[str, Any]:
    category = await _references(ctx, data) or {}
    moment = now()
    stamp = sla.stamp(moment)
    doc: dict[str, Any] = {
        "_id": new_id(),
        **data,
        "priority": data.get("priority") or category.get("default_priority") or "medium",
        "assignee_id": data.get("assignee_id") or category.get("default_assignee_id"),
        "number": await ctx.store.next_value(f"{ctx.company_id}:helpdesk_ticket"),
        "paused_seconds": 0,
        "reply_count": 0,
        "company_id": ctx.company_id,
        "created_by": ctx.user_id,
        "created_at": stamp,
        "updated_at": stamp,
    }
    doc.update(sla.apply(doc, sla.choose(await policies(ctx), doc), moment))
    await ctx.store.insert_one("helpdesk_tickets", doc)
    return doc


def _closed(doc: dict[str, Any]) -> None:
    if doc["status"] == "closed":
        raise Conflict(
            f"ticket {doc['number']} is closed; open a new ticket instead",
            code="ticket_closed",
        )


async def _before_update(
    ctx: Ctx, existing: dict[str, Any], changes: dict[str, Any]
) -> dict[str, Any]:
    _closed(existing)
    await _references(ctx, changes)
    if not any(k in changes and changes[k] != existing.get(k) for k in CHOICE):
        return changes
    merged = {**existing, **changes}
    merged["priority"] = merged.get("priority") or existing["priority"]
    changes["priority"] = merged["priority"]
    return {**changes, **sla.apply(merged, sla.choose(await policies(ctx), merged), now())}


async def _save(ctx: Ctx, doc: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    updated = await ctx.store.update_one(
        "helpdesk_tickets", ctx.scope(_id=doc["_id"]), {"$set": {**changes, "updated_at": utcnow()}}
    )
    assert updated is not None
    return updated


async def _clock(ctx: Ctx, doc: dict[str, Any], previous: str) -> None:
    """Every status change moves the SLA clock (pause, resume, stop, restart)."""
    changes = sla.on_status({**doc, "status": previous}, doc["status"], now())
    if changes:
        await _save(ctx, doc, changes)


class AssignIn(Input):
    assignee_id: ObjectIdStr | None = Field(
        None, description="A user of the company; null unassigns"
    )


async def assign(ctx: Ctx, doc: dict[str, Any], body: AssignIn) -> dict[str, Any]:
    if body.assignee_id:
        await member(ctx, body.assignee_id, "assignee_id")
    doc = await _save(ctx, doc, {"assignee_id": body.assignee_id})
    if doc["status"] == "new" and body.assignee_id:
        doc = await resources.transition(ctx, TICKETS, doc, "open")
    return doc


OPTIONAL = (
    "description",
    "requester_email",
    "contact_id",
    "category_id",
    "assignee_id",
    "first_responded_at",
    "resolved_at",
    "chat_session_id",
)


def present(doc: dict[str, Any]) -> dict[str, Any]:
    shown = sla.shown(doc, utcnow())
    return {
        **dict.fromkeys(OPTIONAL),
        **doc,
        **shown,
        "paused_minutes": int(sla.paused_total(doc, now()).total_seconds() // 60)
        if doc.get("paused_since")
        else (doc.get("paused_seconds") or 0) // 60,
        "breached": shown["first_response_breached"] or shown["resolution_breached"],
    }


def rewrite_breached(filters: dict[str, Any]) -> dict[str, Any]:
    breached = filters.pop("breached", None)
    if breached is None:
        return filters
    at = utcnow()
    late = [
        {"next_due_at": {"$lt": at}},
        {"first_response_breached": True},
        {"resolution_breached": True},
    ]
    if breached:
        return {"$and": [filters, {"$or": late}]}
    on_time = [
        {"$or": [{"next_due_at": None}, {"next_due_at": {"$gte": at}}]},
        {"first_response_breached": {"$ne": True}},
        {"resolution_breached": {"$ne": True}},
    ]
    return {"$and": [filters, *on_time]}


TICKETS = Resource(
    name="helpdesk/tickets",
    label="ticket",
    collection="helpdesk_tickets",
    module=MODULE,
    tag=TAG,
    fields=TicketFields,
    search=("subject", "requester_email"),
    filters={
        "status": "eq",
        "priority": "eq",
        "category_id": "eq",
        "assignee_id": "eq",
        "channel": "eq",
        "contact_id": "eq",
        "sla_id": "eq",
        "requester_email": "eq",
        "breached": "eq",
    },
    sort=("number", "subject", "priority", "next_due_at", "created_at", "updated_at"),
    default_sort="-created_at",
    date_field="created_at",
    hooks=Hooks(insert=_insert, before_update=_before_update),
    lifecycle=Lifecycle(
        states=STATES,
        initial=("new", "open"),
        editable_in=(*LIVE, "resolved"),
        locked_code="ticket_closed",
        on_enter=dict.fromkeys(STATES, _clock),
    ),
    actions=(
        Action(
            "assign",
            "Assign a ticket (a new ticket opens)",
            run=assign,
            input=AssignIn,
            from_states=LIVE,
            example={"assignee_id": None},
        ),
        Action(
            "open",
            "Open a ticket, or resume a waiting or held one",
            from_states=("new", "waiting", "on_hold"),
            to="open",
        ),
        Action(
            "wait",
            "Wait on the customer (pauses the SLA clock)",
            from_states=("new", "open", "on_hold"),
            to="waiting",
        ),
        Action(
            "hold",
            "Put a ticket on hold (pauses the SLA clock)",
            from_states=("new", "open", "waiting"),
            to="on_hold",
        ),
        Action(
            "resolve", "Resolve a ticket (stops the SLA clock)", from_states=LIVE, to="resolved"
        ),
        Action("close", "Close a resolved ticket (final)", from_states=("resolved",), to="closed"),
        Action(
            "reopen",
            "Reopen a resolved ticket (the clock goes on)",
            from_states=("resolved",),
            to="open",
        ),
    ),
    present=present,
    rewrite_filters=rewrite_breached,
    example={
        "subject": "Invoice PDF shows the wrong VAT number",
        "description": "Since Monday every invoice PDF shows our old VAT number.",
        "requester_email": "dana@example.com",
        "priority": "high",
        "channel": "email",
    },
)


# --- replies -------------------------------------------------------------------------

declare(
    CollectionSpec(
        "helpdesk_replies",
        fields=("company_id", "ticket_id", "created_at"),
        indexes=(
            ("company_id", "ticket_id", "created_at"),
            ("company_id", "internal"),
            ("company_id", "author"),
            ("company_id", "created_at"),
        ),
    )
)


class ReplyFields(Declared):
    body: Annotated[str, Field(min_length=1, max_length=20000)]
    internal: StrictBool = Field(False, description="An internal note: never sent, no response")
    author: Literal["agent", "customer"] = Field(
        "agent", description="customer: a reply the requester sent (by email, say)"
    )
    ticket_id: Server[str]


async def _reply(ctx: Ctx, data: dict[str, Any]) -> dict[str, Any]:
    ticket = await ctx.store.find_one("helpdesk_tickets", ctx.scope(_id=data["ticket_id"]))
    assert ticket is not None  # the parent was checked in this transaction
    _closed(ticket)
    changes: dict[str, Any] = {}
    public_agent = data.get("author", "agent") == "agent" and not data.get("internal")
    if public_agent and ticket.get("first_responded_at") is None:
        changes.update(sla.on_first_response(ticket, now()))
    ticket = await ctx.store.update_one(
        "helpdesk_tickets",
        ctx.scope(_id=ticket["_id"]),
        {"$set": {**changes, "updated_at": utcnow()}, "$inc": {"reply_count": 1}},
    )
    assert ticket is not None
    if public_agent and ticket["status"] == "new":
        await resources.transition(ctx, TICKETS, ticket, "open")
    if data.get("author") == "customer" and ticket["status"] == "waiting":
        await resources.transition(ctx, TICKETS, ticket, "open")
    return data


REPLIES = Resource(
    name="replies",
    label="reply",
    collection="helpdesk_replies",
    module=MODULE,
    tag=TAG,
    fields=ReplyFields,
    filters={"internal": "eq", "author": "eq"},
    sort=("created_at",),
    default_sort="created_at",
    operations=("list", "create", "get"),
    parent=Parent(TICKETS, "ticket_id"),
    hooks=Hooks(before_create=_reply),
    example={"body": "Thanks, Dana: the VAT number is fixed on every new PDF."},
)


# --- breaching soon ------------------------------------------------------------------


class BreachingQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    within_minutes: QueryInt = Field(60, ge=0, le=525600, description="Minutes from now")
    limit: QueryInt = Field(100, ge=1, le=200)


class BreachingOut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    as_of: str
    within_minutes: int
    tickets: list[TICKETS.read]  # type: ignore[name-defined]


async def breaching(ctx: Ctx, q: BreachingQuery) -> dict[str, Any]:
    """Tickets not yet breached whose next due time (first response, else resolution) falls
    within the next N minutes, soonest first."""
    moment = now()
    at, until = sla.stamp(moment), sla.stamp(moment + timedelta(minutes=q.within_minutes))
    docs = await ctx.store.find(
        "helpdesk_tickets",
        ctx.scope(next_due_at={"$gte": at, "$lte": until}),
        sort=[("next_due_at", 1)],
        limit=q.limit,
    )
    return {
        "as_of": at,
        "within_minutes": q.within_minutes,
        "tickets": await resources.view_many(ctx, TICKETS, docs),
    }


BREACHING = Report(
    path="helpdesk/tickets/breaching",
    summary="Tickets whose SLA is breaching within N minutes",
    module=MODULE,
    tag=TAG,
    query=BreachingQuery,
    run=breaching,
    output=BreachingOut,
)
