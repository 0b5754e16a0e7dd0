"""Projects and their tasks.

A project belongs to a customer (a contact of type customer or other), is billed one way
(`hourly`: each billable hour at the task's rate, else the person's rate on the project,
else the project's rate; `fixed_fee`: time is tracked, not billed by the hour;
`non_billable`), has an optional budget in hours and in money, dates, and a status:
active <-> on hold, then completed or cancelled (a completed project can be reopened). Its
content changes while it is active or on hold; notes always.

Its read carries the figures of its time, computed from the entries (never stored, so they
cannot drift): hours logged, billable hours, billable amount, billed amount (entries on a
live invoice), unbilled amount (billable, not on a live invoice) and budget used (percent of
the hour and money budgets). Amounts are in the project's currency (the company's base
currency, fixed at creation).

Tasks (`/api/projects/{project_id}/tasks`, the spec's `/api/projects/{id}/tasks`: the same
URL, the path parameter named for what it is) have a status (to do, in progress, done), an
assignee (a contact of type employee), an estimate in hours, a billable flag and a rate.

A fixed-fee project lists its milestones (name, amount, due date; their total at most the
fee); a milestone on a live invoice cannot change or go (409 `milestone_invoiced`). Its
figures: billable amount = the fee, billed = its milestones on live invoices.

Invoicing (`POST /api/projects/{id}/invoice`: time, or milestones) is in `billing.py`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from domain.context import Ctx
from domain.currencies import base_currency
from domain.errors import Conflict, Invalid
from domain.fields import (
    Amount,
    Day,
    Input,
    LongText,
    Name,
    ObjectIdStr,
    Output,
    Quantity,
    ShortText,
    StrictBool,
)
from domain.money import from_minor, precision, to_minor, to_number
from domain.projects import billing
from domain.references import referenced
from domain.resources import (
    Action,
    Declared,
    Hooks,
    InDays,
    Kept,
    Lifecycle,
    Parent,
    Ref,
    Resource,
    Server,
    Shown,
)
from memory.store import CollectionSpec, declare

MAX_AMOUNT = Decimal("1000000000")
MAX_HOURS = Decimal("10000000")
BillingMethod = Literal["hourly", "fixed_fee", "non_billable"]
ProjectStatus = Literal["active", "on_hold", "completed", "cancelled"]
OPEN_STATES = ("active", "on_hold")
CUSTOMER_TYPES = ("customer", "other")
# Figures of a project's read that come from its time entries.
FIGURES = (
    "hours_logged",
    "billable_hours",
    "billable_amount",
    "billed_amount",
    "unbilled_amount",
    "budget_hours_used",
    "budget_amount_used",
)

declare(
    CollectionSpec(
        "projects",
        fields=("company_id", "name", "status", "customer_id", "billing_method", "created_at"),
        indexes=(
            ("company_id", "name"),
            ("company_id", "status"),
            ("company_id", "customer_id"),
            ("company_id", "billing_method"),
            ("company_id", "starts_at"),
            ("company_id", "ends_at"),
            ("company_id", "created_at"),
            ("company_id", "updated_at"),
        ),
    )
)
declare(
    CollectionSpec(
        "project_tasks",
        fields=("company_id", "project_id", "name", "status", "assignee_id", "created_at"),
        indexes=(
            ("company_id", "project_id", "created_at"),
            ("company_id", "project_id", "name"),
            ("company_id", "project_id", "status"),
            ("company_id", "project_id", "updated_at"),
            ("company_id", "status"),
            ("company_id", "assignee_id"),
            ("company_id", "name"),
            ("company_id", "created_at"),
            ("company_id", "updated_at"),
        ),
    )
)

Money = Annotated[Amount, Field(ge=0, le=MAX_AMOUNT, decimal_places=2)]


class PersonRate(Input):
    person_id: ObjectIdStr = Field(description="A contact of type employee")
    rate: Money


class PersonRateOut(Output):
    person_id: str
    rate: float


class Milestone(Input):
    name: Name
    amount: Annotated[Amount, Field(gt=0, le=MAX_AMOUNT, decimal_places=2)]
    due_at: Day | None = None
    # Read-only (as GET answers a milestone), accepted back and ignored.
    invoice_id: str | None = Field(None, description="Read-only: the invoice billing it")
    invoice_number: str | None = Field(None, description="Read-only")


class MilestoneOut(Output):
    name: str
    amount: float
    due_at: str | None = None
    invoice_id: str | None = None
    invoice_number: str | None = None


class ProjectFields(Declared):
    name: Name
    code: ShortText | None = None
    customer_id: ObjectIdStr | None = Field(
        None, description="A contact of type customer (or other); needed to invoice time"
    )
    billing_method: BillingMethod = "hourly"
    hourly_rate: Money | None = Field(
        None, description="The project's rate, when neither the task nor the person has one"
    )
    person_rates: Annotated[list[PersonRate], Shown(list[PersonRateOut])] = Field(
        default_factory=list,
        max_length=500,
        description="Rates of people on this project (before the project's rate)",
    )
    fixed_fee: Money | None = Field(None, description="The fee of a fixed-fee project")
    milestones: Annotated[list[Milestone], Shown(list[MilestoneOut])] = Field(
        default_factory=list,
        max_length=100,
        description="A fixed-fee project's invoicing milestones (names unique)",
    )
    budget_hours: Quantity | None = Field(None, gt=0, le=MAX_HOURS, decimal_places=2)
    budget_amount: Money | None = None
    starts_at: Day | None = None
    ends_at: Day | None = None
    notes: LongText | None = None
    status: ProjectStatus = Field("active", description="Created active; then through the actions")
    currency: Server[str]
    customer_name: Server[str | None] = None
    hours_logged: Server[float]
    billable_hours: Server[float]
    billable_amount: Server[float]
    billed_amount: Server[float]
    unbilled_amount: Server[float]
    budget_hours_used: Server[float | None] = Field(None, description="Percent of budget_hours")
    budget_amount_used: Server[float | None] = Field(
        None, description="Percent of budget_amount (billable amount against it)"
    )

    @model_validator(mode="after")
    def _dates(self) -> ProjectFields:
        if self.starts_at and self.ends_at and self.ends_at < self.starts_at:
            raise ValueError("ends_at must be on or after starts_at")
        return self


async def _check_project(ctx: Ctx, merged: dict[str, Any]) -> dict[str, Any]:
    """Checks of the merged fields: customer, people, dates. Answers the derived fields."""
    out: dict[str, Any] = {}
    if merged.get("customer_id"):
        customer = await referenced(
            ctx, "contacts", merged["customer_id"], "customer_id", "customer", type=CUSTOMER_TYPES
        )
        out["customer_name"] = customer["name"]
    else:
        out["customer_name"] = None
    seen: set[str] = set()
    for i, rate in enumerate(merged.get("person_rates") or []):
        field = f"person_rates.{i}.person_id"
        await referenced(ctx, "contacts", rate["person_id"], field, "person", type="employee")
        if rate["person_id"] in seen:
            raise Invalid(
                f"{field}: this person already has a rate on the project",
                details=[{"field": field, "message": "duplicate"}],
            )
        seen.add(rate["person_id"])
    milestones = merged.get("milestones") or []
    if milestones and merged.get("billing_method", "hourly") != "fixed_fee":
        raise Invalid(
            "milestones: only a fixed-fee project has milestones",
            details=[{"field": "milestones", "message": "not a fixed-fee project"}],
        )
    names = [m["name"] for m in milestones]
    if len(set(names)) != len(names):
        raise Invalid(
            "milestones: each milestone needs its own name",
            details=[{"field": "milestones", "message": "duplicate name"}],
        )
    total = sum((Decimal(str(m["amount"])) for m in milestones), Decimal(0))
    fee = merged.get("fixed_fee")
    if milestones and (fee is None or total > Decimal(str(fee))):
        raise Invalid(
            f"milestones: they add up to {total}, more than the fixed fee ({fee})",
            details=[{"field": "milestones", "message": "over the fixed fee"}],
        )
    starts, ends = merged.get("starts_at"), merged.get("ends_at")
    if starts and ends and str(ends) < str(starts):
        raise Invalid(
            "ends_at must be on or after starts_at",
            details=[{"field": "ends_at", "message": "before starts_at"}],
        )
    return out


def _stored_milestones(milestones: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """As stored: amounts at two places, so that the same amount compares equal however it
    was sent (2000, 2000.0, "2000.00")."""
    keep = ("name", "due_at")
    return [
        {
            **{k: m[k] for k in keep if m.get(k) is not None},
            "amount": f"{Decimal(str(m['amount'])):.2f}",
        }
        for m in milestones
    ]


async def _before_create(ctx: Ctx, data: dict[str, Any]) -> dict[str, Any]:
    derived = await _check_project(ctx, data)
    if "milestones" in data:
        data = {**data, "milestones": _stored_milestones(data["milestones"])}
    return {**data, **derived, "currency": await base_currency(ctx)}


async def _before_update(
    ctx: Ctx, existing: dict[str, Any], changes: dict[str, Any]
) -> dict[str, Any]:
    changes = {**changes, **await _check_project(ctx, {**existing, **changes})}
    if "milestones" in changes:
        changes["milestones"] = _stored_milestones(changes["milestones"] or [])
        new = {m["name"]: m for m in changes["milestones"]}
        old = {m["name"]: m for m in existing.get("milestones") or []}
        for name, mark in billing.invoiced_milestones(existing).items():
            if name in old and new.get(name) != old[name]:
                raise Conflict(
                    f"milestone {name!r} is on invoice {mark['invoice_number']}: it cannot "
                    "change or go (cancel the invoice first)",
                    code="milestone_invoiced",
                )
    return changes


async def _before_delete(ctx: Ctx, project: dict[str, Any]) -> None:
    if billing.invoiced_milestones(project):
        raise Conflict(
            "a project with invoiced milestones cannot be deleted; complete or cancel it",
            code="has_invoices",
        )
    if await ctx.store.count("time_entries", ctx.scope(project_id=project["_id"])):
        raise Conflict(
            "a project with time entries cannot be deleted; complete or cancel it instead",
            code="has_time",
        )
    await ctx.store.delete_many("project_tasks", ctx.scope(project_id=project["_id"]))


def _milestones_read(project: dict[str, Any]) -> list[dict[str, Any]]:
    marks = project.get("milestone_invoices") or {}
    out = []
    for m in project.get("milestones") or []:
        on = marks.get(m["name"]) or {}
        out.append(
            {
                **m,
                "invoice_id": on.get("invoice_id"),
                "invoice_number": on.get("invoice_number"),
            }
        )
    return out


def _percent(used: Decimal, budget: Decimal) -> float:
    return float((used * 100 / budget).quantize(Decimal("0.01")))


async def _figures(ctx: Ctx, projects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if not projects:
        return projects
    ids = [p["_id"] for p in projects]
    rows = await ctx.store.sum_by(
        "time_entries",
        ctx.scope(project_id={"$in": ids}),
        by=("project_id", "billable", "invoice_id"),
        sums=("hours_c", "amount"),
    )
    totals: dict[str, dict[str, int]] = {}
    for row in rows:
        t = totals.setdefault(row["project_id"], dict.fromkeys(("hours", "bh", "ba", "billed"), 0))
        t["hours"] += row["hours_c"] or 0
        if row["billable"]:
            t["bh"] += row["hours_c"] or 0
            t["ba"] += row["amount"] or 0
            if row.get("invoice_id"):
                t["billed"] += row["amount"] or 0
    out = []
    for project in projects:
        t = totals.get(project["_id"], dict.fromkeys(("hours", "bh", "ba", "billed"), 0))
        places = precision(project["currency"])
        hours = from_minor(t["hours"], 2)
        budget_hours = project.get("budget_hours")
        budget_amount = project.get("budget_amount")
        milestones = _milestones_read(project)
        if project["billing_method"] == "fixed_fee":
            fee = to_minor(Decimal(project.get("fixed_fee") or 0), places)
            billed = sum(
                to_minor(Decimal(m["amount"]), places) for m in milestones if m["invoice_id"]
            )
            t = {**t, "ba": fee, "billed": billed}
        out.append(
            {
                **project,
                "milestones": milestones,
                "hours_logged": float(hours),
                "billable_hours": float(from_minor(t["bh"], 2)),
                "billable_amount": to_number(t["ba"], places),
                "billed_amount": to_number(t["billed"], places),
                "unbilled_amount": to_number(t["ba"] - t["billed"], places),
                "budget_hours_used": _percent(hours, Decimal(budget_hours))
                if budget_hours
                else None,
                "budget_amount_used": _percent(from_minor(t["ba"], places), Decimal(budget_amount))
                if budget_amount and Decimal(budget_amount)
                else None,
            }
        )
    return out


def _number(value: Any) -> float | None:
    return None if value is None else float(Decimal(str(value)))


def present_project(doc: dict[str, Any]) -> dict[str, Any]:
    return {
        **doc,
        **{k: _number(doc.get(k)) for k in ("hourly_rate", "fixed_fee", "budget_amount")},
        "budget_hours": _number(doc.get("budget_hours")),
        "person_rates": [
            {"person_id": r["person_id"], "rate": _number(r["rate"])}
            for r in doc.get("person_rates") or []
        ],
        "milestones": [{**m, "amount": _number(m["amount"])} for m in doc.get("milestones") or []],
    }


PROJECTS = Resource(
    name="projects",
    label="project",
    collection="projects",
    module="projects",
    tag="Projects",
    fields=ProjectFields,
    search=("name", "code", "customer_name"),
    filters={"status": "eq", "customer_id": "eq", "billing_method": "eq"},
    sort=("name", "starts_at", "ends_at", "created_at", "updated_at"),
    default_sort="-created_at",
    date_field="starts_at",
    hooks=Hooks(
        before_create=_before_create, before_update=_before_update, before_delete=_before_delete
    ),
    lifecycle=Lifecycle(
        states=("active", "on_hold", "completed", "cancelled"),
        editable_in=OPEN_STATES,
        free=("notes",),
        locked_code="project_closed",
    ),
    actions=(
        Action("hold", "Put a project on hold", from_states=("active",), to="on_hold"),
        Action("resume", "Resume a project on hold", from_states=("on_hold",), to="active"),
        Action(
            "complete",
            "Complete a project (no more time on it)",
            from_states=OPEN_STATES,
            to="completed",
        ),
        Action(
            "cancel",
            "Cancel a project (no more time on it)",
            from_states=OPEN_STATES,
            to="cancelled",
            role="admin",
        ),
        Action("reopen", "Reopen a completed project", from_states=("completed",), to="active"),
        billing.INVOICE,
    ),
    present=present_project,
    enrich=_figures,
    example={
        "name": "Website rebuild",
        "code": "WEB-1",
        "customer_id": Ref("contacts", type="customer"),
        "billing_method": "hourly",
        "hourly_rate": 120,
        "budget_hours": 200,
        "budget_amount": 24000,
        "starts_at": "2026-11-02",
        "ends_at": InDays(120),
    },
)


class TaskFields(Declared):
    name: Name
    description: LongText | None = None
    status: Literal["todo", "in_progress", "done"] = "todo"
    assignee_id: ObjectIdStr | None = Field(None, description="A contact of type employee")
    estimate_hours: Quantity | None = Field(None, ge=0, le=MAX_HOURS, decimal_places=2)
    billable: StrictBool = True
    rate: Money | None = Field(None, description="Billed per hour before any other rate")
    project_id: Server[str]


async def _check_task(
    ctx: Ctx, existing: dict[str, Any] | None, changes: dict[str, Any]
) -> dict[str, Any]:
    if changes.get("assignee_id"):
        await referenced(
            ctx, "contacts", changes["assignee_id"], "assignee_id", "assignee", type="employee"
        )
    return changes


async def _task_created(ctx: Ctx, data: dict[str, Any]) -> dict[str, Any]:
    return await _check_task(ctx, None, data)


TASKS = Resource(
    name="tasks",
    label="task",
    collection="project_tasks",
    module="projects",
    tag="Projects",
    fields=TaskFields,
    parent=Parent(PROJECTS, "project_id"),
    search=("name",),
    filters={"status": "eq", "assignee_id": "eq"},
    sort=("name", "created_at", "updated_at"),
    default_sort="created_at",
    hooks=Hooks(before_create=_task_created, before_update=_check_task),
    kept_while=(
        Kept("time_entries", "task_id", "a task with time entries cannot be deleted", "has_time"),
    ),
    present=lambda doc: {
        **doc,
        "rate": _number(doc.get("rate")),
        "estimate_hours": _number(doc.get("estimate_hours")),
    },
    example={
        "name": "Design the home page",
        "status": "todo",
        "estimate_hours": 16,
        "billable": True,
        "rate": 150,
    },
)
