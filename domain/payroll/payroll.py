"""Departments, employees and pay runs.

- A department: name, code, manager (a contact of type employee), and the expense account
  its salary costs go to (default: the system account `wages`).
- An employee: a contact of type employee, a department, hire and termination dates, pay
  frequency, base pay (an annual salary, or an hourly rate x hours per period) and
  components: earnings, deductions and employer contributions, each fixed per period or a
  percentage of base or gross pay. Deductions and contributions go to the liability account
  they name (default: `wages_payable`). Changes of base pay take effect from a date
  (`pay_changes`: a raise, new hours), each in force until the next.
- A pay run: a period, a pay date, optionally one department; created draft with one slip
  per employee active in the period. Pro rata: base pay for a period is the annual salary
  divided by the periods of a year (12 monthly, 24 semi-monthly, 26 biweekly, 52 weekly)
  times the employee's active days in the period over its days; fixed components are not
  pro-rated; percentages follow the pro-rated base. A period spanning a pay change is paid
  per day under each: base = sum(period pay under the terms x their days) / period days.
  Every figure is rounded half-up to the base currency once per line.
- Lifecycle: draft -> approved (posts the accrual: salary expense per department and
  component against wages payable and each deduction's and contribution's liability) ->
  paid (posts wages payable against the bank account's ledger account); draft, approved
  and paid runs can be cancelled, which reverses every entry of the run today. Each entry
  is linked to its run (`source`), so cancelling leaves nothing behind.
- One pay run per employee and period: a run whose period overlaps another live run's for
  any of the same employees is 409 `pay_run_overlap`.
- Large runs as a job: `POST /api/payroll/pay-runs/process` creates (and, with `approve`,
  approves) a run in a worker, reporting progress per chunk of slips over the job's events
  (`/api/jobs/{id}/events`); it waits (bounded) like every job-backed operation, or answers
  202 at once with `?wait=false`. The run keeps the job's id, so a retried job answers the
  run it already made (approving it if that had not happened) and never makes a second one.
  `POST /api/payroll/pay-runs` stays synchronous: 5,000 employees x 10 components compute in
  about half a second (`bench/payroll.py`), but the job is the way for anything larger
  than `PROCESS_HINT` employees, which a client sees without waiting.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from domain import resources
from domain.accounting import journal
from domain.accounting.chart import account_in_company, system_account
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
    Rate,
    ShortText,
    StrictBool,
    StrictInt,
)
from domain.money import precision, to_minor, to_number
from domain.references import referenced
from domain.resources import (
    Action,
    Declared,
    Hooks,
    JobOperation,
    Kept,
    Lifecycle,
    Ref,
    Resource,
    Server,
    Shown,
)
from memory.ids import today
from memory.store import CollectionSpec, declare

MAX = Decimal("1000000000")
Money = Annotated[Amount, Field(ge=0, le=MAX, decimal_places=2)]
Frequency = Literal["monthly", "semi_monthly", "biweekly", "weekly"]
PERIODS_A_YEAR = {"monthly": 12, "semi_monthly": 24, "biweekly": 26, "weekly": 52}
LIVE = ("draft", "approved", "paid")

declare(
    CollectionSpec(
        "payroll_departments",
        fields=("company_id", "name", "code", "created_at", "updated_at"),
    )
)
declare(
    CollectionSpec(
        "payroll_employees",
        fields=("company_id", "contact_id", "department_id", "name", "status"),
        indexes=(
            ("company_id", "name"),
            ("company_id", "department_id"),
            ("company_id", "hired_at"),
            ("company_id", "pay_frequency"),
            ("company_id", "created_at"),
            ("company_id", "updated_at"),
        ),
        unique=(("company_id", "contact_id"),),
    )
)
declare(
    CollectionSpec(
        "payroll_runs",
        fields=("company_id", "status", "period_start", "period_end", "created_at"),
        indexes=(
            ("company_id", "period_start"),
            ("company_id", "period_end"),
            ("company_id", "status"),
            ("company_id", "department_id"),
            ("company_id", "pay_date"),
            ("company_id", "created_at"),
            ("company_id", "updated_at"),
            ("company_id", "job_id"),
        ),
    )
)

PROCESS_KIND = "payroll.process"
PROCESS_HINT = 5000
SLIP_CHUNK = 500
Progress = Callable[[float, str], Awaitable[None]]
# Set while a job computes a run, so the create hook reports its progress (the hook's
# signature is the machinery's; the job is the only caller that listens).
_PROGRESS: ContextVar[Progress | None] = ContextVar("payroll_progress", default=None)


def _number(value: Any) -> float | None:
    return None if value is None else float(Decimal(str(value)))


# --- departments -------------------------------------------------------------------------


class DepartmentFields(Declared):
    name: Name
    code: ShortText | None = Field(None, description="Unique in the company")
    manager_id: ObjectIdStr | None = Field(None, description="A contact of type employee")
    expense_account_id: ObjectIdStr | None = Field(
        None, description="Expense account of its salary costs (default: wages)"
    )


async def _check_department(ctx: Ctx, data: dict[str, Any], *rest: Any) -> dict[str, Any]:
    changes = rest[0] if rest else data
    if changes.get("code"):
        own = data["_id"] if rest else None
        taken = await ctx.store.find_one("payroll_departments", ctx.scope(code=changes["code"]))
        if taken is not None and taken["_id"] != own:
            raise Conflict(
                "a department with this code already exists",
                code="duplicate",
                details=[{"field": "code"}],
            )
    if changes.get("manager_id"):
        await referenced(
            ctx, "contacts", changes["manager_id"], "manager_id", "manager", type="employee"
        )
    if changes.get("expense_account_id"):
        account = await account_in_company(ctx, changes["expense_account_id"], "expense_account_id")
        if account["type"] != "expense":
            raise Invalid(
                "expense_account_id: salary costs go to an expense account",
                details=[{"field": "expense_account_id", "message": "not an expense account"}],
            )
    return changes


DEPARTMENTS = Resource(
    name="payroll/departments",
    label="department",
    collection="payroll_departments",
    module="payroll",
    tag="Payroll",
    fields=DepartmentFields,
    search=("name", "code"),
    sort=("name", "code", "created_at", "updated_at"),
    default_sort="name",
    hooks=Hooks(
        before_create=_check_department,
        before_update=_check_department,
    ),
    kept_while=(
        Kept("payroll_employees", "department_id", "a department with employees cannot be deleted"),
    ),
    conflict="a department with this code already exists",
    example={"name": "Engineering", "manager_id": Ref("contacts", type="employee")},
)


# --- employees ---------------------------------------------------------------------------


class Component(Input):
    name: Name
    kind: Literal["earning", "deduction", "employer"] = Field(
        description="earning (adds to gross), deduction (from net), employer (a cost on top)"
    )
    calculation: Literal["fixed", "percent_of_base", "percent_of_gross"] = "fixed"
    amount: Money | None = Field(None, description="Per period, for fixed")
    rate: Rate | None = Field(None, ge=0, le=100, decimal_places=4, description="Percent")
    account_id: ObjectIdStr | None = Field(
        None,
        description="Liability of a deduction or contribution (default: wages_payable); "
        "expense of an earning (default: the department's)",
    )

    @model_validator(mode="after")
    def _figure(self) -> Component:
        if self.calculation == "fixed" and self.amount is None:
            raise ValueError("a fixed component needs an amount")
        if self.calculation != "fixed" and self.rate is None:
            raise ValueError("a percentage component needs a rate")
        if self.kind == "earning" and self.calculation == "percent_of_gross":
            raise ValueError("an earning is part of gross: use fixed or percent_of_base")
        return self


class ComponentOut(Output):
    name: str
    kind: str
    calculation: str
    amount: float | None = None
    rate: float | None = None
    account_id: str | None = None


class PayChange(Input):
    effective_from: Day
    annual_salary: Money | None = None
    hourly_rate: Money | None = None
    hours_per_period: Quantity | None = Field(None, gt=0, le=1000, decimal_places=2)

    @model_validator(mode="after")
    def _something(self) -> PayChange:
        if self.annual_salary is None and self.hourly_rate is None and not self.hours_per_period:
            raise ValueError("a pay change sets annual_salary, hourly_rate or hours_per_period")
        return self


class PayChangeOut(Output):
    effective_from: str
    annual_salary: float | None = None
    hourly_rate: float | None = None
    hours_per_period: float | None = None


class EmployeeFields(Declared):
    contact_id: ObjectIdStr = Field(description="The person: a contact of type employee")
    department_id: ObjectIdStr | None = None
    hired_at: Day
    terminated_at: Day | None = None
    pay_frequency: Frequency = "monthly"
    pay_type: Literal["salary", "hourly"] = "salary"
    annual_salary: Money | None = None
    hourly_rate: Money | None = None
    hours_per_period: Quantity | None = Field(None, gt=0, le=1000, decimal_places=2)
    components: Annotated[list[Component], Shown(list[ComponentOut])] = Field(
        default_factory=list, max_length=50
    )
    pay_changes: Annotated[list[PayChange], Shown(list[PayChangeOut])] = Field(
        default_factory=list,
        max_length=100,
        description="Base pay from a date on (a raise, new hours); a period spanning a change "
        "is paid pro rata per day under each",
    )
    bank_account: ShortText | None = Field(None, description="Where the net pay goes (IBAN...)")
    notes: LongText | None = None
    name: Server[str]

    @model_validator(mode="after")
    def _pay(self) -> EmployeeFields:
        check_pay(self.model_dump())
        return self


def check_pay(merged: dict[str, Any]) -> None:
    if merged.get("pay_type", "salary") == "salary" and merged.get("annual_salary") is None:
        raise ValueError("a salaried employee needs an annual_salary")
    if merged.get("pay_type") == "hourly" and (
        merged.get("hourly_rate") is None or merged.get("hours_per_period") is None
    ):
        raise ValueError("an hourly employee needs hourly_rate and hours_per_period")
    hired, left = merged.get("hired_at"), merged.get("terminated_at")
    if hired and left and str(left) < str(hired):
        raise ValueError("terminated_at must be on or after hired_at")


async def _employee_refs(ctx: Ctx, merged: dict[str, Any]) -> dict[str, Any]:
    contact = await referenced(
        ctx, "contacts", merged["contact_id"], "contact_id", "person", type="employee"
    )
    if merged.get("department_id"):
        await referenced(
            ctx, "payroll_departments", merged["department_id"], "department_id", "department"
        )
    dates = [c["effective_from"] for c in merged.get("pay_changes") or []]
    if len(set(map(str, dates))) != len(dates):
        raise Invalid(
            "pay_changes: one change per date",
            details=[{"field": "pay_changes", "message": "two changes on one date"}],
        )
    for i, component in enumerate(merged.get("components") or []):
        if component.get("account_id"):
            field = f"components.{i}.account_id"
            account = await account_in_company(ctx, component["account_id"], field)
            wanted = "expense" if component["kind"] == "earning" else "liability"
            if account["type"] != wanted:
                raise Invalid(
                    f"{field}: a {component['kind']} goes to a {wanted} account",
                    details=[{"field": field, "message": f"not a {wanted} account"}],
                )
    return {"name": contact["name"]}


async def _employee_created(ctx: Ctx, data: dict[str, Any]) -> dict[str, Any]:
    return {**data, **await _employee_refs(ctx, data)}


async def _employee_updated(
    ctx: Ctx, existing: dict[str, Any], changes: dict[str, Any]
) -> dict[str, Any]:
    merged = {**existing, **changes}
    try:
        check_pay(merged)
    except ValueError as error:
        raise Invalid(str(error)) from None
    return {**changes, **await _employee_refs(ctx, merged)}


async def _employee_paid(ctx: Ctx, employee: dict[str, Any]) -> None:
    if await ctx.store.count("payroll_runs", ctx.scope(status={"$in": list(LIVE)})):
        runs = await ctx.store.find("payroll_runs", ctx.scope(status={"$in": list(LIVE)}))
        if any(employee["_id"] in run.get("employee_ids", []) for run in runs):
            raise Conflict(
                "an employee on a pay run cannot be deleted; set terminated_at instead",
                code="in_use",
            )


def _present_employee(doc: dict[str, Any]) -> dict[str, Any]:
    return {
        **doc,
        **{k: _number(doc.get(k)) for k in ("annual_salary", "hourly_rate", "hours_per_period")},
        "components": [
            {**c, "amount": _number(c.get("amount")), "rate": _number(c.get("rate"))}
            for c in doc.get("components") or []
        ],
        "pay_changes": [
            {
                **c,
                **{
                    k: _number(c.get(k))
                    for k in ("annual_salary", "hourly_rate", "hours_per_period")
                },
            }
            for c in doc.get("pay_changes") or []
        ],
    }


EMPLOYEES = Resource(
    name="payroll/employees",
    label="employee",
    collection="payroll_employees",
    module="payroll",
    tag="Payroll",
    fields=EmployeeFields,
    search=("name",),
    filters={"department_id": "eq", "pay_frequency": "eq"},
    sort=("name", "hired_at", "created_at", "updated_at"),
    default_sort="name",
    date_field="hired_at",
    hooks=Hooks(
        before_create=_employee_created,
        before_update=_employee_updated,
        before_delete=_employee_paid,
    ),
    conflict="this person is already an employee",
    present=_present_employee,
    example={
        "contact_id": Ref("contacts", type="employee", email=None),
        "department_id": Ref("payroll/departments"),
        "hired_at": "2026-01-05",
        "pay_frequency": "monthly",
        "pay_type": "salary",
        "annual_salary": 60000,
        "components": [
            {"name": "Pension", "kind": "deduction", "calculation": "percent_of_gross", "rate": 5},
            {
                "name": "Employer pension",
                "kind": "employer",
                "calculation": "percent_of_gross",
                "rate": 3,
            },
        ],
    },
)


# --- pay runs ----------------------------------------------------------------------------


class SlipLineOut(Output):
    name: str
    kind: str
    amount: float


class SlipOut(Output):
    employee_id: str
    name: str
    department_id: str | None = None
    days: int = Field(description="Days employed in the period")
    base: float
    gross: float
    deductions: float
    employer_cost: float
    net: float
    lines: list[SlipLineOut]


class PayRunFields(Declared):
    period_start: Day
    period_end: Day
    pay_date: Day
    department_id: ObjectIdStr | None = Field(None, description="Default: every department")
    notes: LongText | None = None
    status: Literal["draft", "approved", "paid", "cancelled"] = Field(
        "draft", description="Created draft; then through the actions"
    )
    currency: Server[str]
    employees: Server[int]
    gross: Server[float]
    deductions: Server[float]
    employer_cost: Server[float]
    net: Server[float]
    slips: Server[list[SlipOut]]
    accrual_entry_id: Server[str | None] = None
    payment_entry_id: Server[str | None] = None
    paid_from_account_id: Server[str | None] = None
    version: Server[int] = Field(
        description="Changes whenever the run's figures, dates or state change; send it to "
        "approve or pay so that a stale or retried request cannot act twice (409)"
    )
    job_id: Server[str | None] = Field(
        None, description="The job that made it (`POST /api/payroll/pay-runs/process`)"
    )

    @model_validator(mode="after")
    def _period(self) -> PayRunFields:
        if self.period_end < self.period_start:
            raise ValueError("period_end must be on or after period_start")
        return self


def _active_days(employee: dict[str, Any], start: date, end: date) -> int:
    first = max(start, date.fromisoformat(employee["hired_at"]))
    left = employee.get("terminated_at")
    last = min(end, date.fromisoformat(left)) if left else end
    return max((last - first).days + 1, 0)


def _period_pay(terms: dict[str, Any], employee: dict[str, Any]) -> Decimal:
    """A full period's base pay under `terms`."""
    if employee.get("pay_type", "salary") == "hourly":
        return Decimal(terms["hourly_rate"]) * Decimal(terms["hours_per_period"])
    return Decimal(terms["annual_salary"]) / PERIODS_A_YEAR[employee["pay_frequency"]]


