"""Routes for every declaration in the registry: a resource's list, create, get, update,
delete and actions (under its parent, for a sub-resource), reports and job operations.

Each endpoint is built with an explicit signature (FastAPI reads it for the OpenAPI
document; `LeanRoute` compiles it into direct extractors), its request and response models
derived from the one declaration, its example, and every status it can answer. Paths without
parameters are mounted first, so `/api/projects/time` is never taken for a project id.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Annotated, Any, Literal, get_args, get_origin

from fastapi import APIRouter, Body, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field, create_model

from api import PREFIX
from api import jobs as jobs_api
from api.deps import CompanyCtx, module_gate
from api.responses import Deleted, Envelope, ListEnvelope, errors, ok
from api.routing import LeanRoute
from domain import resources
from domain.fields import Day, QueryBool, QueryInt
from domain.resources import Action, Alias, JobOperation, ListQuery, PathParam, Report, Resource
from domain.resources.examples import openapi_example
from domain.resources.registry import Registry

MAX_LIMIT = 200
MAX_PAGE = 1_000_000_000
ID_PATTERN = r"^[0-9a-f]{24}$"
QUERY_TYPES: dict[Any, Any] = {bool: QueryBool, int: QueryInt}


@dataclass
class RouteSpec:
    path: str
    method: str
    endpoint: Callable[..., Any]
    options: dict[str, Any] = field(default_factory=dict)
    # what the endpoint was built from, for an alias of it (`Alias`)
    run: Callable[..., Any] | None = None
    params: list[inspect.Parameter] = field(default_factory=list)
    key: str = ""


def mount(registry: Registry) -> APIRouter:
    specs: list[RouteSpec] = []
    for resource in registry.resources:
        specs += resource_routes(resource)
    specs += [report_route(report) for report in registry.reports]
    specs += [job_route(operation) for operation in registry.jobs]
    router = APIRouter(route_class=LeanRoute)
    for spec in sorted(specs, key=lambda s: s.path.count("{")):
        router.add_api_route(spec.path, spec.endpoint, methods=[spec.method], **spec.options)
    return router


def _id_param(name: str, label: str) -> inspect.Parameter:
    annotation = Annotated[str, Path(pattern=ID_PATTERN, description=f"The {label}'s id")]
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation)


def _param(name: str, annotation: Any, default: Any = inspect.Parameter.empty) -> Any:
    return inspect.Parameter(
        name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation, default=default
    )


def _endpoint(
    run: Callable[..., Any], params: list[inspect.Parameter], name: str
) -> Callable[..., Any]:
    """The route's function, with the signature FastAPI reads. After `run` has answered (its
    writes committed), the jobs those writes recorded (`domain.jobs.defer`) are enqueued."""
    takes_request = any(p.name == "request" for p in params)

    async def endpoint(**values: Any) -> Any:
        request = values["request"] if takes_request else values.pop("request")
        answer = await run(**values)
        ctx = values.get("ctx")
        if ctx is not None and ctx.deferred:
            await jobs_api.enqueue_deferred(request, ctx)
        return answer

    signature = params if takes_request else [*params, _param("request", Request)]
    endpoint.__signature__ = inspect.Signature(signature)  # type: ignore[attr-defined]
    endpoint.__name__ = endpoint.__qualname__ = name
    return endpoint


def _body(model: type[BaseModel], example: dict[str, Any] | None, optional: bool) -> Any:
    extra = {"openapi_examples": {"example": {"value": example}}} if example else {}
    return _param(
        "body",
        Annotated[model, Body(**extra)],
        None if optional else inspect.Parameter.empty,
    )


def _all_optional(model: type[BaseModel]) -> bool:
    return not any(f.is_required() for f in model.model_fields.values())


def _options(
    owner: Resource | Report | JobOperation, summary: str, statuses: tuple[int, ...], **more: Any
) -> dict[str, Any]:
    module = owner.module
    codes: dict[int, tuple[str, ...]] = {403: ("role_forbidden",)}
    if 409 in statuses and isinstance(owner, Resource) and owner.lifecycle:
        codes[409] = ("invalid_transition", owner.lifecycle.locked_code)
    return {
        "summary": summary,
        "tags": [owner.tag],
        "dependencies": module_gate(module) if module else [],
        "responses": errors(*sorted({401, 403, *statuses}), codes=codes),
        "name": summary,
        **more,
    }


def resource_routes(resource: Resource) -> list[RouteSpec]:
    base = f"{PREFIX}/{resource.path}"
    item = f"{base}/{{id}}"
    parent = resource.parent
    scope = [_id_param(parent.field, parent.resource.label)] if parent else []
    label, plural = resource.label, resource.name.rsplit("/", 1)[-1].replace("-", " ")
    Read = resource.read
    parent_id = (lambda values: values.get(parent.field)) if parent else (lambda values: None)
    gone = (404,) if parent else ()  # a collection under a parent answers 404 for it
    ctx_param = _param("ctx", CompanyCtx)
    item_params = [ctx_param, *scope, _id_param("id", label)]

    async def list_items(ctx: Any, params: BaseModel, **values: Any) -> Any:
        query = _list_query(params)
        items, total = await resources.list_documents(ctx, resource, query, parent_id(values))
        return ok(items, meta={"total": total, "page": query.page, "limit": query.limit})

    async def create_item(ctx: Any, body: BaseModel, **values: Any) -> Any:
        data = body.model_dump(mode="json", exclude_none=True)
        created = await resources.create_document(ctx, resource, data, parent_id(values))
        return ok(created, status=201)

    async def get_item(ctx: Any, id: str, **values: Any) -> Any:
        return ok(await resources.get_document(ctx, resource, id, parent_id(values)))

    async def update_item(ctx: Any, id: str, body: BaseModel, **values: Any) -> Any:
        resources.check_id(resource, id)
        changes = body.model_dump(mode="json", exclude_unset=True)
        return ok(await resources.update_document(ctx, resource, id, changes, parent_id(values)))

    async def delete_item(ctx: Any, id: str, **values: Any) -> Any:
        return ok(await resources.delete_document(ctx, resource, id, parent_id(values)))

    example = openapi_example(resource.example)
    changeable = {k: v for k, v in (example or {}).items() if k not in resource.schema.immutable}
    table: dict[str, tuple[Any, ...]] = {
        # operation: path, method, endpoint, parameters, summary, statuses, response, status
        "list": (
            base,
            "GET",
            list_items,
            [ctx_param, *scope, _param("params", Annotated[list_query_model(resource), Query()])],
            f"List {plural}",
            (400, *gone),
            ListEnvelope[Read],
            200,
        ),
        "create": (
            base,
            "POST",
            create_item,
            [ctx_param, *scope, _body(resource.create, example, False)],
            f"Create a {label}",
            (400, 409, *gone),
            Envelope[Read],
            201,
        ),
        "get": (
            item,
            "GET",
            get_item,
            item_params,
            f"Get a {label}",
            (400, 404),
            Envelope[Read],
            200,
        ),
        "update": (
            item,
            "PUT",
            update_item,
            [*item_params, _body(resource.update, changeable or None, False)],
            f"Update a {label}",
            (400, 404, 409),
            Envelope[Read],
            200,
        ),
        "delete": (
            item,
            "DELETE",
            delete_item,
            item_params,
            f"Delete a {label}",
            (400, 404, 409),
            Envelope[Deleted],
            200,
        ),
    }
    specs = []
    for operation in resource.operations:
        path, method, run, params, summary, statuses, model, status = table[operation]
        options = _options(resource, summary, statuses, response_model=model, status_code=status)
        endpoint = _endpoint(run, params, f"{operation}_{resource.path}")
        specs.append(RouteSpec(path, method, endpoint, options, run, params, operation))
    specs += [action_route(resource, action, base, scope, parent_id) for action in resource.actions]
    by_key = {spec.key: spec for spec in specs}
    return specs + [alias_route(resource, alias, by_key) for alias in resource.aliases]


def alias_route(resource: Resource, alias: Alias, by_key: dict[str, RouteSpec]) -> RouteSpec:
    """The operation's endpoint again at the alias's path, its `id` named as the path names
    it."""
    spec = by_key[alias.operation]
    assert spec.run is not None
    run, id_name = spec.run, alias.id_name
    params = [
        p.replace(name=id_name) if p.name == "id" and id_name != "id" else p for p in spec.params
    ]

    async def aliased(**values: Any) -> Any:
        if id_name != "id":
            values["id"] = values.pop(id_name)
        return await run(**values)

    method = alias.method or spec.method
    path = f"{PREFIX}/{alias.path}"
    summary = alias.summary or spec.options["summary"]
    options = {
        **spec.options,
        "summary": summary,
        "name": summary,
        "description": f"The same as `{spec.method} {spec.path}`"
        + (", changing only the fields sent." if method == "PATCH" else ".")
        + (f" {spec.options['description']}" if spec.options.get("description") else ""),
    }
    name = f"{alias.operation}_{alias.path}".replace("/", "_").replace("{", "").replace("}", "")
    return RouteSpec(path, method, _endpoint(aliased, params, name), options)


def action_route(
    resource: Resource,
    action: Action,
    base: str,
    scope: list[inspect.Parameter],
    parent_id: Callable[[dict[str, Any]], str | None],
) -> RouteSpec:
    output = action.output or resource
    model = output.read if isinstance(output, Resource) else output
    params = [_param("ctx", CompanyCtx), *scope]
    if not action.collection:
        params.append(_id_param("id", resource.label))
    if action.input is not None:
        params.append(
            _body(action.input, openapi_example(action.example), _all_optional(action.input))
        )

    async def run_action(ctx: Any, id: str | None = None, body: Any = None, **values: Any) -> Any:
        if action.input is not None and body is None:
            body = action.input()
        result = await resources.act(ctx, resource, action, id, body, parent_id(values))
        return ok(result, status=action.status_code)

    path = f"{base}/{action.verb}" if action.collection else f"{base}/{{id}}/{action.verb}"
    statuses = (400, 409) if action.collection and not resource.parent else (400, 404, 409)
    return RouteSpec(
        path,
        "POST",
        _endpoint(run_action, params, f"{action.verb}_{resource.path}"),
        _options(
            resource,
            action.summary,
            statuses,
            response_model=Envelope[model],
            status_code=action.status_code,
            description=action.description,
        ),
        run_action,
        params,
        action.verb,
    )


def report_route(report: Report) -> RouteSpec:
    async def run_report(ctx: Any, query: BaseModel) -> Any:
        return ok(await resources.run_report(ctx, report, query))

    params = [_param("ctx", CompanyCtx), _param("query", Annotated[report.query, Query()])]
    return RouteSpec(
        f"{PREFIX}/{report.path}",
        "GET",
        _endpoint(run_report, params, f"report_{report.path}"),
        _options(
            report,
            report.summary,
            (400,),
            response_model=Envelope[report.output or dict[str, Any]],
            description=report.description,
        ),
    )


def _job_answers(succeeded: int) -> dict[int | str, dict[str, Any]]:
    answers: dict[int | str, dict[str, Any]] = {
        succeeded: {"model": Envelope[jobs_api.Submitted], "description": "Succeeded"},
        202: {"model": Envelope[jobs_api.Submitted], "description": "Still running"},
    }
    if succeeded != 200:
        answers[200] = {
            "model": Envelope[jobs_api.Submitted],
            "description": "Ended without succeeding: the job's `error` says why",
        }
    return answers


def _path_param(param: PathParam) -> inspect.Parameter:
    if param.resource is not None:
        return _id_param(param.name, param.resource.label)
    extra = {"examples": [param.example]} if param.example else {}
    annotation = Annotated[str, Path(pattern=param.pattern, description=param.description, **extra)]
    return _param(param.name, annotation)


def job_route(operation: JobOperation) -> RouteSpec:
    async def submit(
        ctx: Any, request: Request, wait: bool, body: BaseModel | None = None, **path: str
    ) -> Any:
        resources.authorize(ctx, operation.role)
        if body is None:
            body = operation.input()
        values: dict[str, Any] = {}
        for param in operation.params:  # a resource's id: its document, in this company
            value = path[param.name]
            resource = param.resource
            values[param.name] = await resources.fetch(ctx, resource, value) if resource else value
        job_input = await operation.prepare(ctx, body, **values)
        kind = operation.kind if isinstance(operation.kind, str) else operation.kind(body)
        return await jobs_api.submit(request, ctx, kind, job_input, wait, operation.status_code)

    params = [
        _param("ctx", CompanyCtx),
        _param("request", Request),
        *(_path_param(param) for param in operation.params),
        _param(
            "wait",
            Annotated[
                QueryBool,
                Query(description="Wait (bounded) for the result; false answers 202 at once"),
            ],
            True,
        ),
    ]
    if operation.input.model_fields:  # an operation whose path says it all takes no body
        example = openapi_example(operation.example)
        params.append(_body(operation.input, example, _all_optional(operation.input)))
    found = (404,) if any(p.resource for p in operation.params) else ()
    statuses = (400, *found, 409, 503)
    name = f"job_{operation.path}".replace("/", "_").replace("{", "").replace("}", "")
    return RouteSpec(
        f"{PREFIX}/{operation.path}",
        "POST",
        _endpoint(submit, params, name),
        _options(
            operation,
            operation.summary,
            statuses,
            response_model=Envelope[jobs_api.Submitted],
            status_code=operation.status_code,
            description=(operation.description or "")
            + f"\n\n{operation.status_code} with the job when it succeeded within the wait "
            "(its `result`); 200 with the job when it ended otherwise (its `error` says why); "
            "202 with the job and its events URL (`/api/jobs/{id}/events`, SSE) when it is "
            "still running or `wait=false`.",
            responses={
                **errors(401, 403, *statuses, codes={403: ("role_forbidden",), **operation.codes}),
                **_job_answers(operation.status_code),
            },
        ),
    )


def _plain(annotation: Any) -> Any:
    """A filter's type without its body-side validators (`StrictBool` is a `bool` here)."""
    return get_args(annotation)[0] if get_origin(annotation) is Annotated else annotation


