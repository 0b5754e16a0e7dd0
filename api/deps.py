"""The API's vocabulary of dependencies. All `async def`: a sync one would cost a thread hop."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from domain import companies
from domain.auth import tokens
from domain.context import Ctx
from domain.errors import Unauthenticated
from domain.modules import licences
from domain.modules.catalogue import BY_ALIAS, CORE
from memory.store import DocumentStore

_bearer = HTTPBearer(auto_error=False, description="The token from POST /api/auth/login")


async def get_store(request: Request) -> DocumentStore:
    return request.app.state.store


async def get_token_config(request: Request) -> tokens.TokenConfig:
    return request.app.state.tokens


Store = Annotated[DocumentStore, Depends(get_store)]
TokenConfig = Annotated[tokens.TokenConfig, Depends(get_token_config)]


async def current_user(
    request: Request,
    _: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> tokens.Claims:
    """The token's claims. Reads app state directly: every sub-dependency costs a request."""
    header = request.headers.get("authorization")
    if not header:
        raise Unauthenticated(
            "authentication required: send Authorization: Bearer <token>", code="token_missing"
        )
    scheme, _sep, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated(
            "the Authorization header must be 'Bearer <token>'", code="token_malformed"
        )
    claims = tokens.verify(request.app.state.tokens, token.strip())
    request.state.user_id = claims.user_id
    return claims


CurrentUser = Annotated[tokens.Claims, Depends(current_user)]


async def company_context(
    request: Request,
    user: CurrentUser,
    x_company_id: Annotated[
        str | None,
        Header(alias="X-Company-Id", description="Company to act in; default: your first"),
    ] = None,
) -> Ctx:
    store: DocumentStore = request.app.state.store
    member = await companies.membership(store, user.user_id, x_company_id)
    request.state.company_id = member["company_id"]
    return Ctx(
        store=store, user_id=user.user_id, company_id=member["company_id"], role=member["role"]
    )


CompanyCtx = Annotated[Ctx, Depends(company_context)]


def module_gate(alias: str) -> list[Any]:
    """Router dependencies answering 403 `module_disabled` unless the licence enables the
    module. Core modules are always on, so they add no dependency (and no cost)."""
    if alias not in BY_ALIAS:
        raise ValueError(f"unknown module {alias!r}: add it to domain/modules/catalogue.py")
    if alias in CORE:
        return []

    async def gate(ctx: CompanyCtx) -> None:
        licences.check(await licences.load(ctx.store, ctx.company_id), alias)

    return [Depends(gate)]