def _segments(employee: dict[str, Any], start: date, end: date) -> list[tuple[dict[str, Any], int]]:
    """The employee's pay terms in force over the active days of the period, with how many
    days each: the employee's own, then each pay change from its date on."""
    first = max(start, date.fromisoformat(employee["hired_at"]))
    left = employee.get("terminated_at")
    last = min(end, date.fromisoformat(left)) if left else end
    if last < first:
        return []
    keys = ("annual_salary", "hourly_rate", "hours_per_period")
    terms = {k: employee.get(k) for k in keys}
    changes = sorted(employee.get("pay_changes") or [], key=lambda c: c["effective_from"])
    segments: list[tuple[dict[str, Any], int]] = []
    cursor = first
    for change in changes:
        day = date.fromisoformat(change["effective_from"])
        if day > last:
            break
        if day > cursor:
            segments.append((dict(terms), (day - cursor).days))
            cursor = day
        terms.update({k: change[k] for k in keys if change.get(k) is not None})
    segments.append((terms, (last - cursor).days + 1))
    return segments


def _account_of(component: dict[str, Any] | None) -> dict[str, Any]:
    account = (component or {}).get("account_id")
    return {"account_id": account} if account else {}


def slip(employee: dict[str, Any], start: date, end: date, places: int) -> dict[str, Any]:
    """One employee's slip for the period, in minor units of the base currency."""
    days = _active_days(employee, start, end)
    period_days = (end - start).days + 1
    earned = sum(
        (_period_pay(terms, employee) * n for terms, n in _segments(employee, start, end)),
        Decimal(0),
    )
    base = to_minor(earned / period_days, places)
    lines: list[dict[str, Any]] = [{"name": "Base pay", "kind": "base", "amount": base}]
    scale = Decimal(1).scaleb(-places)

    def figure(component: dict[str, Any], of: int) -> int:
        if component["calculation"] == "fixed":
            return to_minor(Decimal(component["amount"]), places)
        return to_minor(Decimal(of) * scale * Decimal(component["rate"]) / 100, places)

    components = employee.get("components") or []
    earnings = [c for c in components if c["kind"] == "earning"]
    for c in earnings:
        lines.append({"name": c["name"], "kind": "earning", "amount": figure(c, base), "c": c})
    gross = sum(line["amount"] for line in lines)
    for c in components:
        if c["kind"] == "earning":
            continue
        of = base if c["calculation"] == "percent_of_base" else gross
        lines.append({"name": c["name"], "kind": c["kind"], "amount": figure(c, of), "c": c})
    deductions = sum(x["amount"] for x in lines if x["kind"] == "deduction")
    employer = sum(x["amount"] for x in lines if x["kind"] == "employer")
    return {
        "employee_id": employee["_id"],
        "name": employee["name"],
        "department_id": employee.get("department_id"),
        "days": days,
        "base": base,
        "gross": gross,
        "deductions": deductions,
        "employer_cost": gross + employer,
        "net": gross - deductions,
        "lines": [
            {
                "name": x["name"],
                "kind": x["kind"],
                "amount": x["amount"],
                **(
                    {"account_id": x["c"]["account_id"]} if x.get("c", {}).get("account_id") else {}
                ),
            }
            for x in lines
        ],
    }


