"""Bug-fix runs: what a run found and proposed, the bugs it triaged, repairs confirmed later.

A run (`tai_bugfix_runs`, `_id` = the job's id) is written once, when its graph persists:
its groups, evidence, proposals and their re-validation, the invariants it checked and the
narrative. In the same transaction each bug it covered moves to `triaged` (one in progress
keeps its state) with a note naming the run and its proposal (Tai's `set_status`), and
Tai's log records the run. A retried job that reaches persist again finds the run stored
and writes nothing twice.

A run never changes data. A repair is applied only by `confirm_repair`, called by an owner
or admin: in one transaction it checks that the row still holds what the run saw (else 409
`repair_stale`: re-run to see the data as it is now), sets the planned fields, re-checks
the invariant (a repair that does not restore it is rolled back: 409 `repair_not_restored`),
and writes the audit row (`tai_bugfix_repairs`: who, when, before, after) and Tai's log.
A proposal is repaired at most once (409 `repair_applied`).
"""

from __future__ import annotations

import statistics
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from domain.bugfix import invariants
from domain.context import Ctx
from domain.errors import Conflict, Invalid, not_found
from domain.fields import Input, ShortText
from domain.resources import (
    Declared,
    JobOperation,
    PathParam,
    Report,
    Resource,
    Server,
    authorize,
    check_id,
)
from domain.tai import bugs as tai_bugs
from domain.tai import log
from memory.ids import new_id, utcnow
from memory.store import CollectionSpec, declare

RUNS = "tai_bugfix_runs"
REPAIRS = "tai_bugfix_repairs"
MODULE = "tai"
TAG = "Tai Bugfixer"
KIND = "bugfix.run"
STEPS = ("collect", "group", "localise", "diagnose", "propose", "validate", "persist")

declare(
    CollectionSpec(
        RUNS,
        fields=("company_id", "domain", "created_at"),
        indexes=(("company_id", "domain", "created_at"), ("company_id", "created_at")),
    )
)
declare(
    CollectionSpec(
        REPAIRS,
        fields=("company_id", "run_id", "proposal_id", "domain", "created_at"),
        indexes=(("company_id", "domain"), ("company_id", "created_at")),
        unique=(("company_id", "run_id", "proposal_id"),),
    )
)


class RunFields(Declared):
    """Written by the conductor: every field is the server's."""

    job_id: Server[str]
    domain: Server[str]
    status: Server[Literal["succeeded"]]
    bugs: Server[int] = Field(description="Open bugs collected")
    groups: Server[list[dict[str, Any]]] = Field(description="Groups with their evidence")
    proposals: Server[list[dict[str, Any]]]
    invariants: Server[list[dict[str, Any]]] = Field(description="Checked, with violations")
    counts: Server[dict[str, int]] = Field(
        description="bugs, groups, triaged, proposed, validated (reproduced), repairs planned, "
        "invariants checked and violated: proposed and validated are separate counts"
    )
    narrative: Server[str]
    provider: Server[str]
    model: Server[str]
    offline: Server[bool]
    notice: Server[str | None] = None
    validation: Server[dict[str, Any]]
    started_at: Server[str]
    finished_at: Server[str]
    triage_seconds: Server[list[float]] = Field(
        description="Per bug: from first seen to triaged by this run"
    )


RUN = Resource(
    name="tai/bugfix/runs",
    label="bug-fix run",
    collection=RUNS,
    module=MODULE,
    tag=TAG,
    fields=RunFields,
    filters={"domain": "eq"},
    sort=("created_at",),
    operations=("list", "get"),
    description="What each run of the bug-fix conductor found and proposed.",
)


def domains() -> list[str]:
    """The product areas a run can be asked for (any other: a bug's own domain)."""
    from domain.modules.catalogue import CATALOGUE

    known = {m.alias for m in CATALOGUE} | {d for i in invariants.INVARIANTS for d in i.domains}
    return sorted(known - {invariants.ALL} | {"general"})


async def check_domain(ctx: Ctx, domain: str) -> str:
    name = domain.strip().lower()
    if name in domains():
        return name
    if await ctx.store.find_one(tai_bugs.COLLECTION, ctx.scope(domain=name)):
        return name
    raise Invalid(
        f"domain: {domain!r} is no product area of Numbors and no bug of this company names "
        f"it; one of {', '.join(domains())}",
        code="unknown_domain",
        details=[{"field": "domain", "message": "unknown product area"}],
    )


class BugfixIn(Input):
    note: str | None = Field(None, max_length=500, description="Why the run was started")


