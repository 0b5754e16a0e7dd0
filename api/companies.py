"""Companies the user can act in. POST and GET by id go beyond the spec: a user with two
companies is what `X-Company-Id` exists for."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query
from pydantic import Field

from api import PREFIX
from api.auth import CompanyOut
from api.deps import CurrentUser, Store, id_path
from api.responses import Envelope, EnvelopeResponse, ListEnvelope, PageQuery, errors, ok
from api.routing import LeanRoute
from domain import companies
from domain.fields import CurrencyCode, Input, Name

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