async def _slips(
    employees: list[dict[str, Any]], start: date, end: date, places: int
) -> list[dict[str, Any]]:
    progress = _PROGRESS.get()
    if progress is None:
        return [slip(e, start, end, places) for e in employees]
    slips: list[dict[str, Any]] = []
    for first in range(0, len(employees), SLIP_CHUNK):
        slips.extend(slip(e, start, end, places) for e in employees[first : first + SLIP_CHUNK])
        await progress(0.9 * len(slips) / len(employees), f"{len(slips)} slips computed")
    return slips


async def _compute(ctx: Ctx, data: dict[str, Any], own_id: str | None = None) -> dict[str, Any]:
    start, end = (
        date.fromisoformat(str(data["period_start"])),
        date.fromisoformat(str(data["period_end"])),
    )
    if end < start:
        raise Invalid(
            "period_end must be on or after period_start", details=[{"field": "period_end"}]
        )
    where: dict[str, Any] = {"hired_at": {"$lte": end.isoformat()}}
    if data.get("department_id"):
        await referenced(
            ctx, "payroll_departments", data["department_id"], "department_id", "department"
        )
        where["department_id"] = data["department_id"]
    employees = [
        e
        for e in await ctx.store.find("payroll_employees", ctx.scope(**where), sort=[("name", 1)])
        if not e.get("terminated_at") or e["terminated_at"] >= start.isoformat()
    ]
    ids = {e["_id"] for e in employees}
    overlapping = await ctx.store.find(
        "payroll_runs",
        ctx.scope(
            status={"$in": list(LIVE)},
            period_start={"$lte": end.isoformat()},
            period_end={"$gte": start.isoformat()},
        ),
    )
    for run in overlapping:
        if run["_id"] == own_id:
            continue
        shared = ids & set(run.get("employee_ids", []))
        if shared:
            raise Conflict(
                f"{len(shared)} of these employees are already on the pay run of "
                f"{run['period_start']} to {run['period_end']} ({run['status']})",
                code="pay_run_overlap",
                details=[{"pay_run_id": run["_id"], "employee_ids": sorted(shared)}],
            )
    currency = await base_currency(ctx)
    places = precision(currency)
    slips = await _slips(employees, start, end, places)
    return {
        "currency": currency,
        "employees": len(slips),
        "employee_ids": sorted(ids),
        "gross": sum(s["gross"] for s in slips),
        "deductions": sum(s["deductions"] for s in slips),
        "employer_cost": sum(s["employer_cost"] for s in slips),
        "net": sum(s["net"] for s in slips),
        "slips": slips,
    }


