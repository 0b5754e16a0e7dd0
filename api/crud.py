"""Routes for any declared `Resource`: list, create, get, update, delete.

No `from __future__ import annotations` here: FastAPI reads the endpoint annotations at
runtime, and they name models that exist only inside `crud_router`.
"""

from datetime import date
from typing import Annotated, Any, Literal, get_args, get_origin

from fastapi import APIRouter, Body, Query
from pydantic import BaseModel, ConfigDict, Field, create_model

from api import PREFIX
from api.deps import CompanyCtx, module_gate
from api.responses import Deleted, Envelope, ListEnvelope, errors, ok
from api.routing import LeanRoute
from domain import resources
from domain.errors import Invalid
from domain.fields import Day, QueryBool, QueryInt
from domain.resources import ListQuery, Resource

MAX_LIMIT = 200
MAX_PAGE = 1_000_000_000


# A filter's type in a query string, where every value arrives as text.
QUERY_TYPES: dict[Any, Any] = {bool: QueryBool, int: QueryInt}


def _optional(annotation: Any) -> Any:
    return QUERY_TYPES.get(annotation, annotation) | None


def list_query_model(resource: Resource) -> type[BaseModel]:
    fields: dict[str, Any] = {
        # Bounded so that the offset, (page - 1) * limit, fits the stores' 64-bit integers.
        "page": (QueryInt, Field(1, ge=1, le=MAX_PAGE, description="Page number, from 1")),
        "limit": (QueryInt, Field(25, ge=1, le=MAX_LIMIT, description="Items per page (max 200)")),
        "sort": (
            str | None,
            Field(None, description=f"One of {', '.join(resource.sort)}; prefix - for descending"),
        ),
        "search": (
            str | None,
            Field(
                None,
                max_length=200,
                description=f"Text to find in {', '.join(resource.search) or 'nothing'}",
            ),
        ),
    }
    if resource.date_field:
        fields["from_"] = (
            Day | None,
            Field(
                None,
                alias="from",
                description=f"{resource.date_field} on or after",
            ),
        )
        fields["to"] = (
            Day | None,
            Field(
                None,
                description=f"{resource.date_field} on or before",
            ),
        )
    read_fields = resource.read.model_fields
    for name in resource.filters:
        annotation = read_fields[name].annotation if name in read_fields else str
        if get_origin(annotation) is Literal or annotation in (str, bool, int):
            fields[name] = (_optional(annotation), None)
        else:
            fields[name] = (
                _optional(next(a for a in get_args(annotation) if a is not type(None))),
                None,
            )
    return create_model(
        f"{resource.read.__name__.removesuffix('Out')}ListQuery",
        __config__=ConfigDict(extra="forbid", populate_by_name=True),
        **fields,
    )


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


def _list_query(resource: Resource, params: BaseModel) -> ListQuery:
    values = params.model_dump()
    return ListQuery(
        page=values.pop("page"),
        limit=values.pop("limit"),
        sort=values.pop("sort"),
        search=values.pop("search"),
        date_from=_iso(values.pop("from_", None)),
        date_to=_iso(values.pop("to", None)),
        filters=values,
    )


def crud_router(resource: Resource) -> APIRouter:
    router = APIRouter(
        prefix=f"{PREFIX}/{resource.name}",
        tags=[resource.tag],
        dependencies=module_gate(resource.module) if resource.module else [],
        route_class=LeanRoute,
    )
    Read, Create, Update = resource.read, resource.create, resource.update
    Params = list_query_model(resource)
    plural, label = resource.name.replace("-", " "), resource.label
    ops = resource.operations

    if "list" in ops:

        @router.get(
            "",
            summary=f"List {plural}",
            response_model=ListEnvelope[Read],
            responses=errors(400, 401, 403),
        )
        async def list_items(ctx: CompanyCtx, params: Annotated[Params, Query()]):  # type: ignore[valid-type]
            query = _list_query(resource, params)
            items, total = await resources.list_documents(ctx, resource, query)
            return ok(items, meta={"total": total, "page": query.page, "limit": query.limit})

    if "create" in ops:

        @router.post(
            "",
            status_code=201,
            summary=f"Create a {label}",
            response_model=Envelope[Read],
            responses=errors(400, 401, 403, 409),
        )
        async def create_item(ctx: CompanyCtx, body: Annotated[Create, Body()]):  # type: ignore[valid-type]
            data = body.model_dump(mode="json", exclude_none=True)
            return ok(await resources.create_document(ctx, resource, data), status=201)

    if "get" in ops:

        @router.get(
            "/{id}",
            summary=f"Get a {label}",
            response_model=Envelope[Read],
            responses=errors(400, 401, 403, 404),
        )
        async def get_item(ctx: CompanyCtx, id: str):
            return ok(await resources.get_document(ctx, resource, id))

    if "update" in ops:

        @router.put(
            "/{id}",
            summary=f"Update a {label}",
            response_model=Envelope[Read],
            responses=errors(400, 401, 403, 404, 409),
        )
        async def update_item(ctx: CompanyCtx, id: str, body: Annotated[Update, Body()]):  # type: ignore[valid-type]
            resources.check_id(resource, id)
            changes = body.model_dump(mode="json", exclude_unset=True)
            if not changes:
                raise Invalid(f"send at least one field of the {label} to change")
            return ok(await resources.update_document(ctx, resource, id, changes))

    if "delete" in ops:

        @router.delete(
            "/{id}",
            summary=f"Delete a {label}",
            response_model=Envelope[Deleted],
            responses=errors(400, 401, 403, 404, 409),
        )
        async def delete_item(ctx: CompanyCtx, id: str):
            return ok(await resources.delete_document(ctx, resource, id))

    return router
