"""Authentication: register, log in, who am I."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel, Field

from api import PREFIX
from api.deps import CurrentUser, Store, TokenConfig
from api.responses import Envelope, EnvelopeResponse, errors, ok
from domain.auth import accounts
from domain.companies import ROLES
from domain.fields import CurrencyCode, Email, Input, Name

router = APIRouter(prefix=f"{PREFIX}/auth", tags=["Authentication"])

Password = Annotated[
    str, Field(min_length=10, max_length=1024, description="At least 10 characters")
]


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
    id: str
    email: str
    name: str
    created_at: str


class CompanyOut(BaseModel):
    id: str
    name: str
    base_currency: str | None = None
    role: str = Field(description=f"One of {', '.join(ROLES)}")
    created_at: str


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
    responses=errors(400, 409),
)
async def register(body: RegisterIn, store: Store, config: TokenConfig) -> EnvelopeResponse:
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
    responses=errors(400, 401),
)
async def login(body: LoginIn, store: Store, config: TokenConfig) -> EnvelopeResponse:
    return ok(await accounts.login(store, config, body.email, body.password), status=201)


@router.get(
    "/me",
    summary="Get current authenticated user",
    response_model=Envelope[MeOut],
    responses=errors(401),
)
async def me(user: CurrentUser, store: Store) -> EnvelopeResponse:
    return ok(await accounts.me(store, user.user_id))
