"""Contracts: a party (a customer or supplier contact), a title, a value, start and end
dates, renewal terms, a signature, and links to the proposal and deal it came from and
the project it is for.

Status follows the dates (`today` in UTC), never a stored guess: `terminated` once
terminated (the `terminate` action, with its date and reason); else `draft` before the
start date; `expired` after the end of its term when it does not renew automatically;
`active` otherwise. With automatic renewal the term rolls forward by `term_months` from
`ends_at` until it covers today: `current_end_at` is the end of the running term,
`renewal_date` the day after it and `notice_by` the last day to give notice
(`notice_days` before the end). Filtering `status=` finds exactly what the list shows.

Signing (`sign`: signer and date) fixes the terms: party, title, value, currency, dates
and renewal then change only through a copy. `copy` makes a new unsigned contract with the
same terms: a copy never carries the signature, the termination or the proposal link
(ERPNext PR #19207).

Renewal alerts: `GET /api/contracts/expiring?within_days=N` lists the contracts whose
running term ends within N days (automatic ones by their notice date), soonest first; the
list's `from`/`to` range is on `ends_at`.
"""

from __future__ import annotations

import calendar
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from domain import resources
from domain.context import Ctx
from domain.currencies import base_currency, rate_of
from domain.errors import Conflict, Invalid
from domain.fields import (
    Amount,
    CurrencyCode,
    Day,
    Input,
    LongText,
    Name,
    ObjectIdStr,
    QueryInt,
    StrictBool,
    StrictInt,
)
from domain.money import precision, to_minor, to_number
from domain.references import referenced
from domain.resources import Action, Declared, Hooks, InDays, Ref, Report, Resource, Server
from memory.ids import today, utcnow
from memory.store import CollectionSpec, declare

Shown = Literal["draft", "active", "expired", "terminated"]
TERMS = ("party_id", "title", "value", "currency", "starts_at", "ends_at", "renewal")

declare(
    CollectionSpec(
        "contracts",
        fields=("company_id", "status", "party_id", "title", "starts_at", "ends_at", "created_at"),
        indexes=(
            ("company_id", "status", "ends_at"),
            ("company_id", "party_id"),
            ("company_id", "party_type"),
            ("company_id", "proposal_id"),
            ("company_id", "deal_id"),
            ("company_id", "project_id"),
            ("company_id", "title"),
            ("company_id", "value"),
            ("company_id", "starts_at"),
            ("company_id", "ends_at"),
            ("company_id", "created_at"),
            ("company_id", "updated_at"),
        ),
    )
)


class Renewal(Input):
    automatic: StrictBool = Field(False, description="Renews for another term unless noticed")
    term_months: StrictInt = Field(12, ge=1, le=120)
    notice_days: StrictInt = Field(30, ge=0, le=3650)


class RenewalOut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    automatic: bool
    term_months: int
    notice_days: int


class ContractFields(Declared):
    party_id: ObjectIdStr = Field(description="A customer or supplier contact")
    title: Name
    value: Amount = Field(Decimal(0), ge=0)
    currency: CurrencyCode | None = Field(None, description="Default: the base currency")
    starts_at: Day
    ends_at: Day | None = Field(None, description="End of the first term; none: open-ended")
    renewal: Renewal | None = None
    deal_id: ObjectIdStr | None = None
    project_id: ObjectIdStr | None = None
    notes: LongText | None = None
    party_type: Server[str]
    party_name: Server[str]
    status: Server[Shown]
    current_end_at: Server[str | None] = None
    renewal_date: Server[str | None] = None
    notice_by: Server[str | None] = None
    signed: Server[bool]
    signed_by: Server[str | None] = None
    signed_at: Server[str | None] = None
    terminated_at: Server[str | None] = None
    termination_reason: Server[str | None] = None
    proposal_id: Server[str | None] = Field(None, description="The proposal it came from")

    @model_validator(mode="after")
    def _dates(self) -> ContractFields:
        if self.ends_at is not None and self.ends_at < self.starts_at:
            raise ValueError("ends_at must be on or after starts_at")
        if self.renewal and self.renewal.automatic and self.ends_at is None:
            raise ValueError("renewal: an automatic renewal needs ends_at (the first term)")
        return self