async def _run_created(ctx: Ctx, data: dict[str, Any]) -> dict[str, Any]:
    return {**data, **await _compute(ctx, data), "version": 1}


async def _run_updated(
    ctx: Ctx, existing: dict[str, Any], changes: dict[str, Any]
) -> dict[str, Any]:
    changed = {k for k, v in changes.items() if k != "notes" and existing.get(k) != v}
    if not changed:
        return changes  # the same values, or free text: the version stands
    changes = {**changes, "version": existing["version"] + 1}
    if not {"period_start", "period_end", "department_id"} & changed:
        return changes
    return {**changes, **await _compute(ctx, {**existing, **changes}, existing["_id"])}


async def _bump(ctx: Ctx, run: dict[str, Any], extra: dict[str, Any] | None = None) -> None:
    update: dict[str, Any] = {"$inc": {"version": 1}}
    if extra:
        update["$set"] = extra
    await ctx.store.update_one("payroll_runs", ctx.scope(_id=run["_id"]), update)


class VersionIn(Input):
    version: StrictInt | None = Field(
        None, ge=1, description="The version read; a different current version is 409"
    )


def check_version(run: dict[str, Any], body: VersionIn | None) -> None:
    if body is not None and body.version is not None and body.version != run["version"]:
        raise Conflict(
            f"the pay run is at version {run['version']}, not {body.version}: read it again",
            code="version_conflict",
            details=[{"version": run["version"], "sent": body.version}],
        )


