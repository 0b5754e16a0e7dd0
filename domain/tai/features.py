"""Features: title, description, domain, priority, target release, the sprint it is planned
in, and a status (idea -> planned -> in_progress -> shipped) moved by its actions (`plan`,
`start`, `ship`, `shelve` back to idea, `reopen` a shipped one) or a PATCH of `status`.

A bug is linked to one feature (`link-bug`; the bug's `feature_id`): linking it again to the
same feature is 409 `already_linked`, to another feature 409 `linked_elsewhere` (unlink it
first by setting the bug's `feature_id` to null). The link is one conditional write, so two
concurrent links of one bug cannot both succeed. A bug of another company is 404.

Each feature answers its `bug_count` and `open_bugs` (open, triaged, in progress,
regressed). The board (`GET /api/tai/features/board`) groups the features by status in
lifecycle order, most urgent first within a column; the stats (`GET
/api/tai/features/stats`) count them by status and by target release, with their open bugs.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from domain import resources
from domain.context import Ctx
from domain.errors import Conflict
from domain.fields import Input, LongText, Name, ObjectIdStr, ShortText
from domain.resources import Action, Alias, Declared, Hooks, Lifecycle, Report, Resource, Server
from domain.tai import bugs, log, scope
from memory.ids import utcnow
from memory.store import CollectionSpec, declare

COLLECTION = scope.FEATURES
Status = Literal["idea", "planned", "in_progress", "shipped"]
STATES: tuple[str, ...] = Status.__args__  # type: ignore[attr-defined]
Priority = Literal["urgent", "high", "medium", "low"]
PRIORITY_RANK = {"urgent": 0, "high": 1, "medium": 2, "low": 3}
UNSCHEDULED = "unscheduled"

declare(
    CollectionSpec(
        COLLECTION,
        fields=("company_id", "status", "priority", "target_release", "created_at"),
        indexes=(
            ("company_id", "status"),
            ("company_id", "priority"),
            ("company_id", "target_release"),
            ("company_id", "domain"),
            ("company_id", "sprint_id"),
            ("company_id", "title"),
            ("company_id", "created_at"),
            ("company_id", "updated_at"),
        ),
    )
)


class FeatureFields(Declared):
    title: Name
    description: LongText | None = None
    domain: bugs.DomainName = Field("general", description="The product area")
    status: Status = Field("idea", description="Created as an idea or planned; then actions")
    priority: Priority = "medium"
    target_release: ShortText | None = Field(None, description="e.g. 2027.1 or 2027-Q1")
    sprint_id: ObjectIdStr | None = Field(None, description="The sprint it is planned in")
    shipped_at: Server[str | None] = None
    bug_count: Server[int] = 0
    open_bugs: Server[int] = 0


async def _before_create(ctx: Ctx, data: dict[str, Any]) -> dict[str, Any]:
    await scope.check_sprint(ctx, data.get("sprint_id"))
    return data


async def _after_create(ctx: Ctx, doc: dict[str, Any]) -> None:
    await log.record(
        ctx, "feature.created", f"Feature {doc['title']!r} added", feature_id=doc["_id"]
    )
    await scope.moved(ctx, "feature", doc["_id"], None, doc.get("sprint_id"))


async def _before_update(
    ctx: Ctx, existing: dict[str, Any], changes: dict[str, Any]
) -> dict[str, Any]:
    if "sprint_id" in changes:
        await scope.check_sprint(ctx, changes["sprint_id"])
        await scope.moved(
            ctx, "feature", existing["_id"], existing.get("sprint_id"), changes["sprint_id"]
        )
    return changes


async def _entered(ctx: Ctx, doc: dict[str, Any], previous: str) -> None:
    state = doc["status"]
    shipped = {"shipped_at": utcnow()} if state == "shipped" else {"shipped_at": None}
    await ctx.store.update_one(COLLECTION, ctx.scope(_id=doc["_id"]), {"$set": shipped})
    await log.record(
        ctx,
        f"feature.{state}",
        f"Feature {doc['title']!r}: {previous} -> {state}",
        feature_id=doc["_id"],
        previous=previous,
    )


class LinkBugIn(Input):
    bug_id: ObjectIdStr = Field(description="A bug of this company")


async def link_bug(ctx: Ctx, feature: dict[str, Any], body: LinkBugIn) -> dict[str, Any]:
    bug = await resources.fetch(ctx, bugs.BUGS, body.bug_id)
    linked = await ctx.store.update_one(
        bugs.COLLECTION,
        ctx.scope(_id=bug["_id"], feature_id=None),
        {"$set": {"feature_id": feature["_id"], "updated_at": utcnow()}},
    )
    if linked is None:
        current = await resources.fetch(ctx, bugs.BUGS, body.bug_id)
        if current.get("feature_id") == feature["_id"]:
            raise Conflict(
                f"bug {bug['_id']} is already linked to this feature",
                code="already_linked",
            )
        raise Conflict(
            f"bug {bug['_id']} is linked to feature {current['feature_id']}; set its "
            "feature_id to null first to move it",
            code="linked_elsewhere",
            details=[{"field": "bug_id", "feature_id": current["feature_id"]}],
        )
    await log.record(
        ctx,
        "feature.bug_linked",
        f"Bug {bug['title']!r} linked to feature {feature['title']!r}",
        feature_id=feature["_id"],
        bug_id=bug["_id"],
    )
    return linked


async def bug_counts(ctx: Ctx, feature_ids: list[str]) -> dict[str, tuple[int, int]]:
    """Per feature: (bugs linked, open bugs linked)."""
    if not feature_ids:
        return {}
    rows = await ctx.store.sum_by(
        bugs.COLLECTION,
        ctx.scope(feature_id={"$in": feature_ids}),
        by=("feature_id", "status"),
        sums=(),
    )
    total: Counter[str] = Counter()
    open_: Counter[str] = Counter()
    for row in rows:
        total[row["feature_id"]] += row["count"]
        if row["status"] in bugs.OPEN:
            open_[row["feature_id"]] += row["count"]
    return {f: (total[f], open_[f]) for f in feature_ids}


async def _figures(ctx: Ctx, docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    counts = await bug_counts(ctx, [d["_id"] for d in docs])
    return [{**d, "bug_count": counts[d["_id"]][0], "open_bugs": counts[d["_id"]][1]} for d in docs]


FEATURES = Resource(
    name="tai/features",
    aliases=(
        Alias("create", "tai/feature", summary="Add a feature"),
        Alias(
            "update",
            "tai/feature/{featureId}",
            method="PATCH",
            id_name="featureId",
            summary="Update a tai feature",
        ),
        Alias(
            "link-bug",
            "tai/feature/{featureId}/link-bug",
            id_name="featureId",
            summary="Create a tai feature link bug",
        ),
    ),
    label="feature",
    collection=COLLECTION,
    module="tai",
    tag="Tai Features",
    fields=FeatureFields,
    search=("title",),
    filters={
        "status": "eq",
        "priority": "eq",
        "target_release": "eq",
        "domain": "eq",
        "sprint_id": "eq",
    },
    sort=("created_at", "updated_at", "title", "priority", "target_release"),
    default_sort="-created_at",
    hooks=Hooks(
        before_create=_before_create, after_create=_after_create, before_update=_before_update
    ),
    lifecycle=Lifecycle(
        states=STATES, initial=("idea", "planned"), on_enter=dict.fromkeys(STATES, _entered)
    ),
    actions=(
        Action("plan", "Plan a feature", from_states=("idea",), to="planned"),
        Action("start", "Start a feature", from_states=("idea", "planned"), to="in_progress"),
        Action("ship", "Ship a feature", from_states=("planned", "in_progress"), to="shipped"),
        Action(
            "shelve",
            "Put a feature back to ideas",
            from_states=("planned", "in_progress"),
            to="idea",
        ),
        Action("reopen", "Reopen a shipped feature", from_states=("shipped",), to="in_progress"),
        Action(
            "link-bug",
            "Create a tai feature link bug",
            run=link_bug,
            input=LinkBugIn,
            output=bugs.BUGS,
            status_code=201,
            example={"bug_id": resources.Ref("tai/bugs")},
            description="Link a bug of this company to the feature (answers the bug); a "
            "second link of the same bug is 409.",
        ),
    ),
    enrich=_figures,
    example={
        "title": "Recurring invoices",
        "description": "Send an invoice every month from a template.",
        "domain": "invoices",
        "priority": "high",
        "target_release": "2027.1",
    },
)


class NoQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Card(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    title: str
    priority: str
    domain: str
    target_release: str | None
    open_bugs: int


class Column(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: str
    count: int
    features: list[Card]


class Board(BaseModel):
    model_config = ConfigDict(extra="forbid")
    columns: list[Column]
    total: int


async def _all(ctx: Ctx) -> list[dict[str, Any]]:
    docs = await ctx.store.find(COLLECTION, ctx.scope(), sort=[("created_at", 1)])
    return await _figures(ctx, docs)


async def board(ctx: Ctx, query: NoQuery) -> dict[str, Any]:
    docs = await _all(ctx)
    columns = []
    for state in STATES:
        cards = sorted(
            (d for d in docs if d["status"] == state),
            key=lambda d: (PRIORITY_RANK[d["priority"]], d["created_at"], d["_id"]),
        )
        columns.append(
            {
                "status": state,
                "count": len(cards),
                "features": [
                    {
                        "id": d["_id"],
                        "title": d["title"],
                        "priority": d["priority"],
                        "domain": d["domain"],
                        "target_release": d.get("target_release"),
                        "open_bugs": d["open_bugs"],
                    }
                    for d in cards
                ],
            }
        )
    return {"columns": columns, "total": len(docs)}


class Release(BaseModel):
    model_config = ConfigDict(extra="forbid")
    release: str
    total: int
    by_status: dict[str, int]
    open_bugs: int


class Stats(BaseModel):
    model_config = ConfigDict(extra="forbid")
    total: int
    by_status: dict[str, int]
    by_priority: dict[str, int]
    by_release: list[Release]
    open_bugs: int = Field(description="Open bugs linked to a feature")
    shipped_percent: float


def release_key(release: str) -> tuple[int, str]:
    return (1, "") if release == UNSCHEDULED else (0, release)


async def stats(ctx: Ctx, query: NoQuery) -> dict[str, Any]:
    docs = await _all(ctx)
    releases: dict[str, list[dict[str, Any]]] = {}
    for d in docs:
        releases.setdefault(d.get("target_release") or UNSCHEDULED, []).append(d)
    shipped = sum(1 for d in docs if d["status"] == "shipped")
    return {
        "total": len(docs),
        "by_status": {s: sum(1 for d in docs if d["status"] == s) for s in STATES},
        "by_priority": {p: sum(1 for d in docs if d["priority"] == p) for p in PRIORITY_RANK},
        "by_release": [
            {
                "release": name,
                "total": len(items),
                "by_status": {s: sum(1 for d in items if d["status"] == s) for s in STATES},
                "open_bugs": sum(d["open_bugs"] for d in items),
            }
            for name, items in sorted(releases.items(), key=lambda kv: release_key(kv[0]))
        ],
        "open_bugs": sum(d["open_bugs"] for d in docs),
        "shipped_percent": round(100 * shipped / len(docs), 1) if docs else 0.0,
    }


BOARD = Report(
    path="tai/features/board",
    summary="Get feature board",
    module="tai",
    tag="Tai Features",
    query=NoQuery,
    run=board,
    output=Board,
    description="Features grouped by status in lifecycle order (idea, planned, in_progress, "
    "shipped), most urgent first within a column, with their open bugs.",
)

STATS = Report(
    path="tai/features/stats",
    summary="Get feature stats",
    module="tai",
    tag="Tai Features",
    query=NoQuery,
    run=stats,
    output=Stats,
    description="Features counted by status, priority and target release, with their open bugs.",
)