def add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return day.replace(
        year=year, month=month, day=min(day.day, calendar.monthrange(year, month)[1])
    )


def current_end(doc: dict[str, Any], on: str) -> str | None:
    """The end of the term running on `on` (rolled forward for automatic renewal)."""
    ends = doc.get("ends_at")
    renewal = doc.get("renewal") or {}
    if ends is None or not renewal.get("automatic") or ends >= on:
        return ends
    first, day, terms = date.fromisoformat(doc["ends_at"]), date.fromisoformat(ends), 0
    target = date.fromisoformat(on)
    while day < target:
        terms += 1
        day = add_months(first, renewal["term_months"] * terms)
    return day.isoformat()


def shown_status(doc: dict[str, Any], on: str) -> str:
    if doc["status"] == "terminated":
        return "terminated"
    if on < doc["starts_at"]:
        return "draft"
    end = current_end(doc, on)
    if end is not None and end < on:
        return "expired"
    return "active"


async def _party(ctx: Ctx, party_id: str) -> dict[str, Any]:
    return await referenced(
        ctx, "contacts", party_id, "party_id", "contact", type=("customer", "supplier")
    )


async def _terms(ctx: Ctx, data: dict[str, Any]) -> dict[str, Any]:
    party = await _party(ctx, data["party_id"])
    code = data.get("currency") or await base_currency(ctx)
    await rate_of(ctx, code)
    places = precision(code)
    renewal = data.get("renewal")
    if isinstance(renewal, BaseModel):
        renewal = renewal.model_dump()
    ends = str(data["ends_at"]) if data.get("ends_at") else None
    starts = str(data["starts_at"])
    if ends is not None and ends < starts:
        raise Invalid(
            "ends_at must be on or after starts_at",
            details=[{"field": "ends_at", "message": "before starts_at"}],
        )
    if renewal and renewal.get("automatic") and ends is None:
        raise Invalid(
            "renewal: an automatic renewal needs ends_at (the first term)",
            details=[{"field": "renewal", "message": "needs ends_at"}],
        )
    return {
        "party_id": party["_id"],
        "party_type": party["type"],
        "party_name": party["name"],
        "title": data["title"],
        "value": to_minor(Decimal(str(data.get("value") or 0)), places),
        "currency": code,
        "precision": places,
        "starts_at": starts,
        "ends_at": ends,
        "renewal": renewal,
    }


async def _links(ctx: Ctx, data: dict[str, Any]) -> None:
    if data.get("deal_id"):
        await referenced(ctx, "crm_deals", data["deal_id"], "deal_id", "deal")
    if data.get("project_id"):
        await referenced(ctx, "projects", data["project_id"], "project_id", "project")


async def _before_create(ctx: Ctx, data: dict[str, Any]) -> dict[str, Any]:
    await _links(ctx, data)
    return {
        **await _terms(ctx, data),
        "deal_id": data.get("deal_id"),
        "project_id": data.get("project_id"),
        "proposal_id": data.get("proposal_id"),
        "notes": data.get("notes"),
        "status": "live",
        "signed": False,
    }


def _same(existing: dict[str, Any], merged: dict[str, Any]) -> bool:
    return all(existing.get(k) == merged.get(k) for k in TERMS)


