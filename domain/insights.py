"""AI insights: what an analysis is asked (`AnalyseIn`), the insight it stores, and the audit
trail of every run.

Both records take the job's id as their own `_id`: a retried job that reaches its last step
twice finds its insight already stored and writes nothing again, and each job has exactly one
audit row (a failed attempt's row is replaced by the run that succeeds). The audit row keeps
who asked, when, what, which provider and model answered, the tokens, the duration, the
sha256 of the canonical facts JSON (so a stored insight can be checked against a recomputed
report) and the validation outcome.
"""

from __future__ import annotations

import time
from typing import Any, Literal, Protocol

from pydantic import ConfigDict, Field

from domain.context import Ctx
from domain.errors import Invalid
from domain.fields import Day, Input, ObjectIdStr, Output
from domain.resources import Declared, Resource, Server, present
from memory.ids import utcnow
from memory.queue import JobQueue
from memory.store import CollectionSpec, DocumentStore, declare

ReportKind = Literal[
    "profit_and_loss", "balance_sheet", "cash_flow", "aged_receivables", "aged_payables"
]
AT_DATE = frozenset({"balance_sheet", "aged_receivables", "aged_payables"})
KIND = "insight.analyse"
STEPS = ("load_report", "compute_facts", "recall_memory", "narrate", "validate", "persist")

declare(
    CollectionSpec(
        "insights",
        fields=("company_id", "created_at", "report", "job_id"),
        indexes=(("company_id", "created_at"),),
    )
)
declare(
    CollectionSpec(
        "insight_audit",
        fields=("company_id", "created_at", "user_id", "status", "report", "job_id"),
        indexes=(
            ("company_id", "created_at"),
            ("company_id", "user_id", "created_at"),
            ("company_id", "status"),
            ("company_id", "report"),
        ),
    )
)


class AnalyseIn(Input):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    report: ReportKind = Field(description="Which report to analyse")
    from_: Day | None = Field(
        None, alias="from", description="Period start (profit and loss, cash flow)"
    )
    to: Day = Field(description="Period end; for a balance sheet or ageing, the as-of date")
    compare_from: Day | None = Field(None, description="Comparison period start")
    compare_to: Day | None = Field(
        None, description="Comparison period end, or the comparison as-of date"
    )


def request(body: AnalyseIn) -> dict[str, Any]:
    """The job input for a valid request; `Invalid` names the field that breaks a rule."""
    at_date = body.report in AT_DATE

    def bad(field: str, message: str) -> Invalid:
        return Invalid(f"{field}: {message}", details=[{"field": field, "message": message}])

    if at_date:
        for field, value in (("from", body.from_), ("compare_from", body.compare_from)):
            if value is not None:
                raise bad(field, f"{body.report} is at a date: send `to` (and `compare_to`)")
    else:
        if body.from_ is None:
            raise bad("from", f"{body.report} covers a period: send `from` and `to`")
        if body.to < body.from_:
            raise bad("to", "the period ends before it starts")
        if (body.compare_from is None) != (body.compare_to is None):
            raise bad("compare_to", "send both compare_from and compare_to, or neither")
        if body.compare_from and body.compare_to and body.compare_to < body.compare_from:
            raise bad("compare_to", "the comparison period ends before it starts")
    out: dict[str, Any] = {"report": body.report, "to": body.to.isoformat()}
    for key, value in (
        ("from", body.from_),
        ("compare_from", body.compare_from),
        ("compare_to", body.compare_to),
    ):
        if value is not None:
            out[key] = value.isoformat()
    return out


WORKFLOWS: list[dict[str, Any]] = [
    {
        "name": KIND,
        "title": "Report analysis",
        "description": (
            "Loads a report, computes its facts (totals, changes against the comparison "
            "period, largest movers, overdue concentration, ratios), recalls what the "
            "company's world memory holds, narrates, checks every figure of the narrative "
            "against the facts and stores the insight."
        ),
        "endpoints": ["POST /api/ai-insights/analyse", "POST /api/ai-insights/analyse-stream"],
        "steps": list(STEPS),
        "events": ["progress", "fact", "token", "result", "error"],
        "inputs": AnalyseIn.model_json_schema(by_alias=True),
    }
]


# --- the records ----------------------------------------------------------------------------


class UserRef(Output):
    id: str
    name: str | None = None
    email: str | None = None


class AuditFields(Declared):
    """Audit rows are written by the analysis: every field is the server's."""

    job_id: Server[ObjectIdStr]
    user_id: Server[ObjectIdStr]
    user: Server[UserRef | None] = None
    status: Server[Literal["succeeded", "failed"]]
    report: Server[str]
    input: Server[dict[str, Any]]
    provider: Server[str | None] = None
    model: Server[str | None] = None
    usage: Server[dict[str, Any]]
    duration_ms: Server[int | None] = None
    facts_digest: Server[str | None] = None
    validation: Server[str | None] = None
    error: Server[dict[str, Any] | None] = None
    finished_at: Server[str | None] = None


