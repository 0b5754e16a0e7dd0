"""`LeanRoute`: endpoints of a few plain shapes, solved without FastAPI's dependency solver.

FastAPI solves an endpoint's parameters on every request by walking its dependency tree
(the path, query, header and cookie parameters of every node, each through a TypeAdapter).
On `GET /api/contacts/{id}` that was a third of the request's CPU (`bench/api_crud.py`).
The routes of this API only ever take a few kinds of parameter, so this route class
compiles the endpoint's parameters, as FastAPI itself read them from its signature (the
route's `dependant`), once into direct extractors:

- a dependency with a lean form registered in `api.deps.LEAN` (the company context, the
  current user, the store; a module gate given as a router dependency), run first, in
  FastAPI's order (the route's dependencies, then the endpoint's);
- a path parameter typed `str` (read as it is: an id's pattern is the domain's to check,
  with its own message); a path, query or header parameter of any other scalar type
  (a `Literal`, `QueryBool`, `str | None` with an alias...), validated by FastAPI's own
  field for it, so with its aliases, default, error `loc`, type and message;
- a pydantic model declared `Query()`, or one request body model (JSON, parsed as FastAPI
  parses it; optional when it has a default);
- the `Request`.

As in FastAPI, a dependency that raises answers before any parameter is validated, and the
validation errors of every parameter are raised together (path, query, header, then body).
Errors come out exactly as FastAPI raises them (`RequestValidationError` with the same
`loc`, type and message; `json_invalid` for a body that is not JSON), so the one error
handler renders them. The signature remains the declaration: FastAPI still reads it for
the OpenAPI document. An endpoint of any other shape (a cookie, a form, several bodies, a
dependency without a lean form) is solved by FastAPI as usual; an endpoint solved here must
answer a `Response` (every route answers `ok(...)` or a stream).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi import routing as fastapi_routing
from fastapi.dependencies.utils import request_params_to_args
from fastapi.exceptions import RequestValidationError
from fastapi.params import Body, Path
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException
from starlette.routing import BaseRoute, Match
from starlette.types import Receive, Scope, Send

from api import json_body
from api.deps import ID_PATTERN, LEAN

Extractor = Callable[[Request], Awaitable[Any]]

# FastAPI (0.16x) builds an included route's handler with the inclusion's context (its
# prefix, its dependencies) in this variable; without it the route is its own context.
_INCLUDE_CONTEXT = getattr(fastapi_routing, "_effective_route_context_var", None)


@dataclass(frozen=True)
class Plan:
    """What a lean handler does, in order."""

    depends: list[tuple[str | None, Extractor]]
    params: list[tuple[str, Extractor]]
    request_name: str | None
    reads_body: bool


class LeanRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Awaitable[Response]]:
        context = _INCLUDE_CONTEXT.get() if _INCLUDE_CONTEXT is not None else None
        route = context if context is not None and context.original_route is self else self
        plan = _plan(route)
        if plan is None:
            return super().get_route_handler()
        endpoint = self.endpoint
        depends, params, request_name, reads_body = (
            plan.depends,
            plan.params,
            plan.request_name,
            plan.reads_body,
        )

        async def handler(request: Request) -> Response:
            if reads_body:  # FastAPI parses the body before it solves anything
                await _json_body(request)
            values: dict[str, Any] = {}
            for name, depend in depends:
                value = await depend(request)
                if name is not None:
                    values[name] = value
            errors: list[Any] = []
            for name, extract in params:
                try:
                    values[name] = await extract(request)
                except RequestValidationError as error:
                    errors += error.errors()
            if errors:
                raise RequestValidationError(errors)
            if request_name is not None:
                values[request_name] = request
            response = await endpoint(**values)
            if not isinstance(response, Response):
                raise TypeError(f"{endpoint.__qualname__} must answer a Response")
            return response

        return handler


def _plan(route: Any) -> Plan | None:
    """The lean plan of an `APIRoute` (or of an included route's effective context), or None
    when its endpoint takes something no extractor here reads."""
    if not inspect.iscoroutinefunction(route.endpoint):
        return None
    dependant = route.dependant
    if (
        dependant.http_connection_param_name
        or dependant.websocket_param_name
        or dependant.background_tasks_param_name
        or dependant.response_param_name
        or dependant.security_scopes_param_name
        or dependant.cookie_params
    ):
        return None
    depends: list[tuple[str | None, Extractor]] = []
    for sub in dependant.dependencies:
        lean = LEAN.get(sub.call)
        if lean is None:
            return None
        depends.append((sub.name, lean))
    params: list[tuple[str, Extractor]] = []
    for field in dependant.path_params:
        info = field.field_info
        if type(info) is Path and info.annotation is str and _unchecked(info):
            params.append((field.name, _path(field.alias)))
        else:
            params.append((field.name, _scalar(field, _path_params)))
    for field in dependant.query_params:
        model = field.field_info.annotation
        if isinstance(model, type) and issubclass(model, BaseModel):
            params.append((field.name, _query(model)))
        else:
            params.append((field.name, _scalar(field, _query_params)))
    for field in dependant.header_params:
        if isinstance(field.field_info.annotation, type) and issubclass(
            field.field_info.annotation, BaseModel
        ):
            return None
        params.append((field.name, _scalar(field, _headers)))
    if dependant.body_params:
        if len(dependant.body_params) != 1 or route._embed_body_fields:
            return None
        field = dependant.body_params[0]
        model = field.field_info.annotation
        if type(field.field_info) is not Body or not (
            isinstance(model, type) and issubclass(model, BaseModel)
        ):
            return None
        required = field.field_info.is_required()
        params.append((field.name, _body(model, not required, None if required else field.default)))
    return Plan(depends, params, dependant.request_param_name, route.body_field is not None)


def _unchecked(info: Any) -> bool:
    """A text path parameter taken as it comes: no constraint, or the id pattern, which the
    domain checks itself (`check_id`: 400 naming the object) rather than FastAPI's field."""
    return not info.metadata or [getattr(m, "pattern", None) for m in info.metadata] == [ID_PATTERN]


def _path_params(request: Request) -> Any:
    return request.path_params


def _query_params(request: Request) -> Any:
    return request.query_params


def _headers(request: Request) -> Any:
    return request.headers


def _scalar(field: Any, source: Callable[[Request], Any]) -> Extractor:
    """One path, query or header parameter, validated by FastAPI's own field for it."""
    fields, name = [field], field.name

    async def extract(request: Request) -> Any:
        values, errors = request_params_to_args(fields, source(request))
        if errors:
            raise RequestValidationError(errors)
        return values[name]

    return extract


def _path(name: str) -> Extractor:
    async def extract(request: Request) -> str:
        return request.path_params[name]

    return extract


def _validated(model: type[BaseModel], data: Any, where: str) -> BaseModel:
    try:
        # from_attributes as FastAPI validates a body: its error for a non-object is the same
        return model.model_validate(data, from_attributes=True)
    except ValidationError as error:
        errors = [{**e, "loc": (where, *e["loc"])} for e in error.errors(include_url=False)]
        raise RequestValidationError(errors) from error


_UNREAD = object()
_EMPTY = object()


async def _json_body(request: Request) -> Any:
    """The body as FastAPI reads it: parsed when its type is JSON, else bytes, `_EMPTY` when
    there is none; read once per request."""
    data = getattr(request.state, "body", _UNREAD)
    if data is not _UNREAD:
        return data
    raw = await request.body()
    data: Any = raw or _EMPTY
    if raw and json_body.is_json(request.headers.get("content-type")):
        data = json_body.parsed(request.scope, raw)  # its limits: a 400 `BodyRefused`
    request.state.body = data
    return data


def _body(model: type[BaseModel], optional: bool = False, default: Any = None) -> Extractor:
    async def body(request: Request) -> BaseModel:
        data = await _json_body(request)
        if data is _EMPTY and optional:
            return default
        if data is _EMPTY:
            missing = {"type": "missing", "loc": ("body",), "msg": "Field required", "input": None}
            raise RequestValidationError([missing])
        return _validated(model, data, "body")

    return body


def _query(model: type[BaseModel]) -> Extractor:
    async def extract(request: Request) -> BaseModel:
        return _validated(model, dict(request.query_params), "query")

    return extract


class RouteIndex(BaseRoute):
    """The app's routes, each request trying only those its path could match.

    FastAPI tries an app's routes in order, and tries an included router by matching each of
    its routes, so a request to the fifth router of twenty paid for a score of route matches,
    a sixth of a CRUD request (`bench/api_crud.py`). Here the routes are bucketed by the
    first three segments of their paths (`/api/ai-insights/insights/{id}` ->
    `api/ai-insights/insights`); a route whose third segment is a parameter (or absent)
    joins every bucket of its first two (`/api/contacts/{id}`), and one whose first two are
    not both literal joins every bucket. A request tries, in the original order, the routes
    of its bucket. Routes of other buckets cannot match it, so what answers is unchanged:
    a GET of `/api/ai-insights/insights/{id}` no longer walks the four hand-written
    `/api/ai-insights` routers first (a tenth of a licence-gated GET's time).
    """

    def __init__(self, routes: list[BaseRoute]):
        self.routes = list(routes)
        keys = {id(route): _route_keys(route) for route in self.routes}

        def serving(k2: str, k3: str | None) -> list[BaseRoute]:
            return [r for r in self.routes if _serves(keys[id(r)], k2, k3)]

        self._anywhere = [r for r in self.routes if keys[id(r)] is None]
        found = {k for ks in keys.values() if ks for k in ks}
        self._twos = {k2: serving(k2, None) for k2, _ in found}
        self._threes = {(k2, k3): serving(k2, k3) for k2, k3 in found if k3 is not None}

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] not in ("http", "websocket"):
            return Match.NONE, {}
        k2, k3 = _path_keys(scope["path"])
        candidates = self._threes.get((k2, k3)) if k3 is not None else None
        if candidates is None:
            candidates = self._twos.get(k2, self._anywhere)
        partial: tuple[BaseRoute, Scope] | None = None
        allowed: dict[str, None] = {}  # a method mismatch: every method of the path, in order
        for route in candidates:
            match, child_scope = route.matches(scope)
            if match == Match.FULL:
                return Match.FULL, {**child_scope, _CHOSEN: route}
            if match == Match.PARTIAL:
                partial = partial or (route, child_scope)
                allowed.update(dict.fromkeys(_methods(route, scope)))
        if partial is not None:
            return Match.PARTIAL, {**partial[1], _CHOSEN: partial[0], _ALLOWED: allowed}
        return Match.NONE, {}

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        route, allowed = scope.pop(_CHOSEN), scope.pop(_ALLOWED, None)
        if allowed and scope["type"] == "http":
            raise HTTPException(405, headers={"Allow": ", ".join(allowed)})
        await route.handle(scope, receive, send)


