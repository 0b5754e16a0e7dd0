"""`LeanRoute` answers exactly what FastAPI's own solver answers, for good and bad input."""

from __future__ import annotations

from typing import Annotated, Literal

import httpx
import pytest
from fastapi import APIRouter, Body, Cookie, Depends, FastAPI, Header, Query, Request
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field

from api import errors
from api.access_log import AccessLog
from api.deps import LEAN
from api.middleware import RequestMiddleware
from api.responses import ok
from api.routing import LeanRoute, _plan, app_routes
from domain.errors import Forbidden
from domain.fields import QueryBool


class Thing(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1)
    size: int = Field(0, ge=0, le=1_000_000)
    kind: Literal["a", "b"] = "a"


class Page(BaseModel):
    model_config = ConfigDict(extra="forbid")
    page: int = Field(1, ge=1)
    kind: Literal["a", "b"] | None = None


async def caller(request: Request) -> str:
    who = request.headers.get("x-who")
    if who is None:
        raise Forbidden("send X-Who", code="no_caller")
    return who


LEAN[caller] = caller
Caller = Annotated[str, Depends(caller)]


def app_with(route_class: type[APIRoute]) -> FastAPI:
    router = APIRouter(prefix="/things", route_class=route_class)

    @router.post("", status_code=201)
    async def create(who: Caller, body: Annotated[Thing, Body()]):
        return ok({"who": who, **body.model_dump()}, status=201)

    @router.get("")
    async def listing(who: Caller, params: Annotated[Page, Query()]):
        return ok({"who": who, **params.model_dump()})

    @router.get("/{id}")
    async def get(who: Caller, id: str):
        return ok({"who": who, "id": id})

    app = FastAPI()
    app.state.router = router
    app.include_router(router)
    errors.install(app)
    # as in the API: bodies are read through the middleware, which checks JSON for both paths
    app.add_middleware(RequestMiddleware, max_body_bytes=1 << 20, access_log=AccessLog())
    return app


def test_the_crud_shapes_are_solved_lean() -> None:
    app = app_with(LeanRoute)
    routes = [r for r in app.state.router.routes if isinstance(r, LeanRoute)]
    assert len(routes) == 3
    for route in routes:
        handler = route.get_route_handler()
        assert handler.__qualname__.startswith("LeanRoute.get_route_handler")


JSON = {"content-type": "application/json"}
CASES = [
    ("POST", "/things", JSON, b'{"name": "x", "size": 2}'),
    ("POST", "/things", JSON, b'{"name": "x", "size": 2'),
    ("POST", "/things", JSON, b"not json"),
    ("POST", "/things", JSON, b""),
    ("POST", "/things", JSON, b"[]"),
    ("POST", "/things", JSON, b"null"),
    ("POST", "/things", JSON, b'{"size": -1, "kind": "c", "extra": 1}'),
    ("POST", "/things", JSON, b'{"name": "x", "size": "big"}'),
    ("POST", "/things", JSON, b'{"name": "x", "size": 123456789012345678901234567890}'),
    ("POST", "/things", {"content-type": "application/merge-patch+json"}, b'{"name": "x"}'),
    ("POST", "/things", {"content-type": "text/plain"}, b'{"name": "x"}'),
    ("POST", "/things", {}, b'{"name": "x"}'),
    ("GET", "/things", {}, b""),
    ("GET", "/things?page=2&kind=b", {}, b""),
    ("GET", "/things?page=0", {}, b""),
    ("GET", "/things?page=x&kind=z", {}, b""),
    ("GET", "/things?unknown=1", {}, b""),
    ("GET", "/things/abc", {}, b""),
]


@pytest.mark.parametrize(("method", "url", "headers", "body"), CASES)
@pytest.mark.parametrize("who", ["ann", None])
async def test_lean_and_fastapi_answer_alike(
    method: str, url: str, headers: dict[str, str], body: bytes, who: str | None
) -> None:
    if who is not None:
        headers = {**headers, "x-who": who}
    answers = []
    for route_class in (LeanRoute, APIRoute):
        transport = httpx.ASGITransport(app=app_with(route_class))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            response = await client.request(method, url, headers=headers, content=body)
        answers.append((response.status_code, response.json()))
    lean, fastapi = answers
    assert lean == fastapi
    if who is None:  # the caller is checked first; only a body the parser refuses comes before
        assert (
            lean[0] == 403
            or lean[1]["error"]["code"] == "malformed_json"
            or ("beyond 64 bits" in lean[1]["error"]["message"])
        )


async def test_a_body_that_is_not_utf8_is_malformed_json() -> None:
    transport = httpx.ASGITransport(app=app_with(LeanRoute))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.post(
            "/things", headers={**JSON, "x-who": "ann"}, content=b'{"name": "\xff"}'
        )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_json"
    assert "not UTF-8" in response.json()["error"]["message"]


# The other shapes the hand-written routers take: a Literal path parameter, scalar query and
# header parameters (aliases, defaults, required), the Request, a body without `Body()`, an
# optional body, several parameters failing at once, and a dependency given at inclusion.