async def _before_update(
    ctx: Ctx, existing: dict[str, Any], changes: dict[str, Any]
) -> dict[str, Any]:
    if existing["status"] == "terminated":
        raise Conflict(
            "a terminated contract cannot change; copy it for a new one",
            code="contract_terminated",
        )
    out = {k: v for k, v in changes.items() if k not in TERMS}
    await _links(ctx, changes)
    terms = {k: v for k, v in changes.items() if k in TERMS}
    if terms:
        current = {k: existing.get(k) for k in TERMS}
        current["value"] = Decimal(existing["value"]).scaleb(-existing["precision"])
        recomputed = await _terms(ctx, {**current, **terms})
        if existing["signed"] and not _same(existing, recomputed):
            raise Conflict(
                "a signed contract's terms are fixed; copy it to change them",
                code="contract_signed",
                details=[{"field": k} for k in terms if existing.get(k) != recomputed.get(k)],
            )
        out.update(recomputed)
    return out


class SignIn(Input):
    signer: Name
    signed_at: Day | None = Field(None, description="Default: today")


class TerminateIn(Input):
    reason: Name
    terminated_at: Day | None = Field(None, description="Default: today")


def _live(doc: dict[str, Any], what: str) -> None:
    if doc["status"] == "terminated":
        raise Conflict(
            f"{what}: the contract is terminated",
            code="invalid_transition",
            details=[{"state": "terminated", "allowed_actions": ["copy"]}],
        )


async def sign(ctx: Ctx, doc: dict[str, Any], body: SignIn) -> dict[str, Any]:
    _live(doc, "sign")
    if doc["signed"]:
        raise Conflict(
            f"the contract was signed by {doc['signed_by']} on {doc['signed_at']}",
            code="already_signed",
        )
    return await _set(
        ctx,
        doc,
        signed=True,
        signed_by=body.signer,
        signed_at=body.signed_at.isoformat() if body.signed_at else today(),
    )


async def terminate(ctx: Ctx, doc: dict[str, Any], body: TerminateIn) -> dict[str, Any]:
    _live(doc, "terminate")
    day = body.terminated_at.isoformat() if body.terminated_at else today()
    if day < doc["starts_at"] and doc["signed"]:
        raise Invalid("terminated_at: a signed contract is terminated on or after its start")
    return await _set(
        ctx, doc, status="terminated", terminated_at=day, termination_reason=body.reason
    )


async def _set(ctx: Ctx, doc: dict[str, Any], **fields: Any) -> dict[str, Any]:
    updated = await ctx.store.update_one(
        "contracts", ctx.scope(_id=doc["_id"]), {"$set": {**fields, "updated_at": utcnow()}}
    )
    assert updated is not None
    return updated


async def copy(ctx: Ctx, doc: dict[str, Any], body: Any) -> dict[str, Any]:
    """A new, unsigned contract with the same terms (never the signature)."""
    fields = {k: doc.get(k) for k in TERMS}
    fields["value"] = Decimal(doc["value"]).scaleb(-doc["precision"])
    fields["title"] = f"{doc['title']} (copy)"[:200]
    return await resources.insert(
        ctx,
        CONTRACTS,
        {
            **fields,
            "deal_id": doc.get("deal_id"),
            "project_id": doc.get("project_id"),
            "notes": doc.get("notes"),
        },
    )


OPTIONAL = (
    "deal_id",
    "project_id",
    "notes",
    "renewal",
    "ends_at",
    "signed_by",
    "signed_at",
    "terminated_at",
    "termination_reason",
    "proposal_id",
)


def present(doc: dict[str, Any]) -> dict[str, Any]:
    on = today()
    end = current_end(doc, on)
    renewal = doc.get("renewal") or {}
    automatic = bool(renewal.get("automatic")) and doc["status"] != "terminated"
    renews = (
        (date.fromisoformat(end) + timedelta(days=1)).isoformat() if automatic and end else None
    )
    notice = (
        (date.fromisoformat(end) - timedelta(days=renewal["notice_days"])).isoformat()
        if automatic and end
        else None
    )
    return {
        **dict.fromkeys(OPTIONAL),
        **doc,
        "value": to_number(doc["value"], doc["precision"]),
        "status": shown_status(doc, on),
        "current_end_at": end,
        "renewal_date": renews,
        "notice_by": notice,
    }


