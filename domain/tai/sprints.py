"""Sprints: a name, a goal, start and end dates and a status, `future` -> `active` ->
`closed` (Jira's), through the actions `start` and `complete` or a PATCH of `status`.

- One active sprint at a time in a company: starting a second is 409 `sprint_active`
  naming the active one. Besides the check, the active sprint holds a unique slot in the
  company, so two concurrent starts cannot both win.
- Items (bugs and features) join a sprint by their `sprint_id`; a closed sprint takes none.
  On start the sprint records its committed scope; while active, every item that joins or
  leaves is kept in `scope_history` (Linear's cycle scope history).
- Completing records the sprint's report: committed at start, added and removed after
  start, completed (bugs fixed or closed, features shipped), dropped (bugs wontfix) and
  carried over; unfinished items move to the next sprint (the future sprint starting
  first), or to the backlog (no sprint) when there is none: Linear moves them to the next
  cycle, Jira asks (here: always the next sprint, said in the report's `carried_to`).
- `progress`: the items of the sprint and how many are done (for a closed sprint, from its
  report).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from domain import resources
from domain.context import Ctx
from domain.errors import Conflict, Invalid
from domain.fields import Day, LongText, Name
from domain.resources import (
    Action,
    Alias,
    Declared,
    Hooks,
    InDays,
    Lifecycle,
    Report,
    Resource,
    Server,
)
from domain.tai import bugs, features, log, scope
from memory.ids import utcnow
from memory.store import CollectionSpec, DuplicateKeyError, declare

COLLECTION = scope.SPRINTS
Status = Literal["future", "active", "closed"]
ACTIVE_SLOT = "active"

declare(
    CollectionSpec(
        COLLECTION,
        fields=("company_id", "status", "starts_at", "ends_at", "created_at"),
        indexes=(
            ("company_id", "status", "starts_at"),
            ("company_id", "starts_at"),
            ("company_id", "ends_at"),
            ("company_id", "name"),
            ("company_id", "created_at"),
            ("company_id", "updated_at"),
        ),
        unique=(("company_id", "active_slot"),),
    )
)


class ItemRef(BaseModel):
    model_config = ConfigDict(extra="forbid")
    item: Literal["bug", "feature"]
    id: str


class ScopeChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    at: str
    change: Literal["added", "removed"]
    item: Literal["bug", "feature"]
    id: str


class SprintReport(BaseModel):
    model_config = ConfigDict(extra="forbid")
    committed: list[ItemRef]
    added: list[ItemRef]
    removed: list[ItemRef]
    completed: list[ItemRef]
    dropped: list[ItemRef]
    carried_over: list[ItemRef]
    carried_to: str | None = Field(description="The sprint they moved to; null: the backlog")


class Progress(BaseModel):
    model_config = ConfigDict(extra="forbid")
    items: int
    done: int
    percent: float


class SprintFields(Declared):
    name: Name
    goal: LongText | None = None
    starts_at: Day
    ends_at: Day
    status: Status = Field("future", description="Created future; then start and complete")
    started_at: Server[str | None] = None
    completed_at: Server[str | None] = None
    committed: Server[list[ItemRef]] = Field(default_factory=list)
    scope_history: Server[list[ScopeChange]] = Field(default_factory=list)
    report: Server[SprintReport | None] = None
    progress: Server[Progress | None] = None

    @model_validator(mode="after")
    def _dates(self) -> SprintFields:
        if self.ends_at < self.starts_at:
            raise ValueError("ends_at must be on or after starts_at")
        return self


def present(doc: dict[str, Any]) -> dict[str, Any]:
    empty = {"goal": None, "started_at": None, "completed_at": None, "report": None}
    return {**empty, "committed": [], "scope_history": [], **doc}


async def _after_create(ctx: Ctx, doc: dict[str, Any]) -> None:
    await log.record(ctx, "sprint.created", f"Sprint {doc['name']!r} planned", sprint_id=doc["_id"])


async def _before_update(
    ctx: Ctx, existing: dict[str, Any], changes: dict[str, Any]
) -> dict[str, Any]:
    starts = str(changes.get("starts_at") or existing["starts_at"])
    ends = str(changes.get("ends_at") or existing["ends_at"])
    if ends < starts:
        raise Invalid(
            "ends_at must be on or after starts_at",
            details=[{"field": "ends_at", "message": "before starts_at"}],
        )
    return changes


async def items(ctx: Ctx, sprint_id: str) -> list[tuple[str, dict[str, Any]]]:
    found: list[tuple[str, dict[str, Any]]] = []
    for item, collection in (("bug", bugs.COLLECTION), ("feature", features.COLLECTION)):
        docs = await ctx.store.find(collection, ctx.scope(sprint_id=sprint_id), sort=[("_id", 1)])
        found += [(item, d) for d in docs]
    return found


def done(item: str, doc: dict[str, Any]) -> bool:
    return doc["status"] in (("fixed", "closed") if item == "bug" else ("shipped",))


def dropped(item: str, doc: dict[str, Any]) -> bool:
    return item == "bug" and doc["status"] == "wontfix"


def ref(item: str, doc: dict[str, Any]) -> dict[str, str]:
    return {"item": item, "id": doc["_id"]}


async def _started(ctx: Ctx, doc: dict[str, Any], previous: str) -> None:
    active = await ctx.store.find_one(
        COLLECTION, ctx.scope(status="active", _id={"$ne": doc["_id"]})
    )
    if active is not None:
        raise _already_active(active)
    try:
        await ctx.store.update_one(
            COLLECTION,
            ctx.scope(_id=doc["_id"]),
            {
                "$set": {
                    "active_slot": ACTIVE_SLOT,
                    "started_at": utcnow(),
                    "committed": [ref(i, d) for i, d in await items(ctx, doc["_id"])],
                    "scope_history": [],
                }
            },
        )
    except DuplicateKeyError as error:
        raise Conflict(
            "another sprint became active at the same time; complete it first",
            code="sprint_active",
        ) from error
    await log.record(ctx, "sprint.started", f"Sprint {doc['name']!r} started", sprint_id=doc["_id"])


def _already_active(active: dict[str, Any]) -> Conflict:
    return Conflict(
        f"sprint {active['_id']} ({active['name']}) is active; complete it before starting "
        "another (one active sprint at a time)",
        code="sprint_active",
        details=[{"active_sprint_id": active["_id"]}],
    )


async def _completed(ctx: Ctx, doc: dict[str, Any], previous: str) -> None:
    now = utcnow()
    members = await items(ctx, doc["_id"])
    unfinished = [(i, d) for i, d in members if not done(i, d) and not dropped(i, d)]
    following = await ctx.store.find_one(
        COLLECTION, ctx.scope(status="future"), sort=[("starts_at", 1), ("created_at", 1)]
    )
    target = following["_id"] if following else None
    for item, collection in (("bug", bugs.COLLECTION), ("feature", features.COLLECTION)):
        ids = [d["_id"] for i, d in unfinished if i == item]
        if ids:
            change = {"$set": {"sprint_id": target}} if target else {"$unset": {"sprint_id": ""}}
            await ctx.store.update_many(collection, ctx.scope(_id={"$in": ids}), change)
    history = doc.get("scope_history") or []
    report = {
        "committed": doc.get("committed") or [],
        "added": [{"item": h["item"], "id": h["id"]} for h in history if h["change"] == "added"],
        "removed": [
            {"item": h["item"], "id": h["id"]} for h in history if h["change"] == "removed"
        ],
        "completed": [ref(i, d) for i, d in members if done(i, d)],
        "dropped": [ref(i, d) for i, d in members if dropped(i, d)],
        "carried_over": [ref(i, d) for i, d in unfinished],
        "carried_to": target,
    }
    await ctx.store.update_one(
        COLLECTION,
        ctx.scope(_id=doc["_id"]),
        {"$set": {"completed_at": now, "report": report}, "$unset": {"active_slot": ""}},
    )
    where = f"sprint {following['name']!r}" if following else "the backlog"
    await log.record(
        ctx,
        "sprint.completed",
        f"Sprint {doc['name']!r} completed: {len(report['completed'])} done, "
        f"{len(unfinished)} carried over to {where}",
        sprint_id=doc["_id"],
        carried_to=target,
    )


async def progress_of(ctx: Ctx, doc: dict[str, Any]) -> dict[str, Any]:
    if doc.get("report"):
        report = doc["report"]
        total = len(report["completed"]) + len(report["dropped"]) + len(report["carried_over"])
        finished = len(report["completed"])
    else:
        members = await items(ctx, doc["_id"])
        total, finished = len(members), sum(1 for i, d in members if done(i, d))
    percent = round(100 * finished / total, 1) if total else 0.0
    return {"items": total, "done": finished, "percent": percent}


async def _figures(ctx: Ctx, docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**d, "progress": await progress_of(ctx, d)} for d in docs]


SPRINTS = Resource(
    name="tai/sprints",
    aliases=(
        Alias("create", "tai/sprint", summary="Create a sprint"),
        Alias(
            "update",
            "tai/sprint/{sprintId}",
            method="PATCH",
            id_name="sprintId",
            summary="Update a tai sprint",
        ),
    ),
    label="sprint",
    collection=COLLECTION,
    module="tai",
    tag="Tai Sprints",
    fields=SprintFields,
    search=("name",),
    filters={"status": "eq"},
    sort=("starts_at", "ends_at", "name", "created_at", "updated_at"),
    default_sort="-starts_at",
    date_field="starts_at",
    hooks=Hooks(after_create=_after_create, before_update=_before_update),
    lifecycle=Lifecycle(
        states=("future", "active", "closed"),
        initial=("future",),
        editable_in=("future", "active"),
        locked_code="sprint_closed",
        on_enter={"active": _started, "closed": _completed},
    ),
    actions=(
        Action("start", "Start a sprint", from_states=("future",), to="active"),
        Action(
            "complete",
            "Complete a sprint",
            from_states=("active",),
            to="closed",
            description="Records the sprint's report and moves its unfinished items to the "
            "next future sprint, or to the backlog when there is none.",
        ),
    ),
    enrich=_figures,
    present=present,
    example={
        "name": "Sprint 42",
        "goal": "Recurring invoices end to end",
        "starts_at": InDays(5),
        "ends_at": InDays(16),
    },
)


class NoQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")


async def active_sprint(ctx: Ctx, query: NoQuery | None = None) -> dict[str, Any] | None:
    doc = await ctx.store.find_one(COLLECTION, ctx.scope(status="active"))
    return None if doc is None else await resources.view(ctx, SPRINTS, doc)


ACTIVE = Report(
    path="tai/sprint/active",
    summary="Get active sprint",
    module="tai",
    tag="Tai Sprints",
    query=NoQuery,
    run=active_sprint,
    output=SPRINTS.read | None,  # type: ignore[arg-type]
    description="The company's active sprint with its progress; null when none is active.",
)
