"""Time entries (`/api/projects/time`): who worked on which project (and task), when, how long.

- Hours over 0 (two decimals), sent as `hours` or as `start` and `end` (HH:MM, same day).
  One person's day holds at most 24 hours in total: an entry that would go beyond is 409
  `day_over_24h` (checked inside the write's transaction, so two concurrent writes cannot
  both pass).
- No time on a completed or cancelled project (409 `project_closed`); the task, when given,
  must be the project's.
- Billable: by default the task's flag on an hourly project; never on a fixed-fee or
  non-billable project (asking for it is a 400).
- Rate of a billable entry: the task's rate, else the person's rate on the project, else the
  project's hourly rate, in that order (none of them: 400 `no_rate`). The entry keeps the
  rate it was given (`rate_source` says where it came from), so a later change of rates
  does not reprice recorded time; editing an open entry prices it again.
- Status: open -> approved (the entry, or every open entry of a range with
  `POST /api/projects/time/approve-range`: a week, a month, a person, a project) ->
  invoiced (by invoicing the project's time). Approved and invoiced entries are locked:
  editing or deleting one is 409 `entry_locked`; `unapprove` opens an approved entry again
  (an invoiced one is released by cancelling its invoice).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, model_validator

from domain.context import Ctx
from domain.errors import Conflict, Invalid
from domain.fields import Day, Input, LongText, ObjectIdStr, Quantity, StrictBool
from domain.money import from_minor, precision, to_minor, to_number
from domain.projects.projects import PROJECTS
from domain.references import referenced
from domain.resources import (
    Action,
    Declared,
    Hooks,
    Immutable,
    Lifecycle,
    Ref,
    Resource,
    Server,
    Shown,
)
from memory.ids import utcnow
from memory.store import CollectionSpec, declare

DAY_LIMIT_C = 24 * 100  # a day's hours, in hundredths
CLOSED = ("completed", "cancelled")
Clock = Annotated[str, Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$")]
Status = Literal["open", "approved", "invoiced"]

declare(
    CollectionSpec(
        "time_entries",
        fields=("company_id", "project_id", "person_id", "date", "status", "created_at"),
        indexes=(
            ("company_id", "person_id", "date"),
            ("company_id", "project_id", "status", "billable", "date"),
            ("company_id", "project_id", "billable", "invoice_id"),
            ("company_id", "task_id"),
            ("company_id", "status", "invoice_id"),
            ("company_id", "invoice_id"),
            ("company_id", "billable"),
            ("company_id", "date"),
            ("company_id", "hours_c"),
            ("company_id", "created_at"),
            ("company_id", "updated_at"),
        ),
    )
)


class TimeEntryFields(Declared):
    project_id: Immutable[ObjectIdStr]
    task_id: ObjectIdStr | None = Field(None, description="A task of the project")
    person_id: ObjectIdStr = Field(description="A contact of type employee")
    date: Day
    hours: Quantity | None = Field(
        None, gt=0, le=24, decimal_places=2, description="Or start and end"
    )
    start: Clock | None = Field(None, description="HH:MM, with end instead of hours")
    end: Clock | None = None
    billable: Annotated[StrictBool | None, Shown(bool)] = Field(
        None, description="Default: the task's flag on an hourly project; never on others"
    )
    notes: LongText | None = None
    status: Status = Field("open", description="Created open; then through the actions")
    rate: Server[float | None] = Field(None, description="The billable rate applied")
    rate_source: Server[Literal["task", "person", "project"] | None] = None
    amount: Server[float]
    currency: Server[str]
    invoice_id: Server[str | None] = None
    invoice_number: Server[str | None] = None

    @model_validator(mode="after")
    def _duration(self) -> TimeEntryFields:
        duration(self.hours, self.start, self.end)
        return self


def _minutes(clock: str) -> int:
    hours, minutes = clock.split(":")
    return int(hours) * 60 + int(minutes)


def duration(hours: Any, start: str | None, end: str | None) -> int:
    """The entry's hours in hundredths, from `hours` or from `start` and `end`."""
    if (start is None) != (end is None):
        raise ValueError("send both start and end, or neither")
    if start is not None and end is not None:
        minutes = _minutes(end) - _minutes(start)
        if minutes <= 0:
            raise ValueError("end must be after start")
        from_clock = to_minor(Decimal(minutes) / 60, 2)
        if hours is not None and to_minor(Decimal(str(hours)), 2) != from_clock:
            raise ValueError("hours differ from end - start; send one or the other")
        return from_clock
    if hours is None:
        raise ValueError("send hours, or start and end")
    centi = to_minor(Decimal(str(hours)), 2)
    if centi <= 0:
        raise ValueError("hours must be over 0")
    return centi


