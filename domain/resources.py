"""One declarative machinery for company-scoped resources.

A resource is declared once (`Resource`): its collection, module, models, what may be
searched, filtered and sorted, and the domain hooks where its rules live. These functions
give it list, create, get, update and delete, always with `company_id` inside the store
query; `api/crud.py` turns the same declaration into routes. Nothing here names an area.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel

from domain.context import Ctx
from domain.errors import Conflict, Invalid, not_found
from memory.ids import is_object_id, new_id, utcnow
from memory.store import DuplicateKeyError

Doc = dict[str, Any]
Operation = Literal["list", "create", "get", "update", "delete"]
FilterKind = Literal["eq", "range"]

BeforeCreate = Callable[[Ctx, Doc], Awaitable[Doc]]
BeforeUpdate = Callable[[Ctx, Doc, Doc], Awaitable[Doc]]
AfterWrite = Callable[[Ctx, Doc], Awaitable[None]]
BeforeDelete = Callable[[Ctx, Doc], Awaitable[None]]
Present = Callable[[Doc], Doc]
Enrich = Callable[[Ctx, list[Doc]], Awaitable[list[Doc]]]
RewriteFilters = Callable[[dict[str, Any]], dict[str, Any]]


async def _same(ctx: Ctx, data: Doc, *rest: Any) -> Doc:
    return data if not rest else rest[0]


async def _nothing(ctx: Ctx, doc: Doc) -> None:
    return None


@dataclass(frozen=True)
class Hooks:
    """Where an area's rules plug in. Every hook runs inside the write's transaction."""

    before_create: BeforeCreate = _same
    before_update: BeforeUpdate = _same
    after_create: AfterWrite = _nothing
    after_update: AfterWrite = _nothing
    before_delete: BeforeDelete = _nothing


@dataclass(frozen=True)
class Resource:
    name: str
    label: str
    collection: str
    module: str | None
    tag: str
    create: type[BaseModel]
    update: type[BaseModel]
    read: type[BaseModel]
    search: tuple[str, ...] = ()
    filters: dict[str, FilterKind] = field(default_factory=dict)
    sort: tuple[str, ...] = ("created_at", "updated_at")
    default_sort: str = "-created_at"
    date_field: str | None = None
    operations: tuple[Operation, ...] = ("list", "create", "get", "update", "delete")
    hooks: Hooks = Hooks()
    conflict: str | None = None
    present: Present | None = None
    enrich: Enrich | None = None
    rewrite_filters: RewriteFilters | None = None


@dataclass(frozen=True)
class ListQuery:
    page: int = 1
    limit: int = 25
    sort: str | None = None
    search: str | None = None
    date_from: str | None = None
    date_to: str | None = None
    filters: dict[str, Any] = field(default_factory=dict)


def present(resource: Resource, doc: Doc) -> Doc:
    """The public shape: `id` for `_id`, nothing internal (keys starting with `_`)."""
    out = {"id": doc["_id"], **{k: v for k, v in doc.items() if not k.startswith("_")}}
    return resource.present(out) if resource.present else out


async def view_many(ctx: Ctx, resource: Resource, docs: list[Doc]) -> list[Doc]:
    if resource.enrich:
        docs = await resource.enrich(ctx, docs)
    return [present(resource, d) for d in docs]


async def view(ctx: Ctx, resource: Resource, doc: Doc) -> Doc:
    return (await view_many(ctx, resource, [doc]))[0]


def check_id(resource: Resource, id: str) -> None:
    if not is_object_id(id):
        raise Invalid(
            f"{id!r} is not a valid {resource.label} id: expected 24 hexadecimal characters",
            code="invalid_id",
        )


def _sort(resource: Resource, sort: str | None) -> list[tuple[str, int]]:
    key = sort or resource.default_sort
    path = key.removeprefix("-")
    if path not in resource.sort:
        allowed = ", ".join(resource.sort)
        raise Invalid(
            f"cannot sort by {path!r}; sortable fields: {allowed} (prefix - for descending)"
        )
    return [(path, -1 if key.startswith("-") else 1)]


def list_filter(ctx: Ctx, resource: Resource, query: ListQuery) -> dict[str, Any]:
    conditions: list[dict[str, Any]] = [ctx.scope()]
    equal = {name: value for name, value in query.filters.items() if value is not None}
    for name, value in equal.items():
        if resource.filters.get(name) is None:
            raise Invalid(f"cannot filter {resource.name} by {name!r}")
        if name.endswith("_id") and not (isinstance(value, str) and is_object_id(value)):
            raise Invalid(
                f"{name}: {value!r} is not a valid id (24 hexadecimal characters)",
                code="invalid_id",
                details=[{"field": name, "message": "not an id"}],
            )
    if equal and resource.rewrite_filters:
        equal = resource.rewrite_filters(equal)
    if equal:
        conditions.append(equal)
    if query.search:
        pattern = re.escape(query.search.strip())
        conditions.append(
            {"$or": [{f: {"$regex": pattern, "$options": "i"}} for f in resource.search]}
        )
    if resource.date_field and (query.date_from or query.date_to):
        bounds: dict[str, str] = {}
        if query.date_from:
            bounds["$gte"] = query.date_from
        if query.date_to:
            bounds["$lte"] = query.date_to + ("" if "T" in query.date_to else "T23:59:59.999Z")
        conditions.append({resource.date_field: bounds})
    return {"$and": conditions}


async def list_documents(ctx: Ctx, resource: Resource, query: ListQuery) -> tuple[list[Doc], int]:
    filter = list_filter(ctx, resource, query)
    sort = _sort(resource, query.sort)
    skip = (query.page - 1) * query.limit
    docs = await ctx.store.find(
        resource.collection, filter, sort=sort, skip=skip, limit=query.limit
    )
    total = await ctx.store.count(resource.collection, filter)
    return await view_many(ctx, resource, docs), total


async def fetch(ctx: Ctx, resource: Resource, id: str) -> Doc:
    check_id(resource, id)
    doc = await ctx.store.find_one(resource.collection, ctx.scope(_id=id))
    if doc is None:
        raise not_found(resource.label, id)
    return doc


async def get_document(ctx: Ctx, resource: Resource, id: str) -> Doc:
    return await view(ctx, resource, await fetch(ctx, resource, id))


async def create_document(ctx: Ctx, resource: Resource, data: Doc) -> Doc:
    hooks = resource.hooks
    plain = hooks.before_create is _same and hooks.after_create is _nothing
    # With no hook, the insert is the whole write and atomic on its own: no transaction.
    async with contextlib.nullcontext() if plain else ctx.store.transaction():
        doc = _stamped(ctx, await hooks.before_create(ctx, data))
        await _guarded(resource, ctx.store.insert_one(resource.collection, doc))
        await hooks.after_create(ctx, doc)
    return await view(ctx, resource, doc)


def _stamped(ctx: Ctx, fields: Doc) -> Doc:
    now = utcnow()
    return {
        "_id": new_id(),
        **fields,
        "company_id": ctx.company_id,
        "created_by": ctx.user_id,
        "created_at": now,
        "updated_at": now,
    }


async def update_document(ctx: Ctx, resource: Resource, id: str, changes: Doc) -> Doc:
    async with ctx.store.transaction():
        existing = await fetch(ctx, resource, id)
        changes = await resource.hooks.before_update(ctx, existing, changes)
        update: dict[str, Any] = {"$set": {**changes, "updated_at": utcnow()}}
        unset = [k for k, v in changes.items() if v is None]
        if unset:
            update["$set"] = {k: v for k, v in update["$set"].items() if v is not None}
            update["$unset"] = dict.fromkeys(unset, "")
        doc = await _guarded(
            resource, ctx.store.update_one(resource.collection, ctx.scope(_id=id), update)
        )
        if doc is None:
            raise not_found(resource.label, id)
        await resource.hooks.after_update(ctx, doc)
    return await view(ctx, resource, doc)


async def delete_document(ctx: Ctx, resource: Resource, id: str) -> Doc:
    async with ctx.store.transaction():
        existing = await fetch(ctx, resource, id)
        await resource.hooks.before_delete(ctx, existing)
        await ctx.store.delete_many(resource.collection, ctx.scope(_id=id))
    return {"id": id, "deleted": True}


async def _guarded(resource: Resource, write: Awaitable[Any]) -> Any:
    try:
        return await write
    except DuplicateKeyError as error:
        fields = " and ".join(k for k in error.keys if k != "company_id") or "key"
        raise Conflict(
            resource.conflict or f"a {resource.label} with this {fields} already exists",
            code="duplicate",
            details=[{"field": k} for k in error.keys if k != "company_id"],
        ) from error
