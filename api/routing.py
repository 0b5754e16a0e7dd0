"""`LeanRoute`: endpoints of a few plain shapes, solved without FastAPI's dependency solver.

FastAPI solves an endpoint's parameters on every request by walking its dependency tree
(the path, query, header and cookie parameters of every node, each through a TypeAdapter).
On `GET /api/contacts/{id}` that was a third of the request's CPU (`bench/api_crud.py`).
The declarative resources only ever take the same few kinds of parameter, so this route
class compiles the endpoint's signature once into direct extractors:

- a dependency with a lean form registered in `api.deps.LEAN` (the company context; a
  module gate given as a router dependency), run first, as FastAPI runs them;
- a path parameter typed `str`;
- a pydantic model declared `Body()` (JSON, parsed as FastAPI parses it) or `Query()`.

Errors come out exactly as FastAPI raises them (`RequestValidationError` with the same
`loc`, type and message; `json_invalid` for a body that is not JSON), so the one error
handler renders them. The signature remains the declaration: FastAPI still reads it for
the OpenAPI document. An endpoint of any other shape is solved by FastAPI as usual; an
endpoint solved here must answer a `Response` (the resources answer `ok(...)`).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from email.message import Message
from typing import Annotated, Any, get_args, get_origin

from fastapi import FastAPI, Request, Response
from fastapi.dependencies.utils import get_typed_signature
from fastapi.exceptions import RequestValidationError
from fastapi.params import Body, Depends, Path, Query
from fastapi.params import Param as FastAPIParam
from fastapi.routing import APIRoute
from pydantic import BaseModel, TypeAdapter, ValidationError
from starlette.exceptions import HTTPException
from starlette.routing import BaseRoute, Match
from starlette.types import Receive, Scope, Send

from api import json_body
from api.deps import LEAN

Extractor = Callable[[Request], Awaitable[Any]]


class LeanRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Awaitable[Response]]:
        plan = _plan(self)
        if plan is None:
            return super().get_route_handler()
        guards, params = plan
        endpoint = self.endpoint
        reads_body = self.body_field is not None

        async def handler(request: Request) -> Response:
            if reads_body:  # FastAPI parses the body before it solves anything
                await _json_body(request)
            for guard in guards:
                await guard(request)
            values = {name: await extract(request) for name, extract in params}
            response = await endpoint(**values)
            if not isinstance(response, Response):
                raise TypeError(f"{endpoint.__qualname__} must answer a Response")
            return response

        return handler


def _plan(route: APIRoute) -> tuple[list[Extractor], list[tuple[str, Extractor]]] | None:
    if not inspect.iscoroutinefunction(route.endpoint):
        return None
    guards: list[Extractor] = []
    for dependency in route.dependencies:
        lean = LEAN.get(dependency.dependency) if dependency.dependency else None
        if lean is None:
            return None
        guards.append(lean)
    params: list[tuple[str, Extractor]] = []
    path_names = set(route.param_convertors)
    for name, parameter in get_typed_signature(route.endpoint).parameters.items():
        extract = _extractor(name, parameter, path_names)
        if extract is None:
            return None
        params.append((name, extract))
    return guards, params


def _extractor(name: str, parameter: inspect.Parameter, path_names: set[str]) -> Any:
    annotation, marker, validators = parameter.annotation, None, []
    if get_origin(annotation) is Annotated:
        annotation, *metadata = get_args(annotation)
        markers = [m for m in metadata if isinstance(m, FastAPIParam | Body | Depends)]
        validators = [m for m in metadata if not any(m is k for k in markers)]
        if len(markers) != 1:
            return None
        marker = markers[0]
    if isinstance(marker, Depends):
        return LEAN.get(marker.dependency) if marker.dependency else None
    if annotation is Request:
        return _request
    if name in path_names and annotation is str and (marker is None or type(marker) is Path):
        return _path(name)  # a pattern on an id is the domain's to check, with its message
    default = None if parameter.default is inspect.Parameter.empty else parameter.default
    if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
        if type(marker) is not Query:
            return None
        typed = Annotated[annotation, *validators] if validators else annotation
        return _scalar_query(name, typed, parameter.default)
    if type(marker) is Body and not marker.embed:
        return _body(annotation, parameter.default is not inspect.Parameter.empty, default)
    if type(marker) is Query:
        return _query(annotation)
    return None


async def _request(request: Request) -> Request:
    return request


def _scalar_query(name: str, annotation: Any, default: Any) -> Extractor:
    """One query parameter, validated as FastAPI would (its TypeAdapter, its error `loc`)."""
    adapter = TypeAdapter(annotation)
    required = default is inspect.Parameter.empty

    async def extract(request: Request) -> Any:
        raw = request.query_params.get(name)
        if raw is None:
            if required:
                missing = {"type": "missing", "loc": ("query", name), "msg": "Field required"}
                raise RequestValidationError([{**missing, "input": None}])
            return default
        try:
            return adapter.validate_python(raw)
        except ValidationError as error:
            errors = [
                {**e, "loc": ("query", name, *e["loc"])} for e in error.errors(include_url=False)
            ]
            raise RequestValidationError(errors) from error

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
    if raw and _is_json(request.headers.get("content-type")):
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


def _is_json(content_type: str | None) -> bool:
    """As FastAPI decides it: `application/json` or `application/*+json`, parameters aside."""
    if not content_type:
        return False
    if content_type == "application/json":
        return True
    message = Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json")
    )


def _query(model: type[BaseModel]) -> Extractor:
    async def extract(request: Request) -> BaseModel:
        return _validated(model, dict(request.query_params), "query")

    return extract


class RouteIndex(BaseRoute):
    """The app's routes, each request trying only those its path could match.

    FastAPI tries an app's routes in order, and tries an included router by matching each of
    its routes, so a request to the fifth router of twenty paid for a score of route matches,
    a sixth of a CRUD request (`bench/api_crud.py`). Here the routes are bucketed by the
    first two segments of their paths (`/api/contacts/{id}` -> `api/contacts`); a request
    tries, in the original order, the routes of its bucket and those whose first segments
    are parameters. Routes of other buckets cannot match it, so what answers is unchanged.
    """

    def __init__(self, routes: list[BaseRoute]):
        self.routes = list(routes)
        keys = {id(route): _route_keys(route) for route in self.routes}
        self._anywhere = [r for r in self.routes if keys[id(r)] is None]
        self._buckets: dict[str, list[BaseRoute]] = {}
        for key in {k for ks in keys.values() if ks for k in ks}:
            self._buckets[key] = [
                r for r in self.routes if keys[id(r)] is None or key in keys[id(r)]
            ]

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] not in ("http", "websocket"):
            return Match.NONE, {}
        candidates = self._buckets.get(_path_key(scope["path"]), self._anywhere)
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


def _path_key(path: str) -> str:
    return "/".join(path.split("/", 3)[1:3])


def _route_keys(route: BaseRoute) -> set[str] | None:
    """The keys of the paths `route` serves; None when it may serve any path."""
    contexts = getattr(route, "effective_route_contexts", None)
    paths = [c.path_format for c in contexts()] if contexts else [getattr(route, "path", None)]
    keys = set()
    for path in paths:
        if not isinstance(path, str) or not path.startswith("/"):
            return None
        key = _path_key(path)
        if "{" in key:
            return None
        keys.add(key)
    return keys


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
