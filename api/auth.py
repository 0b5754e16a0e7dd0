"""Authentication: register, log in, who am I."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body
from pydantic import BaseModel, Field

from api import PREFIX
from api.deps import CurrentUser, Store, TokenConfig
from api.responses import Envelope, EnvelopeResponse, errors, failure, ok
from api.routing import LeanRoute
from domain.auth import accounts
from domain.companies import ROLES
from domain.fields import CurrencyCode, Email, Input, Name, ObjectIdStr, Timestamp

router = APIRouter(prefix=f"{PREFIX}/auth", tags=["Authentication"], route_class=LeanRoute)

Password = Annotated[
    str, Field(min_length=10, max_length=1024, description="At least 10 characters")
]
# "Try it out" in /api/docs: register with the first, then log in with the second.
REGISTER_EXAMPLE = {
    "email": "ada@example.com",
    "password": "correct horse battery staple",
    "name": "Ada Lovelace",
    "company_name": "Analytical Engines Ltd",
    "base_currency": "GBP",
}
LOGIN_EXAMPLE = {"email": "ada@example.com", "password": "correct horse battery staple"}


class RegisterIn(Input):
    email: Email
    password: Password
    name: Name
    company_name: Name | None = Field(None, description="Default: '<name>'s company'")
    base_currency: CurrencyCode = Field("USD", description="ISO 4217 code of the books")


class LoginIn(Input):
    email: str = Field(max_length=320)
    password: str = Field(max_length=1024)


class UserOut(BaseModel):
    id: ObjectIdStr
    email: str
    name: str
    created_at: Timestamp


class CompanyOut(BaseModel):
    id: ObjectIdStr
    name: str
    base_currency: CurrencyCode | None = None
    role: str = Field(description=f"One of {', '.join(ROLES)}")
    created_at: Timestamp


class TokenOut(BaseModel):
    token: str
    token_type: str = "bearer"
    expires_in: int
    user: UserOut


class RegisterOut(TokenOut):
    company: CompanyOut


class MeOut(UserOut):
    companies: list[CompanyOut]


@router.post(
    "/register",
    status_code=201,
    summary="Register a new user",
    response_model=Envelope[RegisterOut],
    responses=errors(400, 409, codes={409: ("email_taken",)}),
)
async def register(
    body: Annotated[RegisterIn, Body(openapi_examples={"ada": {"value": REGISTER_EXAMPLE}})],
    store: Store,
    config: TokenConfig,
) -> EnvelopeResponse:
    form = accounts.Registration(
        email=body.email,
        password=body.password,
        name=body.name,
        company_name=body.company_name,
        base_currency=body.base_currency,
    )
    return ok(await accounts.register(store, config, form), status=201)


@router.post(
    "/login",
    status_code=201,
    summary="Log in and receive a JWT",
    response_model=Envelope[TokenOut],
    responses={**errors(400), **failure(401, "Email or password is wrong", "invalid_credentials")},
)
async def login(
    body: Annotated[LoginIn, Body(openapi_examples={"ada": {"value": LOGIN_EXAMPLE}})],
    store: Store,
    config: TokenConfig,
) -> EnvelopeResponse:
    return ok(await accounts.login(store, config, body.email, body.password), status=201)


@router.get(
    "/me",
    summary="Get current authenticated user",
    response_model=Envelope[MeOut],
    responses=errors(401, codes={401: ("user_unknown",)}),
)
async def me(user: CurrentUser, store: Store) -> EnvelopeResponse:
    return ok(await accounts.me(store, user.user_id))