async def _prepare_run(ctx: Ctx, body: BugfixIn, domain: str) -> dict[str, Any]:
    return {"domain": await check_domain(ctx, domain), "note": body.note}


START = JobOperation(
    path="tai/bugfix/{domain}",
    summary="Create a tai bugfix",
    module="tai",
    tag="Tai Bugfixer",
    kind=KIND,
    input=BugfixIn,
    prepare=_prepare_run,
    params=(
        PathParam(
            "domain",
            "A product area: invoicing, inventory, payroll, ...",
            pattern=r"^[A-Za-z][A-Za-z0-9_-]{0,63}$",
            example="invoices",
        ),
    ),
    example={"note": "Payments look wrong after the import"},
    description="Starts a run of the bug-fix conductor over the domain's open bugs: collect, "
    "group, localise (frames, endpoints, the domain's invariants checked on the data), "
    "diagnose (grounded), propose (fix plan, reproduction, repair plan), validate, persist "
    "(bugs triaged with their proposal). A run never changes data.",
    codes={400: ("unknown_domain",)},
    status_code=201,
)


def _seconds(since: str | None, until: str) -> float | None:
    if not since:
        return None
    parse = lambda s: datetime.fromisoformat(s.replace("Z", "+00:00"))  # noqa: E731
    return max(0.0, (parse(until) - parse(since)).total_seconds())


async def save(ctx: Ctx, run: dict[str, Any], bugs: list[dict[str, Any]]) -> dict[str, Any]:
    """Store the run, triage its bugs with their proposal, log it: once per job."""
    existing = await ctx.store.find_one(RUNS, ctx.scope(_id=run["_id"]))
    if existing is not None:
        return existing
    by_bug = {b: p for p in run["proposals"] for b in p["bug_ids"]}
    now = utcnow()
    waited = []
    async with ctx.store.transaction():
        for bug in bugs:
            proposal = by_bug.get(bug["id"])
            if proposal is None:
                continue
            target = "triaged" if bug["status"] in ("open", "regressed") else bug["status"]
            note = f"Bug-fix run {run['_id']}: proposal {proposal['id']}: {proposal['summary']}"
            await tai_bugs.set_status(ctx, bug["id"], target, note)
            seconds = _seconds(bug.get("first_seen_at") or bug.get("created_at"), now)
            if seconds is not None:
                waited.append(seconds)
        doc = {
            **run,
            "company_id": ctx.company_id,
            "created_by": ctx.user_id,
            "created_at": now,
            "updated_at": now,
            "finished_at": now,
            "triage_seconds": waited,
        }
        await ctx.store.insert_one(RUNS, doc)
        counts = run["counts"]
        await log.record(
            ctx,
            "conductor.bugfix",
            f"Bug-fix run over {run['domain']}: {counts['bugs']} bugs in {counts['groups']} "
            f"groups, {counts['proposed']} proposals, {counts['validated']} validated, "
            f"{counts['violations']} invariant violations",
            run_id=run["_id"],
            domain=run["domain"],
            counts=counts,
        )
    return doc


class ConfirmIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: ShortText | None = Field(None, description="Why, for the audit trail")