async def _department_accounts(ctx: Ctx, run: dict[str, Any]) -> dict[str | None, str]:
    wages = (await system_account(ctx, "wages"))["_id"]
    out: dict[str | None, str] = {None: wages}
    ids = sorted({s["department_id"] for s in run["slips"] if s.get("department_id")})
    if ids:
        for d in await ctx.store.find("payroll_departments", ctx.scope(_id={"$in": ids})):
            out[d["_id"]] = d.get("expense_account_id") or wages
    return out


async def _accrue(ctx: Ctx, run: dict[str, Any], previous: str) -> None:
    """The accrual: salary expense per department and component (employer contributions
    included) against wages payable (net) and each deduction's and contribution's
    liability, dated the period's end."""
    payable = (await system_account(ctx, "wages_payable"))["_id"]
    expense = await _department_accounts(ctx, run)
    debits: dict[tuple[str, str], int] = {}
    credits: dict[tuple[str, str], int] = {}
    for s in run["slips"]:
        account = expense.get(s.get("department_id"), expense[None])
        for line in s["lines"]:
            if line["kind"] in ("base", "earning", "employer"):
                target = line.get("account_id") if line["kind"] == "earning" else None
                key = (target or account, line["name"])
                debits[key] = debits.get(key, 0) + line["amount"]
            if line["kind"] in ("deduction", "employer"):
                key = (line.get("account_id") or payable, line["name"])
                credits[key] = credits.get(key, 0) + line["amount"]
    period = f"{run['period_start']} to {run['period_end']}"
    draft = journal.Draft(
        date=run["period_end"],
        description=f"Payroll {period}",
        source={"type": "pay_run", "id": run["_id"]},
    )
    for (account_id, name), amount in debits.items():
        draft.debit(account_id, amount, name)
    for (account_id, name), amount in credits.items():
        draft.credit(account_id, amount, name)
    draft.credit(payable, run["net"], "Net pay")
    if not draft.lines:
        await _bump(ctx, run)
        return
    entry = await journal.post(ctx, draft)
    await _bump(ctx, run, {"accrual_entry_id": entry["_id"]})


