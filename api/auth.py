"""Authentication: register, log in, log out (this token or everywhere), change the
password, who am I, disable or re-enable an account (the rules: `domain/auth/accounts.py`).
Logins and registrations are throttled (`domain/auth/throttle.py`): 429
`too_many_attempts` with Retry-After."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Request
from pydantic import BaseModel, Field

from api import PREFIX
from api.deps import CurrentUser, Store, TokenConfig, client_address, id_path, set_origin
from api.responses import Envelope, EnvelopeResponse, errors, failure, ok
from api.routing import LeanRoute
from domain.auth import accounts
from domain.auth.throttle import Policy, Throttle
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


class PasswordIn(Input):
    current_password: str = Field(max_length=1024)
    new_password: Password


PASSWORD_EXAMPLE = {
    "current_password": "correct horse battery staple",
    "new_password": "a longer passphrase than before",
}


class DisableIn(Input):
    password: str | None = Field(
        None, max_length=1024, description="Your password, when you close your own account"
    )


class AccountState(BaseModel):
    id: ObjectIdStr
    disabled: bool
    disabled_at: Timestamp | None = None


class LoggedOut(BaseModel):
    logged_out: bool = True
    everywhere: bool = Field(description="True: every token of the account was revoked")


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


THROTTLED = failure(429, "Too many attempts; see Retry-After", "too_many_attempts")


def throttle_of(request: Request) -> Throttle:
    """The app's login throttle, built on first use from the settings."""
    throttle: Throttle | None = getattr(request.app.state, "throttle", None)
    if throttle is None:
        settings = request.app.state.services.settings
        register_limit = settings.register_limit_per_address or (
            "100000/hour" if settings.env == "test" else "20/hour"
        )
        policy = Policy(
            per_account=settings.login_limit_per_account,
            per_address=settings.login_limit_per_address,
            registrations_per_address=register_limit,
        )
        throttle = request.app.state.throttle = Throttle(settings.redis_url, policy)
    return throttle


@router.post(
    "/register",
    status_code=201,
    summary="Register a new user",
    response_model=Envelope[RegisterOut],
    responses={**errors(400, 409, codes={409: ("email_taken",)}), **THROTTLED},
)
async def register(
    body: Annotated[RegisterIn, Body(openapi_examples={"ada": {"value": REGISTER_EXAMPLE}})],
    store: Store,
    config: TokenConfig,
    request: Request,
) -> EnvelopeResponse:
    set_origin(request)
    await throttle_of(request).registration(client_address(request))
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
    responses={
        **errors(400),
        **failure(401, "Email or password is wrong", "invalid_credentials"),
        **THROTTLED,
    },
)
async def login(
    body: Annotated[LoginIn, Body(openapi_examples={"ada": {"value": LOGIN_EXAMPLE}})],
    store: Store,
    config: TokenConfig,
    request: Request,
) -> EnvelopeResponse:
    set_origin(request)
    throttle, address = throttle_of(request), client_address(request)
    found = await accounts.login(store, config, throttle, body.email, body.password, address)
    return ok(found, status=201)


REVOKED = {401: ("token_revoked", "user_unknown")}


@router.post(
    "/logout",
    summary="Log out: revoke this token",
    response_model=Envelope[LoggedOut],
    responses=errors(401, codes=REVOKED),
)
async def logout(user: CurrentUser, store: Store, config: TokenConfig) -> EnvelopeResponse:
    await accounts.logout(store, config, user)
    return ok({"logged_out": True, "everywhere": False})


@router.post(
    "/logout-all",
    summary="Log out everywhere: revoke every token of this account",
    response_model=Envelope[LoggedOut],
    responses=errors(401, codes=REVOKED),
)
async def logout_all(user: CurrentUser, store: Store, config: TokenConfig) -> EnvelopeResponse:
    await accounts.logout_everywhere(store, config, user)
    return ok({"logged_out": True, "everywhere": True})


@router.post(
    "/password",
    summary="Change your password (every older token is revoked; answers a new one)",
    response_model=Envelope[TokenOut],
    responses=errors(400, 401, codes={400: ("invalid_password",), **REVOKED}),
)
async def change_password(
    body: Annotated[PasswordIn, Body(openapi_examples={"change": {"value": PASSWORD_EXAMPLE}})],
    user: CurrentUser,
    store: Store,
    config: TokenConfig,
) -> EnvelopeResponse:
    changed = await accounts.change_password(
        store, config, user, body.current_password, body.new_password
    )
    return ok(changed)


@router.get(
    "/me",
    summary="Get current authenticated user",
    response_model=Envelope[MeOut],
    responses=errors(401, codes={401: ("user_unknown",)}),
)
async def me(user: CurrentUser, store: Store) -> EnvelopeResponse:
    return ok(await accounts.me(store, user.user_id))


UserId = Annotated[str, id_path("user")]
STATE_ERRORS = errors(
    400,
    401,
    403,
    404,
    409,
    codes={
        400: ("invalid_password", "invalid_id"),
        403: ("platform_admin_required",),
        409: ("last_owner",),
        **REVOKED,
    },
)


def platform_admins(request: Request) -> frozenset[str]:
    settings = request.app.state.services.settings
    return frozenset(part.strip() for part in settings.platform_admins.split(",") if part.strip())


@router.post(
    "/users/{user_id}/disable",
    summary="Disable an account: your own (with your password), or any as a platform admin",
    description="Every token of the account is refused from then on (401 `user_disabled`, on "
    "every replica within seconds) and its logins fail as a wrong password does.",
    response_model=Envelope[AccountState],
    responses=STATE_ERRORS,
)
async def disable(
    user_id: UserId,
    body: Annotated[DisableIn, Body(openapi_examples={"own": {"value": {"password": "..."}}})],
    user: CurrentUser,
    store: Store,
    config: TokenConfig,
    request: Request,
) -> EnvelopeResponse:
    admins = platform_admins(request)
    found = await accounts.set_disabled(
        store, config, user, user_id, True, password=body.password, platform_admins=admins
    )
    return ok(found)


@router.post(
    "/users/{user_id}/enable",
    summary="Re-enable a disabled account (platform admins)",
    description="Its tokens issued before it was disabled stay revoked: the user logs in again.",
    response_model=Envelope[AccountState],
    responses=STATE_ERRORS,
)
async def enable(
    user_id: UserId, user: CurrentUser, store: Store, config: TokenConfig, request: Request
) -> EnvelopeResponse:
    admins = platform_admins(request)
    found = await accounts.set_disabled(
        store, config, user, user_id, False, password=None, platform_admins=admins
    )
    return ok(found)
