"""What Tai knows at a glance: the status summary, the roadmap, and the registered experts.

- `GET /api/tai/status`: open bugs by severity and by domain, regressions (bugs regressed
  now, and the regressions ever counted), open flaky bugs, the active sprint's progress,
  the company's queue depth (its jobs queued or running) and the last commit CI reported.
- `GET /api/tai/roadmap`: releases (features' `target_release`, in order; `unscheduled`
  last) with their features and progress (shipped of all, in percent).
- Experts (`GET /api/tai/experts`; beyond the spec, registered and updated with
  `POST`/`PUT /api/tai/experts`): one per domain, with its scope, the keywords that route
  a question to it, the tools (tracker reads) it may use and its model (null: the one
  configured for the platform). Every new company gets a general expert and one per core
  product area; Tai routes a question to the expert whose domain or keywords it names,
  else to the general one (`agents/tai.py`).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from domain import resources
from domain.context import Ctx
from domain.fields import LongText, Name, ShortText, StrictBool
from domain.resources import CompanyStart, Declared, Report, Resource
from domain.tai import bugs, features, sprints, triage
from memory.ids import new_id, utcnow
from memory.store import CollectionSpec, declare

EXPERTS = "tai_experts"
Tool = Literal["bugs", "features", "sprints", "roadmap", "log"]
TOOLS: tuple[str, ...] = Tool.__args__  # type: ignore[attr-defined]

declare(
    CollectionSpec(
        EXPERTS,
        fields=("company_id", "domain", "created_at"),
        indexes=(
            ("company_id", "domain"),
            ("company_id", "name"),
            ("company_id", "enabled"),
            ("company_id", "created_at"),
            ("company_id", "updated_at"),
        ),
        unique=(("company_id", "domain"),),
    )
)


class NoQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SprintProgress(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    name: str
    ends_at: str
    items: int
    done: int
    percent: float


class StatusOut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    open_bugs: int
    by_severity: dict[str, int]
    by_domain: dict[str, int]
    regressed: int = Field(description="Bugs regressed now")
    regressions: int = Field(description="Regressions ever counted, over all bugs")
    flaky: int = Field(description="Open bugs seen flaky")
    active_sprint: SprintProgress | None
    queue_depth: int = Field(description="This company's jobs queued or running")
    last_commit: str | None = Field(description="The last commit CI reported a failure on")
    last_ci_at: str | None


async def status(ctx: Ctx, query: NoQuery | None = None) -> dict[str, Any]:
    rows = await ctx.store.sum_by(
        bugs.COLLECTION,
        ctx.scope(status={"$in": list(bugs.OPEN)}),
        by=("severity", "domain"),
        sums=(),
    )
    by_severity = dict.fromkeys(bugs.SEVERITY_RANK, 0)
    by_domain: dict[str, int] = {}
    for row in rows:
        by_severity[row["severity"]] += row["count"]
        by_domain[row["domain"]] = by_domain.get(row["domain"], 0) + row["count"]
    regressions = await ctx.store.sum_by(bugs.COLLECTION, ctx.scope(), by=(), sums=("regressions",))
    active = await ctx.store.find_one(sprints.COLLECTION, ctx.scope(status="active"))
    progress = None
    if active is not None:
        progress = {
            "id": active["_id"],
            "name": active["name"],
            "ends_at": active["ends_at"],
            **await sprints.progress_of(ctx, active),
        }
    last = await ctx.store.find_one(triage.OCCURRENCES, ctx.scope(), sort=[("created_at", -1)])
    return {
        "open_bugs": sum(by_severity.values()),
        "by_severity": by_severity,
        "by_domain": dict(sorted(by_domain.items(), key=lambda kv: (-kv[1], kv[0]))),
        "regressed": await ctx.store.count(bugs.COLLECTION, ctx.scope(status="regressed")),
        "regressions": int(regressions[0]["regressions"] or 0) if regressions else 0,
        "flaky": await ctx.store.count(
            bugs.COLLECTION, ctx.scope(flaky=True, status={"$in": list(bugs.OPEN)})
        ),
        "active_sprint": progress,
        "queue_depth": await ctx.store.count(
            "jobs", ctx.scope(status={"$in": ["queued", "running"]})
        ),
        "last_commit": last.get("commit") if last else None,
        "last_ci_at": last["created_at"] if last else None,
    }


class RoadmapFeature(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    title: str
    status: str
    priority: str
    open_bugs: int


class RoadmapRelease(BaseModel):
    model_config = ConfigDict(extra="forbid")
    release: str
    total: int
    shipped: int
    progress: float = Field(description="Shipped of all, in percent")
    features: list[RoadmapFeature]


class Roadmap(BaseModel):
    model_config = ConfigDict(extra="forbid")
    releases: list[RoadmapRelease]


async def roadmap(ctx: Ctx, query: NoQuery | None = None) -> dict[str, Any]:
    docs = await ctx.store.find(features.COLLECTION, ctx.scope(), sort=[("created_at", 1)])
    docs = await features.FEATURES.enrich(ctx, docs)  # type: ignore[misc]
    releases: dict[str, list[dict[str, Any]]] = {}
    for d in docs:
        releases.setdefault(d.get("target_release") or features.UNSCHEDULED, []).append(d)
    out = []
    for name, items in sorted(releases.items(), key=lambda kv: features.release_key(kv[0])):
        items.sort(key=lambda d: (features.PRIORITY_RANK[d["priority"]], d["created_at"]))
        shipped = sum(1 for d in items if d["status"] == "shipped")
        out.append(
            {
                "release": name,
                "total": len(items),
                "shipped": shipped,
                "progress": round(100 * shipped / len(items), 1),
                "features": [
                    {
                        "id": d["_id"],
                        "title": d["title"],
                        "status": d["status"],
                        "priority": d["priority"],
                        "open_bugs": d["open_bugs"],
                    }
                    for d in items
                ],
            }
        )
    return {"releases": out}


STATUS = Report(
    path="tai/status",
    summary="Get system state summary",
    module="tai",
    tag="Tai Dev Lifecycle",
    query=NoQuery,
    run=status,
    output=StatusOut,
)

ROADMAP = Report(
    path="tai/roadmap",
    summary="Get current roadmap",
    module="tai",
    tag="Tai Dev Lifecycle",
    query=NoQuery,
    run=roadmap,
    output=Roadmap,
)


class ExpertFields(Declared):
    name: Name
    domain: bugs.DomainName = Field(description="The product area it answers for; unique")
    scope: LongText | None = Field(None, description="What it knows about")
    keywords: list[ShortText] = Field(default_factory=list, max_length=50)
    tools: list[Tool] = Field(default_factory=lambda: list(TOOLS))
    model: ShortText | None = Field(None, description="Null: the platform's configured model")
    enabled: StrictBool = True


EXPERT_RESOURCE = Resource(
    name="tai/experts",
    label="expert",
    collection=EXPERTS,
    module="tai",
    tag="Tai Dev Lifecycle",
    fields=ExpertFields,
    search=("name", "domain"),
    filters={"domain": "eq", "enabled": "eq"},
    sort=("name", "domain", "created_at", "updated_at"),
    default_sort="domain",
    conflict="an expert for this domain already exists; update it instead",
    example={
        "name": "Reporting expert",
        "domain": "reporting",
        "scope": "Financial statements and their figures",
        "keywords": ["report", "balance sheet", "profit"],
        "tools": ["bugs", "features"],
    },
)

DEFAULT_EXPERTS: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("Tai", "general", "The whole tracker: bugs, features, sprints, roadmap", ()),
    ("Invoicing expert", "invoices", "Invoices, bills, credit notes", ("invoice", "bill")),
    ("Inventory expert", "inventory", "Items, stock, warehouses", ("stock", "warehouse")),
    ("Banking expert", "banking", "Bank accounts, feeds, reconciliation", ("bank", "feed")),
    ("Payroll expert", "payroll", "Pay runs, employees, payslips", ("pay run", "payslip")),
    ("CRM expert", "crm", "Leads, deals, pipelines", ("lead", "deal", "pipeline")),
)


async def _give_experts(ctx: Ctx, company: dict[str, Any]) -> None:
    now = utcnow()
    await ctx.store.insert_many(
        EXPERTS,
        [
            {
                "_id": new_id(),
                "company_id": ctx.company_id,
                "name": name,
                "domain": domain,
                "scope": scope,
                "keywords": list(keywords),
                "tools": list(TOOLS),
                "model": None,
                "enabled": True,
                "created_by": ctx.user_id,
                "created_at": now,
                "updated_at": now,
            }
            for name, domain, scope, keywords in DEFAULT_EXPERTS
        ],
    )


DEFAULT_EXPERT_SET = CompanyStart("tai.default_experts", _give_experts)


async def experts(ctx: Ctx) -> list[dict[str, Any]]:
    docs = await ctx.store.find(EXPERTS, ctx.scope(enabled=True), sort=[("domain", 1)])
    return await resources.view_many(ctx, EXPERT_RESOURCE, docs)