async def approve(ctx: Ctx, run: dict[str, Any], body: VersionIn | None) -> dict[str, Any]:
    """The version is checked against the one read before the transition (it rolls back)."""
    check_version({**run, "version": run["version"] - 1}, body)
    return run


class PayIn(VersionIn):
    account_id: ObjectIdStr = Field(description="The bank or cash account paying the net")
    paid_at: Day | None = Field(None, description="Default: the run's pay date")


async def pay(ctx: Ctx, run: dict[str, Any], body: PayIn) -> dict[str, Any]:
    check_version(run, body)
    account = await referenced(ctx, "accounts", body.account_id, "account_id", "account")
    if account.get("currency") and account["currency"] != run["currency"]:
        raise Invalid(
            f"account_id: the account is in {account['currency']}; the run is in {run['currency']}",
            details=[{"field": "account_id", "message": "another currency"}],
        )
    payable = (await system_account(ctx, "wages_payable"))["_id"]
    paid_at = (body.paid_at.isoformat() if body.paid_at else None) or run["pay_date"]
    update: dict[str, Any] = {"status": "paid", "paid_from_account_id": account["_id"]}
    if run["net"]:
        draft = journal.Draft(
            date=paid_at,
            description=f"Payroll paid, {run['period_start']} to {run['period_end']}",
            source={"type": "pay_run", "id": run["_id"]},
        )
        draft.debit(payable, run["net"], "Net pay").credit(
            account["ledger_account_id"], run["net"], "Net pay"
        )
        entry = await journal.post(ctx, draft)
        update["payment_entry_id"] = entry["_id"]
    moved = await ctx.store.update_one(
        "payroll_runs", ctx.scope(_id=run["_id"]), {"$set": update, "$inc": {"version": 1}}
    )
    assert moved is not None
    return moved