def _bad(field: str, message: str, code: str = "validation_error") -> Invalid:
    return Invalid(f"{field}: {message}", code=code, details=[{"field": field, "message": message}])


async def _compose(ctx: Ctx, merged: dict[str, Any], own_id: str | None) -> dict[str, Any]:
    """The stored figures of an entry from its merged fields, with every rule checked."""
    project = await referenced(ctx, "projects", merged["project_id"], "project_id", "project")
    if project["status"] in CLOSED:
        raise Conflict(
            f"project {project['name']} is {project['status']}: no time can be recorded on it",
            code="project_closed",
        )
    task = None
    if merged.get("task_id"):
        task = await referenced(ctx, "project_tasks", merged["task_id"], "task_id", "task")
        if task["project_id"] != project["_id"]:
            raise _bad("task_id", "the task belongs to another project", "invalid_reference")
    await referenced(ctx, "contacts", merged["person_id"], "person_id", "person", type="employee")
    try:
        centi = duration(merged.get("hours"), merged.get("start"), merged.get("end"))
    except ValueError as error:
        raise _bad("hours", str(error)) from None
    await _check_day(ctx, merged["person_id"], str(merged["date"]), centi, own_id)
    hourly = project["billing_method"] == "hourly"
    asked = merged.get("billable")
    if asked and not hourly:
        raise _bad(
            "billable",
            f"time on a {project['billing_method'].replace('_', ' ')} project is not billable",
        )
    billable = hourly and (asked if asked is not None else (task or {}).get("billable", True))
    rate, source = None, None
    if billable:
        rate, source = _rate(project, task, merged["person_id"])
        if rate is None:
            raise _bad(
                "billable",
                "no rate for this time: set one on the task, for the person on the project, "
                "or on the project",
                "no_rate",
            )
    currency = project["currency"]
    amount = to_minor(from_minor(centi, 2) * rate, precision(currency)) if rate is not None else 0
    return {
        "hours_c": centi,
        "hours": str(from_minor(centi, 2)),
        "billable": bool(billable),
        "rate": None if rate is None else str(rate),
        "rate_source": source,
        "amount": amount,
        "currency": currency,
    }


def _rate(
    project: dict[str, Any], task: dict[str, Any] | None, person_id: str
) -> tuple[Decimal | None, str | None]:
    if task and task.get("rate") is not None:
        return Decimal(str(task["rate"])), "task"
    for person in project.get("person_rates") or []:
        if person["person_id"] == person_id:
            return Decimal(str(person["rate"])), "person"
    if project.get("hourly_rate") is not None:
        return Decimal(str(project["hourly_rate"])), "project"
    return None, None


async def _check_day(ctx: Ctx, person_id: str, day: str, centi: int, own_id: str | None) -> None:
    where: dict[str, Any] = {"person_id": person_id, "date": day}
    if own_id:
        where["_id"] = {"$ne": own_id}
    rows = await ctx.store.sum_by("time_entries", ctx.scope(**where), by=(), sums=("hours_c",))
    logged = sum(r["hours_c"] or 0 for r in rows)
    if logged + centi > DAY_LIMIT_C:
        raise Conflict(
            f"this person has {from_minor(logged, 2)} h on {day}; {from_minor(centi, 2)} h more "
            "would exceed 24 h in a day",
            code="day_over_24h",
            details=[{"date": day, "logged": float(from_minor(logged, 2)), "limit": 24}],
        )


async def _before_create(ctx: Ctx, data: dict[str, Any]) -> dict[str, Any]:
    return {**data, **await _compose(ctx, data, None)}


def _locked(entry: dict[str, Any], what: str) -> Conflict:
    return Conflict(
        f"an {entry['status']} time entry cannot be {what}"
        + ("; unapprove it first" if entry["status"] == "approved" else ""),
        code="entry_locked",
        details=[{"state": entry["status"]}],
    )


async def _before_update(
    ctx: Ctx, existing: dict[str, Any], changes: dict[str, Any]
) -> dict[str, Any]:
    merged = {**existing, **changes}
    new_clock = any(changes.get(k) is not None for k in ("start", "end"))
    if new_clock and changes.get("hours") is None:
        merged["hours"] = None  # the clock gives the hours
    elif changes.get("hours") is not None and not new_clock:
        merged["start"] = merged["end"] = None  # the hours replace the clock
        changes = {**changes, "start": None, "end": None}
    return {**changes, **await _compose(ctx, merged, existing["_id"])}


