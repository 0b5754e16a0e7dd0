"""Pipelines: ordered stages, each with a probability (0-100, whole percent) and an outcome
(`open`, `won` or `lost`).

Rules:
- The order of `stages` is the pipeline's order. A pipeline has at least one open stage,
  exactly one won stage (probability 100) and exactly one lost stage (probability 0), so
  winning and losing a deal always know where it goes. Stage names are unique in it.
- Every stage has a server-assigned id; an update sends the stages back with their ids
  (a stage without an id is new). A stage that still holds deals cannot be removed (409
  `stage_in_use`), and a pipeline with deals cannot be deleted.
- Changing a stage's probability moves the probability of its open deals with it, except
  the deals whose probability was set by hand.
- The default pipeline (Qualification 10, Demo 25, Proposal 50, Negotiation 70, Ready to
  close 90, Won 100, Lost 0) is created lazily, on first use: a deal created without a
  pipeline, a pipeline created, the forecast, or `POST /api/crm/pipelines/default`; so a
  company's first custom pipeline never takes its place. (Company creation is in the
  shared `domain/setup.py`, which this area does not edit; see the report of issue 14.)
- `is_default` marks the pipeline a deal goes to when it names none: setting it on one
  pipeline clears it on the others; it cannot be cleared on the default itself (make
  another the default instead). When the default is deleted (it holds no deal), the oldest
  remaining pipeline becomes the default; the standard one is made only for a company with
  no pipeline at all.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from domain.context import Ctx
from domain.crm import cells
from domain.errors import Conflict, Invalid
from domain.fields import Input, Name, ObjectIdStr, StrictBool, StrictInt
from domain.resources import Action, CompanyStart, Declared, Hooks, Resource, Shown
from memory.ids import new_id, utcnow
from memory.store import CollectionSpec, declare

Outcome = Literal["open", "won", "lost"]

DEFAULT_NAME = "Sales"
DEFAULT_STAGES: tuple[tuple[str, int, Outcome], ...] = (
    ("Qualification", 10, "open"),
    ("Demo", 25, "open"),
    ("Proposal", 50, "open"),
    ("Negotiation", 70, "open"),
    ("Ready to close", 90, "open"),
    ("Won", 100, "won"),
    ("Lost", 0, "lost"),
)

declare(
    CollectionSpec(
        "crm_pipelines",
        fields=("company_id", "name", "is_default", "created_at", "updated_at"),
        indexes=(
            ("company_id", "name"),
            ("company_id", "is_default"),
            ("company_id", "created_at"),
            ("company_id", "updated_at"),
        ),
    )
)


class StageIn(Input):
    id: ObjectIdStr | None = Field(None, description="An existing stage's id; none for a new one")
    name: Name
    probability: StrictInt = Field(ge=0, le=100, description="Whole percent, 0-100")
    outcome: Outcome = Field("open", description="open, or the won or the lost stage")


class StageOut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    name: str
    probability: int
    outcome: Outcome


Stages = Annotated[list[StageIn], Shown(list[StageOut])]


def check_stages(stages: list[Any]) -> None:
    """The shape rules of a pipeline's stages (ValueError naming the rule)."""

    def get(stage: Any, key: str) -> Any:
        return stage[key] if isinstance(stage, dict) else getattr(stage, key)

    names = [get(s, "name").casefold() for s in stages]
    if len(set(names)) != len(names):
        raise ValueError("stages: every stage of a pipeline needs its own name")
    outcomes = [get(s, "outcome") for s in stages]
    if "open" not in outcomes:
        raise ValueError("stages: a pipeline needs at least one open stage")
    for outcome, probability in (("won", 100), ("lost", 0)):
        if outcomes.count(outcome) != 1:
            raise ValueError(f"stages: a pipeline has exactly one {outcome} stage")
        stage = stages[outcomes.index(outcome)]
        if get(stage, "probability") != probability:
            raise ValueError(f"stages: the {outcome} stage has probability {probability}")
    ids = [get(s, "id") for s in stages if get(s, "id")]
    if len(set(ids)) != len(ids):
        raise ValueError("stages: a stage id appears twice")


class PipelineFields(Declared):
    name: Name
    stages: Stages = Field(min_length=3, max_length=50, description="In pipeline order")
    is_default: StrictBool = Field(False, description="Where deals go when they name none")

    @model_validator(mode="after")
    def _stages(self) -> PipelineFields:
        check_stages(self.stages)
        return self


def _stage(data: dict[str, Any], keep: set[str]) -> dict[str, Any]:
    id = data.get("id")
    if id and id not in keep:
        raise Invalid(
            f"stages: {id} is no stage of this pipeline (leave the id out for a new stage)",
            details=[{"field": "stages", "message": "unknown stage id"}],
        )
    return {
        "id": id or new_id(),
        "name": data["name"],
        "probability": int(data["probability"]),
        "outcome": data.get("outcome", "open"),
    }


def _as_dicts(stages: list[Any]) -> list[dict[str, Any]]:
    return [s.model_dump() if isinstance(s, BaseModel) else dict(s) for s in stages]


async def _clear_other_defaults(ctx: Ctx, keep_id: str | None) -> None:
    others: dict[str, Any] = {"is_default": True}
    if keep_id is not None:
        others["_id"] = {"$ne": keep_id}
    await ctx.store.update_many(
        "crm_pipelines", ctx.scope(**others), {"$set": {"is_default": False}}
    )