async def _cancelled(ctx: Ctx, run: dict[str, Any], previous: str) -> None:
    """Every entry of the run (accrual and payment) reversed today."""
    await journal.reverse_source(ctx, run["_id"], today(), "Payroll cancelled")
    await _bump(ctx, run)


async def _keep_posted(ctx: Ctx, run: dict[str, Any]) -> None:
    """Only a draft run can go: an approved or paid one has entries (cancel it), and a
    cancelled one is the record of their reversal."""
    if run["status"] != "draft":
        raise Conflict(
            f"a {run['status']} pay run cannot be deleted"
            + ("; cancel it instead" if run["status"] in LIVE else ""),
            code="pay_run_locked",
            details=[{"state": run["status"]}],
        )


def _present_run(doc: dict[str, Any]) -> dict[str, Any]:
    places = precision(doc["currency"])

    def n(minor: int) -> float | int:
        return to_number(minor, places)

    return {
        **doc,
        **{k: n(doc[k]) for k in ("gross", "deductions", "employer_cost", "net")},
        "slips": [
            {
                **s,
                **{k: n(s[k]) for k in ("base", "gross", "deductions", "employer_cost", "net")},
                "lines": [
                    {"name": x["name"], "kind": x["kind"], "amount": n(x["amount"])}
                    for x in s["lines"]
                ],
            }
            for s in doc["slips"]
        ],
    }