def _optional(annotation: Any) -> Any:
    return QUERY_TYPES.get(annotation, annotation) | None


def list_query_model(resource: Resource) -> type[BaseModel]:
    fields: dict[str, Any] = {
        # Bounded so that the offset, (page - 1) * limit, fits the stores' 64-bit integers.
        "page": (QueryInt, Field(1, ge=1, le=MAX_PAGE, description="Page number, from 1")),
        "limit": (QueryInt, Field(25, ge=1, le=MAX_LIMIT, description="Items per page (max 200)")),
        "sort": (
            Literal[tuple(s for key in resource.sort for s in (key, f"-{key}"))] | None,  # type: ignore[misc]
            Field(None, description=f"One of {', '.join(resource.sort)}; prefix - for descending"),
        ),
    }
    if resource.search:
        fields["search"] = (
            str | None,
            Field(
                None, max_length=200, description=f"Text to find in {', '.join(resource.search)}"
            ),
        )
    if resource.date_field:
        fields["from_"] = (
            Day | None,
            Field(None, alias="from", description=f"{resource.date_field} on or after"),
        )
        fields["to"] = (Day | None, Field(None, description=f"{resource.date_field} on or before"))
    read_fields = resource.read.model_fields
    for name in resource.filters:
        annotation = _plain(read_fields[name].annotation if name in read_fields else str)
        if get_origin(annotation) is Literal or annotation in (str, bool, int):
            fields[name] = (_optional(annotation), None)
        else:
            fields[name] = (
                _optional(_plain(next(a for a in get_args(annotation) if a is not type(None)))),
                None,
            )
    return create_model(
        f"{resource.read.__name__.removesuffix('Out')}ListQuery",
        __config__=ConfigDict(extra="forbid", populate_by_name=True),
        **fields,
    )


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


def _list_query(params: BaseModel) -> ListQuery:
    values = params.model_dump()
    return ListQuery(
        page=values.pop("page"),
        limit=values.pop("limit"),
        sort=values.pop("sort"),
        search=values.pop("search", None),
        date_from=_iso(values.pop("from_", None)),
        date_to=_iso(values.pop("to", None)),
        filters=values,
    )