async def confirm_repair(
    ctx: Ctx, run_id: str, proposal_id: str, note: str | None = None
) -> dict[str, Any]:
    authorize(ctx, "admin")
    check_id(RUN, run_id)
    async with ctx.store.transaction():
        run = await ctx.store.find_one(RUNS, ctx.scope(_id=run_id))
        if run is None:
            raise not_found("bug-fix run", run_id)
        proposal = next((p for p in run["proposals"] if p["id"] == proposal_id), None)
        if proposal is None:
            raise not_found("proposal", proposal_id)
        plan = proposal.get("repair")
        if plan is None:
            raise Conflict(
                f"proposal {proposal_id} is a code fix, not a data repair: there is nothing "
                "to apply to the data",
                code="no_repair",
            )
        if await ctx.store.find_one(REPAIRS, ctx.scope(run_id=run_id, proposal_id=proposal_id)):
            raise Conflict(f"proposal {proposal_id} was repaired already", code="repair_applied")
        row = await ctx.store.find_one(plan["collection"], ctx.scope(_id=plan["id"]))
        now_values = {k: (row or {}).get(k) for k in plan["before"]}
        if row is None or now_values != plan["before"]:
            raise Conflict(
                f"{plan['label']} changed since the run saw it ({now_values} now, "
                f"{plan['before']} then): run the bug-fix conductor again",
                code="repair_stale",
                details=[{"now": now_values, "then": plan["before"]}],
            )
        await ctx.store.update_one(
            plan["collection"],
            ctx.scope(_id=plan["id"]),
            {"$set": {**plan["after"], "updated_at": utcnow()}},
        )
        after = await invariants.BY_KEY[plan["invariant"]].check(ctx)
        subjects = {plan["id"], proposal["reproduction"].get("id")}
        if any(v["id"] in subjects for v in after):
            raise Conflict(
                f"the repair of {plan['label']} does not restore {plan['invariant']}; "
                "nothing was changed",
                code="repair_not_restored",
            )
        record = {
            "_id": new_id(),
            "company_id": ctx.company_id,
            "run_id": run_id,
            "proposal_id": proposal_id,
            "domain": run["domain"],
            "invariant": plan["invariant"],
            "collection": plan["collection"],
            "row_id": plan["id"],
            "label": plan["label"],
            "before": plan["before"],
            "after": plan["after"],
            "restored": True,
            "note": note,
            "created_by": ctx.user_id,
            "created_at": utcnow(),
        }
        await ctx.store.insert_one(REPAIRS, record)
        await log.record(
            ctx,
            "conductor.repair",
            f"Repair of {plan['label']} confirmed: {plan['invariant']} holds again",
            run_id=run_id,
            proposal_id=proposal_id,
            before=plan["before"],
            after=plan["after"],
        )
        for bug_id in proposal["bug_ids"]:
            status = await _status(ctx, bug_id)
            await tai_bugs.set_status(
                ctx,
                bug_id,
                "fixed" if status in tai_bugs.OPEN else status,
                f"Data repaired by proposal {proposal_id} of run {run_id}",
            )
    out = {k: v for k, v in record.items() if k not in ("_id", "company_id")}
    return {"id": record["_id"], **out}


async def _status(ctx: Ctx, bug_id: str) -> str:
    bug = await ctx.store.find_one(tai_bugs.COLLECTION, ctx.scope(_id=bug_id))
    return (bug or {}).get("status", "open")


class StatsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    domain: ShortText | None = Field(None, description="One product area (default: all)")


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 3) if values else None


def _figures(runs: list[dict[str, Any]], repairs: list[dict[str, Any]]) -> dict[str, Any]:
    counts = [r["counts"] for r in runs]
    waited = [s for r in runs for s in r.get("triage_seconds", [])]
    total = lambda key: sum(c.get(key, 0) for c in counts)  # noqa: E731
    return {
        "runs": len(runs),
        "bugs_triaged": total("triaged"),
        "proposals": total("proposed"),
        "proposals_validated": total("validated"),
        "repairs_planned": total("repairs"),
        "repairs_applied": len(repairs),
        "invariants_checked": total("invariants"),
        "invariants_violated": total("violations"),
        "invariants_restored": sum(1 for r in repairs if r.get("restored")),
        "median_time_to_triage_s": _median(waited),
        "last_run_at": max((r["created_at"] for r in runs), default=None),
    }


class Figures(BaseModel):
    model_config = ConfigDict(extra="forbid")
    runs: int
    bugs_triaged: int
    proposals: int = Field(description="What runs proposed ...")
    proposals_validated: int = Field(description="... and, apart, what re-checking reproduced")
    repairs_planned: int
    repairs_applied: int = Field(description="Confirmed by an owner or admin")
    invariants_checked: int
    invariants_violated: int
    invariants_restored: int
    median_time_to_triage_s: float | None = Field(description="First seen to triaged")
    last_run_at: str | None


class DomainFigures(Figures):
    domain: str


class StatsOut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    total: Figures
    domains: list[DomainFigures]


async def stats(ctx: Ctx, query: StatsQuery) -> dict[str, Any]:
    where = {"domain": query.domain.strip().lower()} if query.domain else {}
    runs = await ctx.store.find(RUNS, ctx.scope(**where), sort=[("created_at", 1)])
    repairs = await ctx.store.find(REPAIRS, ctx.scope(**where))
    names = sorted({r["domain"] for r in runs} | {r["domain"] for r in repairs})
    return {
        "total": _figures(runs, repairs),
        "domains": [
            {
                "domain": name,
                **_figures(
                    [r for r in runs if r["domain"] == name],
                    [r for r in repairs if r["domain"] == name],
                ),
            }
            for name in names
        ],
    }


STATS = Report(
    path="tai/bugfix/stats",
    summary="Get bug-fix stats",
    module=MODULE,
    tag=TAG,
    query=StatsQuery,
    run=stats,
    output=StatsOut,
    description="Runs, bugs triaged, proposals and (counted apart) proposals validated, "
    "repairs planned and applied, invariants violated and restored, median time to triage; "
    "in total and per domain.",
)
