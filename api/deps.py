"""The API's vocabulary of dependencies. All `async def`: a sync one would cost a thread hop."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, Header, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.forwarded import client_ip, parse_proxies
from domain import companies
from domain.auth import tokens
from domain.compliance import audit
from domain.context import Ctx
from domain.errors import Unauthenticated
from domain.modules import licences
from domain.modules.catalogue import BY_ALIAS, CORE
from memory.store import DocumentStore
from services import Services

_bearer = HTTPBearer(auto_error=False, description="The token from POST /api/auth/login")

ID_PATTERN = r"^[0-9a-f]{24}$"
"""Every stored object's id (a 24-hex ObjectId): documented on every id parameter. The domain
checks it (400 `invalid_id`, `invalid_company_id`), so the documents' `pattern` is what the
server enforces, with the domain's own message."""


def on_string(**keywords: Any) -> Callable[[dict[str, Any]], None]:
    """A `json_schema_extra` that documents `keywords` (a pattern, a format) on the string
    branch of an optional parameter's schema, not beside its `anyOf`."""

    def extra(schema: dict[str, Any]) -> None:
        for branch in schema.get("anyOf", [schema]):
            if branch.get("type") == "string":
                branch.update(keywords)

    return extra


def id_path(label: str) -> Any:
    """An id path parameter, documented with its pattern (`Annotated[str, id_path("job")]`)."""
    return Path(pattern=ID_PATTERN, description=f"The {label}'s id (24 hexadecimal characters)")


def services_of(request: Request) -> Services:
    """The app's services, built once at start-up (`api/app.py`'s lifespan)."""
    return request.app.state.services


async def get_services(request: Request) -> Services:
    return request.app.state.services


async def get_store(request: Request) -> DocumentStore:
    return request.app.state.services.store


async def get_token_config(request: Request) -> tokens.TokenConfig:
    return request.app.state.tokens


AppServices = Annotated[Services, Depends(get_services)]
Store = Annotated[DocumentStore, Depends(get_store)]
TokenConfig = Annotated[tokens.TokenConfig, Depends(get_token_config)]


async def _claims(request: Request) -> tokens.Claims:
    """The token's claims, verified once per request (kept in request.state): signed and
    unexpired, and not revoked (its user exists and is enabled, it predates no password
    change or logout: `domain/auth/sessions.py`, from a per-user cache)."""
    claims: tokens.Claims | None = getattr(request.state, "claims", None)
    if claims is not None:
        return claims
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
    config: tokens.TokenConfig = request.app.state.tokens
    claims = tokens.verify(config, token.strip())
    await config.sessions.check(
        request.app.state.services.store, claims.user_id, claims.jti, claims.version
    )
    request.state.claims = claims
    request.state.user_id = claims.user_id
    set_origin(request)
    return claims


async def current_user(
    request: Request,
    _: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> tokens.Claims:
    """The token's claims. Reads app state directly: every sub-dependency costs a request."""
    return await _claims(request)


CurrentUser = Annotated[tokens.Claims, Depends(current_user)]


class _CompanyContext(HTTPBearer):
    """The company context as ONE dependency node, with no sub-dependencies.

    FastAPI solves every node of a dependency tree on each request, and a node costs about
    as much as a SQLite read (`bench/api_crud.py`): as `current_user -> _bearer` under it,
    this was three nodes. Being an `HTTPBearer` itself, it still puts the bearer scheme on
    every route that uses it in the OpenAPI document, as `Depends(_bearer)` did.
    """

    async def __call__(  # type: ignore[override]
        self,
        request: Request,
        x_company_id: Annotated[
            str | None,
            Header(
                alias="X-Company-Id",
                description="Company to act in; default: your first",
                # documented, not validated here: `company_ctx` answers 400 invalid_company_id
                json_schema_extra=on_string(pattern=ID_PATTERN),
            ),
        ] = None,
    ) -> Ctx:
        return await company_ctx(request)


def client_address(request: Request) -> str | None:
    """The client's address, the one place it is read (throttles, limits, the audit trail):
    the socket peer, or behind a trusted proxy the `X-Forwarded-For` client
    (`api/forwarded.py`, `NUMBORS_TRUSTED_PROXIES`, parsed once per app)."""
    client = request.scope.get("client")
    peer = client[0] if client else None
    state = request.app.state
    proxies = getattr(state, "trusted_proxies", None)
    if proxies is None:
        proxies = state.trusted_proxies = parse_proxies(state.services.settings.trusted_proxies)
    if not proxies:
        return peer
    return client_ip(peer, request.headers.getlist("x-forwarded-for"), proxies)


def set_origin(request: Request) -> None:
    """Where this request came from, for the audit events its writes record."""
    audit.set_origin(
        audit.Origin(
            ip=client_address(request),
            request_id=request.scope.get("state", {}).get("request_id"),
            method=request.scope["method"],
            path=request.scope["path"],
        )
    )


async def company_ctx(request: Request) -> Ctx:
    """The caller's context in the company of `X-Company-Id` (default: their first), once per
    request."""
    ctx: Ctx | None = getattr(request.state, "ctx", None)
    if ctx is not None:
        return ctx
    user = await _claims(request)
    store: DocumentStore = request.app.state.services.store
    member = await companies.membership(store, user.user_id, request.headers.get("x-company-id"))
    request.state.company_id = member["company_id"]
    request.state.ctx = Ctx(
        store=store, user_id=user.user_id, company_id=member["company_id"], role=member["role"]
    )
    return request.state.ctx


company_context = _CompanyContext(
    auto_error=False, scheme_name="HTTPBearer", description=_bearer.model.description
)
CompanyCtx = Annotated[Ctx, Depends(company_context)]


# Dependencies as `api.routing.LeanRoute` runs them: the same work, from the request alone.
async def _lean_current_user(request: Request) -> tokens.Claims:
    return await _claims(request)


LEAN: dict[Any, Callable[[Request], Awaitable[Any]]] = {
    company_context: company_ctx,
    current_user: _lean_current_user,
    get_services: get_services,
    get_store: get_store,
    get_token_config: get_token_config,
}


GATES: dict[Any, str] = {}
"""Every module gate dependency and its module (the OpenAPI names its 403 `module_disabled`)."""


def module_gate(alias: str) -> list[Any]:
    """Router dependencies answering 403 `module_disabled` unless the licence enables the
    module. Core modules are always on, so they add no dependency (and no cost)."""
    if alias not in BY_ALIAS:
        raise ValueError(f"unknown module {alias!r}: add it to domain/modules/catalogue.py")
    if alias in CORE:
        return []

    async def gate(ctx: CompanyCtx) -> None:
        licences.check(await licences.gate_licence(ctx.store, ctx.company_id), alias)

    async def lean_gate(request: Request) -> None:
        await gate(await company_ctx(request))

    LEAN[gate] = lean_gate
    GATES[gate] = alias
    return [Depends(gate)]
