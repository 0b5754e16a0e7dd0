"""The seed conductor's declarations: two reports and two jobs.

Applying a profile writes demo data into the company's books, so it takes an admin (or the
owner); recommending only reads, so a member may ask. A profile is named in a body by its
id or its key; an unknown one is a 400 naming the field, as any reference in a body is.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from domain.context import Ctx
from domain.errors import Invalid, NotFound
from domain.fields import Day, Input, LongText, Output, ShortText, StrictInt
from domain.resources import JobOperation, Report
from domain.seed import graph as G
from domain.seed import profiles, seeding
from domain.seed.seeders import SEEDERS

MODULE = "tai"
TAG = "Tai Seed Conductor"
RECOMMEND = "seed.recommend"
APPLY = "seed.apply"


def seed_graph() -> G.Graph:
    return G.build(SEEDERS)


class NoQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NodeOut(Output):
    name: str
    label: str
    creates: list[str]
    module: str | None
    requires: list[str]


class EdgeOut(Output):
    seeder: str = Field(description="The seeder that needs ...")
    needs: str = Field(description="... this one first")
    why: str = Field(description="declared, or the reference that implies it")


class GraphOut(Output):
    nodes: list[NodeOut]
    edges: list[EdgeOut]
    order: list[str] = Field(description="Topological order (Kahn's, alphabetical tie-break)")


class SeededOut(Output):
    seeder: str
    resource: str
    count: int


class TagOut(Output):
    tag: str = Field(description="<profile>:<seed>")
    objects: int


class RunOut(Output):
    job_id: str
    kind: str
    status: str | None = None
    profile: str | None = None
    size: str | None = None
    seed: int | None = None
    created: dict[str, int] | None = None
    created_at: str | None = None
    finished_at: str | None = None


class StateOut(Output):
    seeded: bool
    objects: int
    by_seeder: list[SeededOut]
    seeds: list[TagOut]
    last_run: RunOut | None
    runs: list[RunOut]


async def _graph(ctx: Ctx, query: NoQuery) -> dict[str, Any]:
    return G.describe(seed_graph())


async def _state(ctx: Ctx, query: NoQuery) -> dict[str, Any]:
    return await seeding.state(ctx)


GRAPH = Report(
    path="tai/seed/graph",
    summary="Get seeder dependency graph",
    module=MODULE,
    tag=TAG,
    query=NoQuery,
    run=_graph,
    output=GraphOut,
    description="Every seeder with what it creates and needs; edges from the seeders' own "
    "declarations and from the references in the created resources' examples; the order "
    "seeding runs in. A cycle is 409 `seed_cycle` naming its seeders.",
)
STATE = Report(
    path="tai/seed/state",
    summary="Get seed state",
    module=MODULE,
    tag=TAG,
    query=NoQuery,
    run=_state,
    output=StateOut,
)


class RecommendIn(Input):
    description: LongText | None = Field(
        None, description="What the business does, in a few words (optional)"
    )


class ApplyIn(Input):
    profile: ShortText = Field(description="A seed profile's id or key (e.g. consulting)")
    size: profiles.Size = "small"
    seed: StrictInt = Field(1, ge=0, le=1_000_000_000, description="Same seed, same data")
    as_of: Day | None = Field(None, description="Documents are dated before it; default today")


async def _prepare_recommend(ctx: Ctx, body: RecommendIn) -> dict[str, Any]:
    return {"description": body.description}


async def _prepare_apply(ctx: Ctx, body: ApplyIn) -> dict[str, Any]:
    try:
        profile = profiles.find(body.profile)
    except (Invalid, NotFound) as error:
        raise Invalid(
            f"profile: {error}; GET /api/tai/seed/profiles lists them",
            code="invalid_reference",
            details=[{"field": "profile", "message": "unknown seed profile"}],
        ) from error
    as_of = body.as_of or datetime.now(UTC).date()
    return {"profile": profile.key, "size": body.size, "seed": body.seed, "as_of": str(as_of)}


RECOMMEND_JOB = JobOperation(
    path="tai/seed/recommend",
    summary="Recommend a seed profile",
    module=MODULE,
    tag=TAG,
    kind=RECOMMEND,
    input=RecommendIn,
    prepare=_prepare_recommend,
    example={"description": "A design agency billing hourly projects to its clients"},
    status_code=201,
    description="Scores every profile from the enabled modules, what the books hold and the "
    "description (deterministic), then explains the ranking (the model, or the offline "
    "provider, checked figure by figure against the scores).",
)
APPLY_JOB = JobOperation(
    path="tai/seed/apply",
    summary="Seed the company's books from a profile",
    module=MODULE,
    tag=TAG,
    kind=APPLY,
    input=ApplyIn,
    prepare=_prepare_apply,
    role="admin",
    example={"profile": "consulting", "size": "small", "seed": 1},
    description="Runs the profile's seeders in topological order through the domain "
    "(every rule applies; the books balance), streaming `progress` per seeder. Applying "
    "the same profile and seed again adds nothing.",
)