PAY_RUNS = Resource(
    name="payroll/pay-runs",
    label="pay run",
    collection="payroll_runs",
    module="payroll",
    tag="Payroll",
    fields=PayRunFields,
    filters={"status": "eq", "department_id": "eq"},
    sort=("period_start", "period_end", "pay_date", "created_at", "updated_at"),
    default_sort="-period_start",
    date_field="period_start",
    version_field="version",
    hooks=Hooks(before_create=_run_created, before_update=_run_updated, before_delete=_keep_posted),
    lifecycle=Lifecycle(
        states=("draft", "approved", "paid", "cancelled"),
        editable_in=("draft",),
        free=("notes",),
        locked_code="pay_run_locked",
        on_enter={"approved": _accrue, "cancelled": _cancelled},
    ),
    actions=(
        Action(
            "approve",
            "Approve a pay run (posts the accrual)",
            run=approve,
            input=VersionIn,
            from_states=("draft",),
            to="approved",
            role="admin",
            example={"version": 1},
        ),
        Action(
            "pay",
            "Pay an approved pay run from a bank account",
            run=pay,
            input=PayIn,
            from_states=("approved",),
            role="admin",
            # A literal id: an action's example is shown as written (a Ref is resolved only
            # in a resource's create example).
            example={"account_id": "6745a1c2e4b0f3a9d2c81e57", "paid_at": "2026-11-30"},
        ),
        Action(
            "cancel",
            "Cancel a pay run (its entries are reversed today)",
            from_states=LIVE,
            to="cancelled",
            role="admin",
        ),
    ),
    present=_present_run,
    example={
        "period_start": "2026-11-01",
        "period_end": "2026-11-30",
        "pay_date": "2026-11-30",
        "notes": "November payroll",
    },
)


# --- pay runs as a job ---------------------------------------------------------------------


class ProcessIn(PAY_RUNS.create):  # type: ignore[misc,valid-type]
    approve: StrictBool = Field(False, description="Approve the run once made (admin)")


async def _prepare_process(ctx: Ctx, body: ProcessIn) -> dict[str, Any]:
    if body.approve:
        resources.authorize(ctx, PAY_RUNS.action("approve").role)
    if body.department_id:
        await referenced(
            ctx, "payroll_departments", body.department_id, "department_id", "department"
        )
    return body.model_dump(mode="json", exclude_unset=True)


async def process(
    ctx: Ctx, fields: dict[str, Any], *, job_id: str, progress: Progress
) -> dict[str, Any]:
    """A job's pay run: made once per job (a retry finds it), approved when asked."""
    fields = dict(fields)
    approve_it = bool(fields.pop("approve", False))
    run = await ctx.store.find_one("payroll_runs", ctx.scope(job_id=job_id))
    if run is None:
        data = PAY_RUNS.create.model_validate(fields).model_dump(exclude_unset=True)
        token = _PROGRESS.set(progress)
        try:
            run = await resources.insert(ctx, PAY_RUNS, {**data, "job_id": job_id})
        finally:
            _PROGRESS.reset(token)
    if approve_it and run["status"] == "draft":
        await progress(0.95, "approving")
        return await resources.act(ctx, PAY_RUNS, PAY_RUNS.action("approve"), run["_id"], None)
    return await resources.view(ctx, PAY_RUNS, run)


PROCESS = JobOperation(
    path="payroll/pay-runs/process",
    summary="Make (and approve) a pay run in a worker, with progress",
    module="payroll",
    tag="Payroll",
    kind=PROCESS_KIND,
    input=ProcessIn,
    prepare=_prepare_process,
    role="member",
    example={
        "period_start": "2026-11-01",
        "period_end": "2026-11-30",
        "pay_date": "2026-11-30",
        "approve": False,
    },
    description="The way to run payroll for many employees: the run is computed by a worker "
    "that reports progress per 500 slips; the job's result is the pay run. A retried job "
    "never makes a second run.",
)