def shapes_with(route_class: type[APIRoute]) -> FastAPI:
    router = APIRouter(prefix="/shapes", route_class=route_class)

    @router.put("/{kind}")
    async def put(
        kind: Literal["invoice", "bill"],
        body: Thing,
        who: Caller,
        wait: Annotated[QueryBool, Query()] = True,
        since: Annotated[str | None, Query(alias="from", max_length=4)] = None,
    ):
        return ok({"kind": kind, "who": who, "wait": wait, "from": since, **body.model_dump()})

    @router.get("/{id}/events")
    async def events(
        id: str,
        who: Caller,
        request: Request,
        last: Annotated[str | None, Header(alias="Last-Event-ID", max_length=8)] = None,
        signature: Annotated[str, Header(alias="webhook-signature")] = "none",
        count: Annotated[int, Query(ge=1, le=5)] = 1,
    ):
        return ok(
            {
                "id": id,
                "who": who,
                "last": last,
                "sig": signature,
                "n": count,
                "path": request.url.path,
            }
        )

    @router.get("/signed")
    async def signed(sig: Annotated[str, Header(alias="X-Sig", min_length=2)]):
        return ok({"sig": sig})

    @router.post("/optional")
    async def optional(who: Caller, body: Annotated[Thing, Body()] = None):  # type: ignore[assignment]
        return ok({"who": who, "body": body.model_dump() if body else None})

    inner = APIRouter(prefix="/gated", route_class=route_class)

    @inner.get("")
    async def gated():
        return ok({"gated": True})

    app = FastAPI()
    app.state.router = router
    app.include_router(router)
    app.include_router(inner, dependencies=[Depends(caller)])
    errors.install(app)
    app.add_middleware(RequestMiddleware, max_body_bytes=1 << 20, access_log=AccessLog())
    return app


def test_every_shape_is_solved_lean() -> None:
    app = shapes_with(LeanRoute)
    routes = [
        context
        for route in app.router.routes
        for context in getattr(route, "effective_route_contexts", lambda: [])()
    ]
    assert len(routes) == 5
    for route in routes:
        assert isinstance(route.original_route, LeanRoute)
        assert _plan(route) is not None, route.path


def sync_dependency() -> int:
    return 1


def test_what_no_extractor_reads_is_left_to_fastapi() -> None:
    router = APIRouter(route_class=LeanRoute)

    @router.get("/cookie")
    async def cookie(session: Annotated[str | None, Cookie()] = None):
        return ok(session)

    @router.get("/sync")
    async def sync(value: Annotated[int, Depends(sync_dependency)]):
        return ok(value)

    @router.post("/two")
    async def two(a: Annotated[Thing, Body()], b: Annotated[Thing, Body()]):
        return ok(None)

    for route in router.routes:
        assert isinstance(route, LeanRoute) and _plan(route) is None, route.path


SIG = {"webhook-signature": "v1,abc"}
SHAPE_CASES = [
    ("PUT", "/shapes/invoice", JSON, b'{"name": "x"}'),
    ("PUT", "/shapes/invoice?wait=false&from=2026", JSON, b'{"name": "x"}'),
    ("PUT", "/shapes/receipt?wait=yes&from=20261", JSON, b'{"size": -1}'),
    ("PUT", "/shapes/bill?wait=true", JSON, b"not json"),
    ("PUT", "/shapes/bill", JSON, b""),
    ("PUT", "/shapes/bill", {}, b'{"name": "x"}'),
    ("GET", "/shapes/abc/events", {}, b""),
    ("GET", "/shapes/abc/events?count=3", {"Last-Event-ID": "1-0", **SIG}, b""),
    ("GET", "/shapes/abc/events?count=9", {"Last-Event-ID": "123456789-0"}, b""),
    ("GET", "/shapes/abc/events?count=x", {}, b""),
    ("GET", "/shapes/signed", {}, b""),
    ("GET", "/shapes/signed", {"X-Sig": "a"}, b""),
    ("GET", "/shapes/signed", {"x-sig": "ab"}, b""),
    ("POST", "/shapes/optional", {}, b""),
    ("POST", "/shapes/optional", JSON, b""),
    ("POST", "/shapes/optional", JSON, b'{"name": "x"}'),
    ("POST", "/shapes/optional", JSON, b'{"name": ""}'),
    ("POST", "/shapes/optional", JSON, b"[1]"),
    ("GET", "/gated", {}, b""),
]


@pytest.mark.parametrize(("method", "url", "headers", "body"), SHAPE_CASES)
@pytest.mark.parametrize("who", ["ann", None])
async def test_every_shape_answers_as_fastapi_does(
    method: str, url: str, headers: dict[str, str], body: bytes, who: str | None
) -> None:
    if who is not None:
        headers = {**headers, "x-who": who}
    answers = []
    for route_class in (LeanRoute, APIRoute):
        transport = httpx.ASGITransport(app=shapes_with(route_class))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            response = await client.request(method, url, headers=headers, content=body)
        answers.append((response.status_code, response.json()))
    lean, fastapi = answers
    assert lean == fastapi


# Every route of the app on the lean path

# Routes FastAPI may still solve, each with the reason it must. Empty: every route is lean.
SOLVED_BY_FASTAPI: dict[tuple[str, str], str] = {}
# Starlette routes of the docs, not API routes: FastAPI never solves anything for them.
DOCS = {"/api/openapi.json", "/api/openapi.yaml", "/api/docs", "/docs/oauth2-redirect"}


def test_every_route_of_the_app_is_compiled_by_lean_route(app: FastAPI) -> None:
    solved, lean, other = [], 0, []
    for route in app_routes(app):
        contexts = getattr(route, "effective_route_contexts", None)
        for context in contexts() if contexts else [route]:
            original = getattr(context, "original_route", context)
            if not isinstance(original, APIRoute):
                other.append(getattr(context, "path", repr(context)))
                continue
            for method in sorted(context.methods):
                key = (method, context.path_format)
                if isinstance(original, LeanRoute) and _plan(context) is not None:
                    lean += 1
                    assert key not in SOLVED_BY_FASTAPI, f"{key} is lean: drop it from the list"
                elif key not in SOLVED_BY_FASTAPI:
                    solved.append(key)
    assert solved == [], "routes solved by FastAPI, not LeanRoute"
    assert set(other) == DOCS
    assert lean > 90
