"""Modules and the company's licence."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Path, Query
from pydantic import BaseModel, Field

from api import PREFIX
from api.deps import CompanyCtx
from api.responses import Envelope, EnvelopeResponse, ListEnvelope, PageQuery, errors, ok, paged
from api.routing import LeanRoute
from domain.errors import not_found
from domain.fields import Input
from domain.modules import licences
from domain.modules.catalogue import BY_ALIAS, CATALOGUE

router = APIRouter(prefix=f"{PREFIX}/modules", tags=["Modules"], route_class=LeanRoute)


class ModuleOut(BaseModel):
    alias: str
    name: str
    description: str
    tags: list[str]
    core: bool


class ModuleCheck(BaseModel):
    alias: str
    name: str
    enabled: bool
    reason: str | None = Field(description="Why the module is not enabled, when it is not")


class ModuleState(BaseModel):
    alias: str
    name: str
    core: bool
    enabled: bool
    reason: str | None


class LicenceOut(BaseModel):
    plan: str
    seats: int
    valid_until: str
    expired: bool
    modules: list[ModuleState]
    updated_at: str


class LicenceChange(Input):
    enable: list[str] = Field(default_factory=list, description="Module aliases to enable")
    disable: list[str] = Field(default_factory=list, description="Module aliases to disable")


LICENCE_EXAMPLE = {"enable": ["crm", "helpdesk"], "disable": ["pos"]}


def _module(alias: str) -> dict[str, object]:
    m = BY_ALIAS[alias]
    return {
        "alias": m.alias,
        "name": m.name,
        "description": m.description,
        "tags": list(m.tags),
        "core": m.core,
    }


@router.get(
    "/enabled",
    summary="List enabled modules",
    description="The modules the company's licence enables, core ones included, in the "
    "catalogue's order, a page at a time.",
    response_model=ListEnvelope[ModuleOut],
    responses=errors(400, 401, 403),
)
async def enabled(ctx: CompanyCtx, query: Annotated[PageQuery, Query()]) -> EnvelopeResponse:
    licence = await licences.load(ctx.store, ctx.company_id)
    found = [_module(m.alias) for m in CATALOGUE if licences.access(licence, m.alias).enabled]
    return paged(found, query)


@router.get(
    "/check/{alias}",
    summary="Check if specific module is accessible",
    response_model=Envelope[ModuleCheck],
    responses=errors(400, 401, 403, 404, codes={404: ("not_found",)}),
)
async def check(
    alias: Annotated[str, Path(description=f"A module's alias: {', '.join(BY_ALIAS)}")],
    ctx: CompanyCtx,
) -> EnvelopeResponse:
    if alias not in BY_ALIAS:
        raise not_found("module", alias)
    result = licences.access(await licences.load(ctx.store, ctx.company_id), alias)
    return ok(
        {
            "alias": alias,
            "name": BY_ALIAS[alias].name,
            "enabled": result.enabled,
            "reason": result.reason,
        }
    )


@router.get(
    "/licenses",
    summary="Get detailed license information",
    response_model=Envelope[LicenceOut],
    responses=errors(400, 401, 403),
)
async def licence(ctx: CompanyCtx) -> EnvelopeResponse:
    return ok(licences.describe(await licences.load(ctx.store, ctx.company_id)))


@router.patch(
    "/licenses",
    summary="Enable or disable modules (owner only)",
    response_model=Envelope[LicenceOut],
    responses=errors(
        400, 401, 403, codes={400: ("unknown_module", "core_module"), 403: ("owner_required",)}
    ),
)
async def change_licence(
    body: Annotated[LicenceChange, Body(openapi_examples={"crm": {"value": LICENCE_EXAMPLE}})],
    ctx: CompanyCtx,
) -> EnvelopeResponse:
    return ok(await licences.set_modules(ctx, body.enable, body.disable))
