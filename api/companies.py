"""Companies the user can act in, and their members. POST, GET by id and the members routes
go beyond the spec: a user with two companies is what `X-Company-Id` exists for, and a
company of several people needs members and roles (`domain/companies.py` has the rules)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Body, Query
from pydantic import BaseModel, Field

from api import PREFIX
from api.auth import CompanyOut
from api.deps import CurrentUser, Store, id_path
from api.responses import Envelope, EnvelopeResponse, ListEnvelope, PageQuery, errors, ok
from api.routing import LeanRoute
from domain import companies
from domain.auth.tokens import Claims
from domain.context import Ctx
from domain.errors import Forbidden, not_found
from domain.fields import CurrencyCode, Email, Input, Name, ObjectIdStr, Timestamp
from memory.store import DocumentStore

router = APIRouter(prefix=f"{PREFIX}/companies", tags=["Companies"], route_class=LeanRoute)


class CompanyIn(Input):
    name: Name
    base_currency: CurrencyCode = Field("USD", description="ISO 4217 code of the books")


COMPANY_EXAMPLE = {"name": "Acme Trading", "base_currency": "EUR"}


@router.get(
    "",
    summary="List accessible companies",
    description="The companies you belong to, in the order you joined them, a page at a time.",
    response_model=ListEnvelope[CompanyOut],
    responses=errors(400, 401),
)
async def list_companies(
    user: CurrentUser, store: Store, query: Annotated[PageQuery, Query()]
) -> EnvelopeResponse:
    found, total = await companies.page_for_user(store, user.user_id, query.skip, query.limit)
    return ok(found, meta=query.meta(total))


@router.post(
    "",
    status_code=201,
    summary="Create a company (you become its owner)",
    response_model=Envelope[CompanyOut],
    responses=errors(400, 401),
)
async def create_company(
    body: Annotated[CompanyIn, Body(openapi_examples={"acme": {"value": COMPANY_EXAMPLE}})],
    user: CurrentUser,
    store: Store,
) -> EnvelopeResponse:
    company = await companies.create_company(
        store, user.user_id, body.name, {"base_currency": body.base_currency}
    )
    return ok(companies.present(company, "owner"), status=201)


@router.get(
    "/{id}",
    summary="Get a company you belong to",
    response_model=Envelope[CompanyOut],
    responses=errors(400, 401, 404),
)
async def get_company(
    id: Annotated[str, id_path("company")], user: CurrentUser, store: Store
) -> EnvelopeResponse:
    return ok(await companies.get_for_user(store, user.user_id, id))


# --- members --------------------------------------------------------------------------------

RoleName = Literal["owner", "admin", "member", "viewer"]
CompanyId = Annotated[str, id_path("company")]
UserId = Annotated[str, id_path("user")]


class MemberIn(Input):
    email: Email
    role: RoleName = Field("member", description="owner, admin, member or viewer")


class RoleIn(Input):
    role: RoleName


class MemberOut(BaseModel):
    user_id: ObjectIdStr
    email: str | None
    name: str | None
    role: RoleName
    joined_at: Timestamp
    last_login_at: Timestamp | None = None


class Removed(BaseModel):
    user_id: ObjectIdStr
    removed: bool


MEMBER_EXAMPLE = {"email": "grace@example.com", "role": "admin"}
MANAGE_ERRORS = {
    403: ("role_forbidden",),
    404: ("user_not_found",),
    409: ("already_member", "last_owner"),
}


async def member_ctx(store: DocumentStore, user: Claims, company_id: str) -> Ctx:
    """The caller in company `company_id` (404 unless they belong to it, as GET by id)."""
    try:
        member = await companies.membership(store, user.user_id, company_id)
    except Forbidden as error:
        raise not_found("company", company_id) from error
    return Ctx(store=store, user_id=user.user_id, company_id=company_id, role=member["role"])


@router.get(
    "/{id}/members",
    summary="List a company's members and their roles",
    response_model=ListEnvelope[MemberOut],
    responses=errors(400, 401, 404),
)
async def list_members(
    id: CompanyId, user: CurrentUser, store: Store, query: Annotated[PageQuery, Query()]
) -> EnvelopeResponse:
    ctx = await member_ctx(store, user, id)
    found, total = await companies.list_members(ctx, query.skip, query.limit)
    return ok(found, meta=query.meta(total))


@router.post(
    "/{id}/members",
    status_code=201,
    summary="Add a registered user to the company with a role (owner or admin)",
    response_model=Envelope[MemberOut],
    responses=errors(400, 401, 403, 404, 409, codes=MANAGE_ERRORS),
)
async def add_member(
    id: CompanyId,
    body: Annotated[MemberIn, Body(openapi_examples={"admin": {"value": MEMBER_EXAMPLE}})],
    user: CurrentUser,
    store: Store,
) -> EnvelopeResponse:
    ctx = await member_ctx(store, user, id)
    return ok(await companies.add_member(ctx, body.email, body.role), status=201)


@router.put(
    "/{id}/members/{user_id}",
    summary="Change a member's role (the last owner cannot be demoted)",
    response_model=Envelope[MemberOut],
    responses=errors(400, 401, 403, 404, 409, codes=MANAGE_ERRORS),
)
async def change_role(
    id: CompanyId,
    user_id: UserId,
    body: Annotated[RoleIn, Body(openapi_examples={"viewer": {"value": {"role": "viewer"}}})],
    user: CurrentUser,
    store: Store,
) -> EnvelopeResponse:
    ctx = await member_ctx(store, user, id)
    return ok(await companies.change_role(ctx, user_id, body.role))


@router.delete(
    "/{id}/members/{user_id}",
    summary="Remove a member, or leave (the last owner cannot)",
    response_model=Envelope[Removed],
    responses=errors(400, 401, 403, 404, 409, codes=MANAGE_ERRORS),
)
async def remove_member(
    id: CompanyId, user_id: UserId, user: CurrentUser, store: Store
) -> EnvelopeResponse:
    ctx = await member_ctx(store, user, id)
    return ok(await companies.remove_member(ctx, user_id))