async def _before_create(ctx: Ctx, data: dict[str, Any]) -> dict[str, Any]:
    await default_pipeline(ctx)
    stages = [_stage(s, set()) for s in _as_dicts(data["stages"])]
    if any(s.get("id") for s in _as_dicts(data["stages"])):
        raise Invalid(
            "stages: a new pipeline's stages have no ids yet",
            details=[{"field": "stages", "message": "leave id out"}],
        )
    if data.get("is_default"):
        await _clear_other_defaults(ctx, None)
    return {**data, "stages": stages, "is_default": bool(data.get("is_default"))}


async def _before_update(
    ctx: Ctx, existing: dict[str, Any], changes: dict[str, Any]
) -> dict[str, Any]:
    if changes.get("is_default"):
        await _clear_other_defaults(ctx, existing["_id"])
    elif existing.get("is_default") and changes.get("is_default") is False:
        raise Invalid(
            "is_default: this is the default pipeline; make another one the default instead",
            details=[{"field": "is_default", "message": "set it on another pipeline"}],
        )
    if "stages" not in changes:
        return changes
    sent = _as_dicts(changes["stages"])
    try:
        check_stages(sent)
    except ValueError as error:
        raise Invalid(str(error), details=[{"field": "stages", "message": str(error)}]) from None
    old = {s["id"]: s for s in existing["stages"]}
    stages = [_stage(s, set(old)) for s in sent]
    kept = {s["id"] for s in stages}
    for gone in set(old) - kept:
        held = await ctx.store.count("crm_deals", ctx.scope(stage_id=gone))
        if held:
            raise Conflict(
                f"stage {old[gone]['name']!r} holds {held} deal(s): move them before removing it",
                code="stage_in_use",
                details=[{"field": "stages", "stage_id": gone, "deals": held}],
            )
    for stage in stages:
        before = old.get(stage["id"])
        if before and before["probability"] != stage["probability"]:
            following = ctx.scope(stage_id=stage["id"], status="open", probability_manual=False)
            await cells.move_many(ctx, following, {"probability": stage["probability"]})
            await ctx.store.update_many(
                "crm_deals",
                following,
                {"$set": {"probability": stage["probability"], "updated_at": utcnow()}},
            )
        if before and before["name"] != stage["name"]:
            await ctx.store.update_many(
                "crm_deals",
                ctx.scope(stage_id=stage["id"]),
                {"$set": {"stage_name": stage["name"]}},
            )
    return {**changes, "stages": stages}


async def _before_delete(ctx: Ctx, existing: dict[str, Any]) -> None:
    held = await ctx.store.count("crm_deals", ctx.scope(pipeline_id=existing["_id"]))
    if held:
        raise Conflict(
            f"this pipeline holds {held} deal(s); move or delete them first",
            code="pipeline_in_use",
        )


def default_document(ctx: Ctx) -> dict[str, Any]:
    now = utcnow()
    return {
        "_id": new_id(),
        "company_id": ctx.company_id,
        "name": DEFAULT_NAME,
        "is_default": True,
        "stages": [
            {"id": new_id(), "name": name, "probability": p, "outcome": outcome}
            for name, p, outcome in DEFAULT_STAGES
        ],
        "created_by": ctx.user_id,
        "created_at": now,
        "updated_at": now,
    }


async def default_pipeline(ctx: Ctx) -> dict[str, Any]:
    """The company's default pipeline, created on first use."""
    found = await ctx.store.find_one(
        "crm_pipelines", ctx.scope(is_default=True), sort=[("created_at", 1)]
    )
    if found is not None:
        return found
    async with ctx.store.transaction():
        found = await ctx.store.find_one("crm_pipelines", ctx.scope(is_default=True))
        if found is not None:
            return found
        oldest = await ctx.store.find_one("crm_pipelines", ctx.scope(), sort=[("created_at", 1)])
        if oldest is not None:
            promoted = await ctx.store.update_one(
                "crm_pipelines",
                ctx.scope(_id=oldest["_id"]),
                {"$set": {"is_default": True, "updated_at": utcnow()}},
            )
            assert promoted is not None
            return promoted
        doc = default_document(ctx)
        await ctx.store.insert_one("crm_pipelines", doc)
    return doc


async def _ensure_default(ctx: Ctx, body: Any) -> dict[str, Any]:
    return await default_pipeline(ctx)


async def _give_default_pipeline(ctx: Ctx, company: dict[str, Any]) -> None:
    await ctx.store.insert_one("crm_pipelines", default_document(ctx))


# A new company starts with the standard pipeline; `default_pipeline` still makes one for a
# company that predates this (or deleted every pipeline), on first use.
DEFAULT_PIPELINE = CompanyStart("crm.default_pipeline", _give_default_pipeline)


PIPELINES = Resource(
    name="crm/pipelines",
    label="pipeline",
    collection="crm_pipelines",
    module="crm",
    tag="CRM",
    fields=PipelineFields,
    search=("name",),
    filters={"is_default": "eq"},
    sort=("name", "created_at", "updated_at"),
    default_sort="created_at",
    hooks=Hooks(
        before_create=_before_create, before_update=_before_update, before_delete=_before_delete
    ),
    actions=(
        Action(
            "default",
            "The default pipeline (created on first use)",
            run=_ensure_default,
            collection=True,
            description="Answers the company's default pipeline; a company that has none "
            "gets the standard one (Qualification 10, Demo 25, Proposal 50, Negotiation 70, "
            "Ready to close 90, Won 100, Lost 0).",
        ),
    ),
    example={
        "name": "Partnerships",
        "stages": [
            {"name": "Intro", "probability": 20},
            {"name": "Terms", "probability": 60},
            {"name": "Signed", "probability": 100, "outcome": "won"},
            {"name": "Dropped", "probability": 0, "outcome": "lost"},
        ],
    },
)