async def _before_delete(ctx: Ctx, entry: dict[str, Any]) -> None:
    if entry["status"] != "open":
        raise _locked(entry, "deleted")


def _present(doc: dict[str, Any]) -> dict[str, Any]:
    places = precision(doc["currency"])
    return {
        **doc,
        "hours": float(from_minor(doc["hours_c"], 2)),
        "rate": None if doc.get("rate") is None else float(Decimal(doc["rate"])),
        "amount": to_number(doc["amount"], places),
    }


class RangeIn(Input):
    from_date: Day
    to_date: Day
    project_id: ObjectIdStr | None = None
    person_id: ObjectIdStr | None = None

    @model_validator(mode="after")
    def _order(self) -> RangeIn:
        if self.to_date < self.from_date:
            raise ValueError("to_date must be on or after from_date")
        return self


class RangeOut(BaseModel):
    approved: int = Field(description="How many open entries were approved (and locked)")


async def approve_range(ctx: Ctx, body: RangeIn) -> dict[str, Any]:
    where: dict[str, Any] = {
        "status": "open",
        "date": {"$gte": body.from_date.isoformat(), "$lte": body.to_date.isoformat()},
    }
    if body.project_id:
        await referenced(ctx, "projects", body.project_id, "project_id", "project")
        where["project_id"] = body.project_id
    if body.person_id:
        await referenced(ctx, "contacts", body.person_id, "person_id", "person")
        where["person_id"] = body.person_id
    approved = await ctx.store.update_many(
        "time_entries",
        ctx.scope(**where),
        {"$set": {"status": "approved", "approved_by": ctx.user_id, "updated_at": utcnow()}},
    )
    return {"approved": approved}


async def _approved(ctx: Ctx, entry: dict[str, Any], previous: str) -> None:
    await ctx.store.update_one(
        "time_entries", ctx.scope(_id=entry["_id"]), {"$set": {"approved_by": ctx.user_id}}
    )


async def unapprove(ctx: Ctx, entry: dict[str, Any], body: None) -> dict[str, Any]:
    """Open an approved entry again."""
    current = entry
    if current["status"] != "approved":
        raise Conflict(
            f"this entry is on invoice {current.get('invoice_number')}; cancel the invoice "
            "to release it",
            code="entry_locked",
            details=[{"state": current["status"]}],
        )
    opened = await ctx.store.update_one(
        "time_entries",
        ctx.scope(_id=entry["_id"]),
        {"$set": {"status": "open", "updated_at": utcnow()}, "$unset": {"approved_by": ""}},
    )
    assert opened is not None
    return opened


TIME_ENTRIES = Resource(
    name="projects/time",
    label="time entry",
    collection="time_entries",
    module="projects",
    tag="Projects",
    fields=TimeEntryFields,
    search=("notes",),
    filters={
        "project_id": "eq",
        "task_id": "eq",
        "person_id": "eq",
        "status": "eq",
        "billable": "eq",
        "invoice_id": "eq",
    },
    sort=("date", "hours_c", "created_at", "updated_at"),
    default_sort="-date",
    date_field="date",
    hooks=Hooks(
        before_create=_before_create, before_update=_before_update, before_delete=_before_delete
    ),
    lifecycle=Lifecycle(
        states=("open", "approved", "invoiced"),
        editable_in=("open",),
        locked_code="entry_locked",
        on_enter={"approved": _approved},
    ),
    actions=(
        Action("approve", "Approve a time entry (locks it)", from_states=("open",), to="approved"),
        Action(
            "unapprove",
            "Open an approved time entry again",
            run=unapprove,
            from_states=("approved", "invoiced"),
            role="admin",
            description="An entry on a live invoice stays locked (409 entry_locked) until "
            "that invoice is cancelled.",
        ),
        Action(
            "approve-range",
            "Approve every open entry of a range (a week, a month), for a project or a person",
            run=approve_range,
            input=RangeIn,
            output=RangeOut,
            collection=True,
            role="admin",
            example={"from_date": "2026-11-02", "to_date": "2026-11-08"},
        ),
    ),
    present=_present,
    example={
        "project_id": Ref("projects"),
        "person_id": Ref("contacts", type="employee", email=None),
        "date": "2026-11-03",
        "hours": 2.5,
        "notes": "Wireframes for the home page",
    },
)

# Re-exported so the projects package reads as one area.
__all__ = ["PROJECTS", "TIME_ENTRIES", "duration"]