_CHOSEN = "numbors.route"
_ALLOWED = "numbors.allowed"


def _methods(route: BaseRoute, scope: Scope) -> list[str]:
    """The methods `route` serves at the scope's path (an included router: of its routes)."""
    contexts = getattr(route, "effective_route_contexts", None)
    matching = [c for c in contexts() if c.matches(scope)[0] != Match.NONE] if contexts else [route]
    return [m for c in matching for m in sorted(getattr(c, "methods", None) or ())]


def _path_keys(path: str) -> tuple[str, str | None]:
    """A path's first two segments and its third (None when it has none)."""
    parts = path.split("/", 4)[1:4]
    return "/".join(parts[:2]), parts[2] if len(parts) > 2 else None


def _route_keys(route: BaseRoute) -> set[tuple[str, str | None]] | None:
    """The keys of the paths `route` serves, a third segment of None where it may be
    anything; None when it may serve any path."""
    contexts = getattr(route, "effective_route_contexts", None)
    paths = [c.path_format for c in contexts()] if contexts else [getattr(route, "path", None)]
    keys = set()
    for path in paths:
        if not isinstance(path, str) or not path.startswith("/"):
            return None
        k2, k3 = _path_keys(path)
        if "{" in k2:
            return None
        keys.add((k2, None if k3 is None or "{" in k3 else k3))
    return keys


def _serves(keys: set[tuple[str, str | None]] | None, k2: str, k3: str | None) -> bool:
    """Whether a route of these keys may answer a path of these (k3 None: any third)."""
    if keys is None:
        return True
    return any(two == k2 and (three is None or three == k3) for two, three in keys)


def index_routes(app: FastAPI) -> None:
    """Put the app's routes behind one `RouteIndex` (call once every route is added)."""
    app.router.routes = [RouteIndex(app.router.routes)]


def app_routes(app: FastAPI) -> list[BaseRoute]:
    """The app's routes as declared, through its `RouteIndex`."""
    return [
        r
        for route in app.router.routes
        for r in (route.routes if isinstance(route, RouteIndex) else [route])
    ]
