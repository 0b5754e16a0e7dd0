"""What every declared resource does: list, create, get, update, delete, act.

Always with `company_id` (and a sub-resource's parent) inside the store query; the role of
the caller checked here and nowhere else; answers built from the declared Out fields only
(an allow-list: nothing internal reaches a client). Nothing here names an area.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from domain.compliance.audit import record_write
from domain.context import Ctx
from domain.errors import Conflict, Forbidden, Invalid, not_found
from domain.resources.declaration import ROLE_RANK, Action, Doc, Report, Resource, Role
from domain.resources.registry import reactions_to
from memory.ids import is_object_id, new_id, utcnow
from memory.store import DuplicateKeyError


@dataclass(frozen=True)
class ListQuery:
    page: int = 1
    limit: int = 25
    sort: str | None = None
    search: str | None = None
    date_from: str | None = None
    date_to: str | None = None
    filters: dict[str, Any] = field(default_factory=dict)


def authorize(ctx: Ctx, role: Role) -> None:
    """The one place a role is checked."""
    if ROLE_RANK.get(ctx.role, -1) < ROLE_RANK[role]:
        raise Forbidden(
            f"this needs the {role} role or above; you are {ctx.role} in this company",
            code="role_forbidden",
        )


def pick(keys: tuple[str, ...], data: Doc) -> Doc:
    return {k: data[k] for k in keys if k in data}


def present(resource: Resource, doc: Doc) -> Doc:
    """The public shape: `id` for `_id`, then only the fields Out declares."""
    out = {"id": doc["_id"], **doc}
    if resource.present:
        out = resource.present(out)
    return pick(resource.schema.out_keys, out)


async def view_many(ctx: Ctx, resource: Resource, docs: list[Doc]) -> list[Doc]:
    if resource.enrich:
        docs = await resource.enrich(ctx, docs)
    return [present(resource, d) for d in docs]


async def view(ctx: Ctx, resource: Resource, doc: Doc) -> Doc:
    return (await view_many(ctx, resource, [doc]))[0]


def check_id(resource: Resource, id: str, label: str | None = None) -> None:
    if not is_object_id(id):
        raise Invalid(
            f"{id!r} is not a valid {label or resource.label} id: expected 24 hexadecimal "
            "characters",
            code="invalid_id",
        )


def scope(ctx: Ctx, resource: Resource, parent_id: str | None, **filter: Any) -> Doc:
    if resource.parent is not None:
        filter[resource.parent.field] = parent_id
    return ctx.scope(**filter)


async def check_parent(ctx: Ctx, resource: Resource, parent_id: str | None) -> Doc | None:
    """A sub-resource's parent, in the caller's company, or 404."""
    if resource.parent is None:
        return None
    parent = resource.parent.resource
    assert parent_id is not None
    check_id(parent, parent_id)
    found = await ctx.store.find_one(parent.collection, scope(ctx, parent, None, _id=parent_id))
    if found is None:
        raise not_found(parent.label, parent_id)
    return found


def _sort(resource: Resource, sort: str | None) -> list[tuple[str, int]]:
    key = sort or resource.default_sort
    path = key.removeprefix("-")
    if path not in resource.sort:
        allowed = ", ".join(resource.sort)
        raise Invalid(
            f"cannot sort by {path!r}; sortable fields: {allowed} (prefix - for descending)"
        )
    return [(path, -1 if key.startswith("-") else 1)]


def list_filter(
    ctx: Ctx, resource: Resource, query: ListQuery, parent_id: str | None = None
) -> dict[str, Any]:
    conditions: list[dict[str, Any]] = [scope(ctx, resource, parent_id)]
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
    if query.search and not resource.search:
        raise Invalid(f"{resource.name} cannot be searched; filter it instead")
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


async def list_documents(
    ctx: Ctx, resource: Resource, query: ListQuery, parent_id: str | None = None
) -> tuple[list[Doc], int]:
    authorize(ctx, resource.role_for("list"))
    await check_parent(ctx, resource, parent_id)
    filter = list_filter(ctx, resource, query, parent_id)
    sort = _sort(resource, query.sort)
    skip = (query.page - 1) * query.limit
    docs = await ctx.store.find(
        resource.collection, filter, sort=sort, skip=skip, limit=query.limit
    )
    total = await ctx.store.count(resource.collection, filter)
    return await view_many(ctx, resource, docs), total


async def fetch(ctx: Ctx, resource: Resource, id: str, parent_id: str | None = None) -> Doc:
    check_id(resource, id)
    doc = await ctx.store.find_one(resource.collection, scope(ctx, resource, parent_id, _id=id))
    if doc is None:
        if resource.parent is not None:
            await check_parent(ctx, resource, parent_id)
        raise not_found(resource.label, id)
    return doc


async def get_document(ctx: Ctx, resource: Resource, id: str, parent_id: str | None = None) -> Doc:
    authorize(ctx, resource.role_for("get"))
    return await view(ctx, resource, await fetch(ctx, resource, id, parent_id))


async def create_document(
    ctx: Ctx, resource: Resource, data: Doc, parent_id: str | None = None
) -> Doc:
    authorize(ctx, resource.role_for("create"))
    return await view(ctx, resource, await insert(ctx, resource, data, parent_id))


async def insert(ctx: Ctx, resource: Resource, data: Doc, parent_id: str | None = None) -> Doc:
    """Create without presenting: for rules that create an object of another resource."""
    hooks = resource.hooks
    # One transaction even with no hook: the write and its audit event commit together.
    async with ctx.store.transaction():
        if resource.parent is not None:
            await check_parent(ctx, resource, parent_id)
            data = {**data, resource.parent.field: parent_id}
        _check_initial(resource, data)
        fields = await hooks.before_create(ctx, data)
        if hooks.insert is not None:
            doc = await _guarded(resource, hooks.insert(ctx, fields))
        else:
            doc = _stamped(ctx, fields)
            await _guarded(resource, ctx.store.insert_one(resource.collection, doc))
        await hooks.after_create(ctx, doc)
        await record_write(ctx, resource.name, "create", doc["_id"])
    return doc


def _check_initial(resource: Resource, data: Doc) -> None:
    lifecycle = resource.lifecycle
    if lifecycle is None:
        return
    initial = lifecycle.initial or lifecycle.states[:1]
    state = data.setdefault(lifecycle.status_field, initial[0])
    if state not in initial:
        name = lifecycle.status_field
        raise Invalid(
            f"{name}: a {resource.label} is created {' or '.join(initial)}; "
            "then it moves through its actions",
            details=[{"field": name, "message": f"one of {', '.join(initial)}"}],
        )


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


async def update_document(
    ctx: Ctx, resource: Resource, id: str, changes: Doc, parent_id: str | None = None
) -> Doc:
    authorize(ctx, resource.role_for("update"))
    async with ctx.store.transaction():
        existing = await fetch(ctx, resource, id, parent_id)
        changes = await _without_echoes(ctx, resource, existing, changes)
        lifecycle = resource.lifecycle
        target = changes.pop(lifecycle.status_field, None) if lifecycle else None
        if not changes and target is None:
            raise Invalid(f"send at least one field of the {resource.label} to change")
        doc = existing
        if changes:
            _check_editable(resource, existing, changes)
            doc = await _write_changes(ctx, resource, existing, changes)
        if lifecycle and target is not None and target != existing[lifecycle.status_field]:
            doc = await transition(ctx, resource, doc, target)
        await record_write(ctx, resource.name, "update", existing["_id"])
    return await view(ctx, resource, doc)


async def _without_echoes(ctx: Ctx, resource: Resource, existing: Doc, changes: Doc) -> Doc:
    """PUT takes what GET gave: server-owned and immutable fields pass when unchanged."""
    echoed = [k for k in changes if k in resource.schema.echoed]
    if not echoed:
        return changes
    current = await view(ctx, resource, existing)
    for name in echoed:
        value = changes[name]
        if name == resource.version_field and current.get(name) != value:
            raise Conflict(
                f"the {resource.label} is at {name} {current.get(name)}, not {value}: "
                "read it again and apply your change to what is there now",
                code="version_conflict",
                details=[{name: current.get(name), "sent": value}],
            )
        if value is not None and current.get(name) != value:
            what = "set by the server" if name not in resource.schema.immutable else "fixed"
            raise Invalid(
                f"{name} is {what} and cannot be changed (send it unchanged or leave it out)",
                code="read_only_field",
                details=[{"field": name, "message": "read-only"}],
            )
    return {k: v for k, v in changes.items() if k not in echoed}


def _check_editable(resource: Resource, existing: Doc, changes: Doc) -> None:
    lifecycle = resource.lifecycle
    if lifecycle is None:
        return
    state = existing[lifecycle.status_field]
    for name in changes:
        if name in lifecycle.free:
            continue
        states = resource.schema.editable_in.get(name, lifecycle.editable_in)
        if states is not None and state not in states:
            raise Conflict(
                f"{name} cannot change while the {resource.label} is {state} "
                f"(it can in: {', '.join(states)})",
                code=lifecycle.locked_code,
                details=[{"field": name, "state": state, "editable_in": list(states)}],
            )


async def _write_changes(ctx: Ctx, resource: Resource, existing: Doc, changes: Doc) -> Doc:
    changes = await resource.hooks.before_update(ctx, existing, changes)
    update: dict[str, Any] = {"$set": {**changes, "updated_at": utcnow()}}
    unset = [k for k, v in changes.items() if v is None]
    if unset:
        update["$set"] = {k: v for k, v in update["$set"].items() if v is not None}
        update["$unset"] = dict.fromkeys(unset, "")
    doc = await _guarded(
        resource,
        ctx.store.update_one(resource.collection, ctx.scope(_id=existing["_id"]), update),
    )
    if doc is None:
        raise not_found(resource.label, existing["_id"])
    await resource.hooks.after_update(ctx, doc)
    return doc


def refused(resource: Resource, doc: Doc, what: str) -> Conflict:
    assert resource.lifecycle is not None
    state = doc[resource.lifecycle.status_field]
    allowed = resource.actions_from(state)
    return Conflict(
        f"{what}: not allowed while the {resource.label} is {state}; from {state} it can: "
        f"{', '.join(allowed) or 'nothing'}",
        code="invalid_transition",
        details=[{"state": state, "allowed_actions": allowed}],
    )


async def transition(ctx: Ctx, resource: Resource, doc: Doc, target: str) -> Doc:
    """Move `doc` to `target` through the action that leads there, with its hooks."""
    lifecycle = resource.lifecycle
    assert lifecycle is not None
    state = doc[lifecycle.status_field]
    leads = [
        a
        for a in resource.actions
        if a.to == target and (a.from_states is None or state in a.from_states)
    ]
    if not leads:
        raise refused(resource, doc, f"{lifecycle.status_field} {target}")
    authorize(ctx, leads[0].role)
    return await _enter(ctx, resource, doc, target)


async def _enter(ctx: Ctx, resource: Resource, doc: Doc, target: str) -> Doc:
    lifecycle = resource.lifecycle
    assert lifecycle is not None
    state = doc[lifecycle.status_field]
    if exit_hook := lifecycle.on_exit.get(state):
        await exit_hook(ctx, doc, target)
    moved = await ctx.store.update_one(
        resource.collection,
        ctx.scope(_id=doc["_id"]),
        {"$set": {lifecycle.status_field: target, "updated_at": utcnow()}},
    )
    assert moved is not None
    if enter_hook := lifecycle.on_enter.get(target):
        await enter_hook(ctx, moved, state)
        moved = await ctx.store.find_one(resource.collection, ctx.scope(_id=doc["_id"])) or moved
    for reaction in reactions_to(resource.name, target):
        await reaction.run(ctx, moved, state)
    return moved


async def act(
    ctx: Ctx,
    resource: Resource,
    action: Action,
    id: str | None,
    body: BaseModel | None,
    parent_id: str | None = None,
) -> Any:
    """Run an action: in one transaction, on this company's object, from an allowed state."""
    authorize(ctx, action.role)
    async with ctx.store.transaction():
        if action.collection:
            await check_parent(ctx, resource, parent_id)
            assert action.run is not None
            result = await action.run(ctx, body)
        else:
            assert id is not None
            doc = await fetch(ctx, resource, id, parent_id)
            lifecycle = resource.lifecycle
            if (
                lifecycle is not None
                and action.from_states is not None
                and doc[lifecycle.status_field] not in action.from_states
            ):
                raise refused(resource, doc, action.verb)
            if action.to is not None:
                doc = await _enter(ctx, resource, doc, action.to)
            result = await action.run(ctx, doc, body) if action.run else doc
        await record_write(ctx, resource.name, "act", id, action.verb)
    output = action.output or resource
    if isinstance(output, Resource):
        return await view(ctx, output, result)
    return result


async def delete_document(
    ctx: Ctx, resource: Resource, id: str, parent_id: str | None = None
) -> Doc:
    authorize(ctx, resource.role_for("delete"))
    async with ctx.store.transaction():
        existing = await fetch(ctx, resource, id, parent_id)
        for kept in resource.kept_while:
            if await ctx.store.count(kept.collection, ctx.scope(**{kept.field: existing["_id"]})):
                raise Conflict(kept.message, code=kept.code)
        await resource.hooks.before_delete(ctx, existing)
        await ctx.store.delete_many(resource.collection, ctx.scope(_id=id))
        for reaction in reactions_to(resource.name, "deleted"):
            await reaction.run(ctx, existing, "deleted")
        await record_write(ctx, resource.name, "delete", id)
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


async def run_report(ctx: Ctx, report: Report, query: BaseModel) -> Any:
    authorize(ctx, report.role)
    return await report.run(ctx, query)
