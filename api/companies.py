"""Companies the user can act in. POST and GET by id go beyond the spec: a user with two
companies is what `X-Company-Id` exists for."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import Field

from api import PREFIX
from api.auth import CompanyOut
from api.deps import CurrentUser, Store
from api.responses import Envelope, EnvelopeResponse, errors, ok
from domain import companies
from domain.fields import CurrencyCode, Input, Name

router = APIRouter(prefix=f"{PREFIX}/companies", tags=["Companies"])


class CompanyIn(Input):
    name: Name
    base_currency: CurrencyCode = Field("USD", description="ISO 4217 code of the books")


@router.get(
    "",
    summary="List accessible companies",
    response_model=Envelope[list[CompanyOut]],
    responses=errors(401),
)
async def list_companies(user: CurrentUser, store: Store) -> EnvelopeResponse:
    return ok(await companies.list_for_user(store, user.user_id))


@router.post(
    "",
    status_code=201,
    summary="Create a company (you become its owner)",
    response_model=Envelope[CompanyOut],
    responses=errors(400, 401),
)
async def create_company(body: CompanyIn, user: CurrentUser, store: Store) -> EnvelopeResponse:
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
    id: str, user: CurrentUser, store: Store, request: Request
) -> EnvelopeResponse:
    return ok(await companies.get_for_user(store, user.user_id, id))