def rewrite_status(filters: dict[str, Any]) -> dict[str, Any]:
    """`status=` on what the list shows; automatic renewals are active past `ends_at`."""
    status = filters.pop("status", None)
    if status is None:
        return filters
    on = today()
    live = {**filters, "status": "live"}
    automatic = {"renewal.automatic": True}
    if status == "terminated":
        return {**filters, "status": "terminated"}
    if status == "draft":
        return {**live, "starts_at": {"$gt": on}}
    if status == "expired":
        return {
            "$and": [
                live,
                {"starts_at": {"$lte": on}},
                {"ends_at": {"$lt": on}},
                {"renewal.automatic": {"$ne": True}},
            ]
        }
    return {
        "$and": [
            live,
            {"starts_at": {"$lte": on}},
            {"$or": [{"ends_at": None}, {"ends_at": {"$gte": on}}, automatic]},
        ]
    }


CONTRACTS = Resource(
    name="contracts",
    label="contract",
    collection="contracts",
    module="contracts",
    tag="Contracts & Proposals",
    fields=ContractFields,
    search=("title", "party_name"),
    filters={
        "status": "eq",
        "party_id": "eq",
        "party_type": "eq",
        "deal_id": "eq",
        "project_id": "eq",
        "proposal_id": "eq",
    },
    sort=("title", "value", "starts_at", "ends_at", "created_at", "updated_at"),
    default_sort="-starts_at",
    date_field="ends_at",
    hooks=Hooks(before_create=_before_create, before_update=_before_update),
    actions=(
        Action(
            "sign",
            "Record a contract's signature",
            run=sign,
            input=SignIn,
            example={"signer": "Dana Reyes", "signed_at": "2026-11-05"},
        ),
        Action(
            "terminate",
            "Terminate a contract",
            run=terminate,
            input=TerminateIn,
            example={"reason": "Customer closed the account", "terminated_at": InDays(29)},
        ),
        Action(
            "copy",
            "Copy a contract (without its signature)",
            run=copy,
            status_code=201,
            description="A new, unsigned contract with the same terms; a copy never carries "
            "the signature, the termination or the proposal link.",
        ),
    ),
    present=present,
    rewrite_filters=rewrite_status,
    example={
        "party_id": Ref("contacts", type="customer"),
        "title": "Support and maintenance",
        "value": 24000,
        "starts_at": InDays(30),
        "ends_at": InDays(394),
        "renewal": {"automatic": True, "term_months": 12, "notice_days": 60},
    },
)


class ExpiringQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    within_days: QueryInt = Field(30, ge=0, le=3650, description="Days from today")


class ExpiringOut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    as_of: str
    within_days: int
    contracts: list[CONTRACTS.read]  # type: ignore[name-defined]


async def expiring(ctx: Ctx, q: ExpiringQuery) -> dict[str, Any]:
    """Contracts not terminated whose running term ends within N days (automatic renewals
    by their notice date, the day that needs a decision), soonest first."""
    on = today()
    until = (date.fromisoformat(on) + timedelta(days=q.within_days)).isoformat()
    docs = await ctx.store.find(
        "contracts",
        ctx.scope(status="live", ends_at={"$ne": None}, starts_at={"$lte": until}),
        sort=[("ends_at", 1)],
    )
    found = []
    for doc in docs:
        shown = present({"id": doc["_id"], **doc})
        due = shown["notice_by"] or shown["current_end_at"]
        if shown["status"] in ("active", "draft") and due is not None and due <= until:
            found.append((due, doc))
    found.sort(key=lambda pair: pair[0])
    return {
        "as_of": on,
        "within_days": q.within_days,
        "contracts": await resources.view_many(ctx, CONTRACTS, [d for _, d in found]),
    }


EXPIRING = Report(
    path="contracts/expiring",
    summary="Contracts whose term ends (or whose notice is due) within N days",
    module="contracts",
    tag="Contracts & Proposals",
    query=ExpiringQuery,
    run=expiring,
    output=ExpiringOut,
)
