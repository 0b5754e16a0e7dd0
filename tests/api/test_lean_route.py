"""`LeanRoute` answers exactly what FastAPI's own solver answers, for good and bad input."""

from __future__ import annotations

from typing import Annotated, Literal

import httpx
import pytest
from fastapi import APIRouter, Body, Depends, FastAPI, Query, Request
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field

from api import errors
from api.access_log import AccessLog
from api.deps import LEAN
from api.middleware import RequestMiddleware
from api.responses import ok
from api.routing import LeanRoute
from domain.errors import Forbidden


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
