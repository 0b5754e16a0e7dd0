"""Activities: a call, email, meeting or task, due on a date (`due_at`) and optionally at a
time (`due_time`, HH:MM in UTC), related to a lead, a deal and/or a contact (each of this
company), with an owner (a member) and done.

`status` is computed: `done` once done, else `overdue` when its due moment has passed (the
due time, or the end of the due day without one), else `open`; `overdue` is the same fact
as a flag. Filtering `status=overdue` finds exactly the activities not done and past due at
the time of the request (`status=open` those not done and not yet due), from the stored
due moment, so it stays true without a job rewriting it.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from domain.context import Ctx
from domain.crm.deals import owner_checked
from domain.fields import Day, LongText, Name, ObjectIdStr, StrictBool
from domain.references import referenced
from domain.resources import Declared, Hooks, InDays, Ref, Resource, Server
from memory.ids import utcnow
from memory.store import CollectionSpec, declare

Kind = Literal["call", "email", "meeting", "task"]
RELATED = (("lead_id", "crm_leads", "lead"), ("deal_id", "crm_deals", "deal"))

declare(
    CollectionSpec(
        "crm_activities",
        fields=("company_id", "type", "status", "due_at", "owner_id", "created_at", "updated_at"),
        indexes=(
            ("company_id", "status", "due"),
            ("company_id", "type"),
            ("company_id", "due_at"),
            ("company_id", "owner_id", "status", "due"),
            ("company_id", "lead_id"),
            ("company_id", "deal_id"),
            ("company_id", "contact_id"),
            ("company_id", "done"),
            ("company_id", "subject"),
            ("company_id", "created_at"),
            ("company_id", "updated_at"),
        ),
    )
)


class ActivityFields(Declared):
    type: Kind
    subject: Name
    due_at: Day
    due_time: str | None = Field(
        None, pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$", description="HH:MM, UTC"
    )
    lead_id: ObjectIdStr | None = None
    deal_id: ObjectIdStr | None = None
    contact_id: ObjectIdStr | None = None
    owner_id: ObjectIdStr | None = Field(None, description="A member; default: the creator")
    done: StrictBool = False
    notes: LongText | None = None
    status: Server[Literal["open", "overdue", "done"]]
    overdue: Server[bool]
    done_at: Server[str | None] = None


def due_moment(day: Any, time: str | None) -> str:
    """The due moment as a UTC timestamp that sorts and compares as text."""
    return f"{day}T{time}:00.000Z" if time else f"{day}T23:59:59.999Z"


async def _related(ctx: Ctx, fields: dict[str, Any]) -> None:
    for field, collection, label in RELATED:
        if fields.get(field):
            await referenced(ctx, collection, fields[field], field, label)
    if fields.get("contact_id"):
        await referenced(ctx, "contacts", fields["contact_id"], "contact_id", "contact")


async def _before_create(ctx: Ctx, data: dict[str, Any]) -> dict[str, Any]:
    await _related(ctx, data)
    done = bool(data.get("done"))
    return {
        **data,
        "due_at": str(data["due_at"]),
        "due": due_moment(data["due_at"], data.get("due_time")),
        "owner_id": await owner_checked(ctx, data.get("owner_id")),
        "done": done,
        "status": "done" if done else "open",
        "done_at": utcnow() if done else None,
    }


async def _before_update(
    ctx: Ctx, existing: dict[str, Any], changes: dict[str, Any]
) -> dict[str, Any]:
    await _related(ctx, changes)
    out = dict(changes)
    if "due_at" in changes or "due_time" in changes:
        day = str(changes.get("due_at") or existing["due_at"])
        time = changes["due_time"] if "due_time" in changes else existing.get("due_time")
        out.update(due_at=day, due=due_moment(day, time))
    if "owner_id" in changes:
        out["owner_id"] = await owner_checked(ctx, changes["owner_id"])
    if "done" in changes and bool(changes["done"]) != existing["done"]:
        done = bool(changes["done"])
        out.update(done=done, status="done" if done else "open", done_at=utcnow() if done else None)
    return out


def present(doc: dict[str, Any]) -> dict[str, Any]:
    overdue = not doc["done"] and doc["due"] < utcnow()
    return {
        **dict.fromkeys(("due_time", "lead_id", "deal_id", "contact_id", "notes", "done_at")),
        **doc,
        "status": "done" if doc["done"] else ("overdue" if overdue else "open"),
        "overdue": overdue,
    }


def rewrite_status(filters: dict[str, Any]) -> dict[str, Any]:
    status = filters.get("status")
    if status == "overdue":
        return {**filters, "status": "open", "due": {"$lt": utcnow()}}
    if status == "open":
        return {**filters, "due": {"$gte": utcnow()}}
    return filters


ACTIVITIES = Resource(
    name="crm/activities",
    label="activity",
    collection="crm_activities",
    module="crm",
    tag="CRM",
    fields=ActivityFields,
    search=("subject",),
    filters={
        "type": "eq",
        "status": "eq",
        "owner_id": "eq",
        "lead_id": "eq",
        "deal_id": "eq",
        "contact_id": "eq",
        "done": "eq",
    },
    sort=("due_at", "subject", "created_at", "updated_at"),
    default_sort="due_at",
    date_field="due_at",
    hooks=Hooks(before_create=_before_create, before_update=_before_update),
    present=present,
    rewrite_filters=rewrite_status,
    example={
        "type": "call",
        "subject": "Discovery call",
        "due_at": InDays(7),
        "due_time": "15:30",
        "deal_id": Ref("crm/deals"),
    },
)
