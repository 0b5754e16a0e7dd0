"""Seed profiles over HTTP: `GET /api/tai/seed/profiles` and `GET /api/tai/seed/profile/{id}`.

Written by hand because the spec names the item in the singular (`/profile/{id}`) while the
machinery mounts a resource's item under its collection path, and because profiles are the
platform's fixed catalogue, not stored objects of a company. The rest of the seed conductor
(graph, state, recommend, apply) is declared in `domain/seed/operations.py`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api import PREFIX
from api.deps import CompanyCtx, id_path, module_gate
from api.responses import Envelope, EnvelopeResponse, ListEnvelope, PageQuery, errors, ok, paged
from api.routing import LeanRoute
from domain.fields import Output
from domain.seed import profiles

TAG = "Tai Seed Conductor"

router = APIRouter(
    prefix=f"{PREFIX}/tai/seed",
    tags=[TAG],
    dependencies=module_gate("tai"),
    route_class=LeanRoute,
)


class ProfileOut(Output):
    id: str
    key: str
    name: str
    description: str
    modules: list[str]
    seeders: list[str]
    keywords: list[str]
    sizes: dict[str, dict[str, int]]


@router.get(
    "/profiles",
    summary="List seed profiles",
    description="The kinds of business a company can be seeded as, each with its seeders "
    "and the object counts of its sizes (small, medium, large).",
    response_model=ListEnvelope[ProfileOut],
    responses=errors(400, 401, 403),
)
async def list_profiles(ctx: CompanyCtx, query: Annotated[PageQuery, Query()]) -> EnvelopeResponse:
    return paged([p.view() for p in profiles.PROFILES], query)


@router.get(
    "/profile/{id}",
    summary="Get a seed profile",
    response_model=Envelope[ProfileOut],
    responses=errors(400, 401, 403, 404),
)
async def get_profile(
    id: Annotated[str, id_path("seed profile")], ctx: CompanyCtx
) -> EnvelopeResponse:
    return ok(profiles.find(id).view())