class InsightFields(Declared):
    """An insight is written by the analysis: every field is the server's."""

    job_id: Server[str]
    report: Server[str]
    input: Server[dict[str, Any]]
    currency: Server[str | None] = None
    summary: Server[str]
    findings: Server[list[dict[str, Any]]]
    facts: Server[list[dict[str, Any]]]
    facts_digest: Server[str]
    provider: Server[str]
    model: Server[str]
    offline: Server[bool]
    notice: Server[str | None] = None
    usage: Server[dict[str, Any]]
    validation: Server[dict[str, Any]]
    memory: Server[dict[str, Any] | None] = None
    duration_ms: Server[int | None] = None


async def _who(ctx: Ctx, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Name the users of the rows (one read for the page)."""
    ids = list({row["user_id"] for row in rows})
    users = await ctx.store.find("users", {"_id": {"$in": ids}}) if ids else []
    names = {
        u["_id"]: {"id": u["_id"], "name": u.get("name"), "email": u.get("email")} for u in users
    }
    return [{**row, "user": names.get(row["user_id"], {"id": row["user_id"]})} for row in rows]


AUDIT = Resource(
    name="ai-insights/audit",
    label="audit entry",
    collection="insight_audit",
    module="ai-insights",
    tag="AI Insights",
    fields=AuditFields,
    filters={"user_id": "eq", "status": "eq", "report": "eq"},
    sort=("created_at",),
    default_sort="-created_at",
    date_field="created_at",
    operations=("list",),
    enrich=_who,
)
INSIGHTS = Resource(
    name="ai-insights/insights",
    label="insight",
    collection="insights",
    module="ai-insights",
    tag="AI Insights",
    fields=InsightFields,
    operations=("get",),
)


async def save(ctx: Ctx, insight: dict[str, Any], audit: dict[str, Any]) -> dict[str, Any]:
    """Store the insight and its audit row once per job; answer the stored insight."""
    existing = await ctx.store.find_one("insights", ctx.scope(_id=insight["_id"]))
    if existing is not None:
        return present(INSIGHTS, existing)
    async with ctx.store.transaction():
        await ctx.store.insert_one("insights", {**insight, "company_id": ctx.company_id})
        await ctx.store.delete_many("insight_audit", ctx.scope(_id=audit["_id"]))
        await ctx.store.insert_one("insight_audit", {**audit, "company_id": ctx.company_id})
    return present(INSIGHTS, {**insight, "company_id": ctx.company_id})


async def record_failure(store: DocumentStore, job: dict[str, Any], fields: dict[str, Any]) -> None:
    """The audit row of a run that failed (kept unless a later attempt succeeds)."""
    if await store.find_one("insights", {"_id": job["_id"]}) is not None:
        return
    row = {
        "_id": job["_id"],
        "company_id": job["company_id"],
        "job_id": job["_id"],
        "user_id": job["created_by"],
        "created_at": job["created_at"],
        "finished_at": utcnow(),
        "status": "failed",
        "report": job["input"].get("report", ""),
        "input": job["input"],
        "usage": {},
        **fields,
    }
    async with store.transaction():
        await store.delete_many("insight_audit", {"_id": job["_id"]})
        await store.insert_one("insight_audit", row)


# --- availability (GET /api/ai-insights/status) ---------------------------------------------

PROBE_TTL_S = 30.0


class Model(Protocol):
    """What availability asks of the model layer; `agents.models`' clients are such models
    (the platform builds one at start-up, `services.Services.model`)."""

    provider: str
    model: str
    offline: bool

    async def probe(self) -> bool: ...


class Reachability:
    """Whether the model endpoint answers, probed at most once per `ttl_s`; the offline
    provider always does."""

    def __init__(self, model: Model, ttl_s: float = PROBE_TTL_S):
        self.model = model
        self.ttl_s = ttl_s
        self._until = 0.0
        self._value = False

    async def check(self) -> bool:
        if self.model.offline:
            return True
        if self._until > time.monotonic():
            return self._value
        self._value = await self.model.probe()
        self._until = time.monotonic() + self.ttl_s
        return self._value


async def status(reachability: Reachability, queue: JobQueue | None) -> dict[str, Any]:
    """Which provider answers, whether it is reachable, and whether a worker is there to run
    an analysis (`available`). Without a queue (no Redis) nothing can run."""
    model = reachability.model
    reachable = await reachability.check()
    depth = await queue.depth() if queue is not None else None
    workers = await queue.live_workers() if queue is not None else 0
    return {
        "provider": model.provider,
        "model": model.model,
        "offline": model.offline,
        "reachable": reachable,
        "queue_depth": depth,
        "live_workers": workers,
        "available": reachable and workers > 0,
    }
