"""The resource conformance suite: one set of tests parametrised over the registry of
declarations (as LangGraph's checkpoint conformance suite runs over every saver).

Every declared resource, action, sub-resource and report gets, by being declared, the
platform's generic behaviour checked over HTTP: create from its example and read it back,
every answer valid against its OpenAPI schema with no undeclared key, malformed id 400,
unknown id 404, another company's object 404, no token 401, module disabled 403, a
viewer's writes 403, paging and `meta`, sort, filter and search, update (empty, PUT of what
GET gave, read-only and unknown fields), delete, allowed and refused transitions, and the
parent checks of sub-resources. Only the operations a declaration declares are exercised.

An area's own tests keep only its own rules. A declaration without an example fails here:
the suite makes every object from it.
"""

from __future__ import annotations

from typing import Any

import pytest

from domain.modules.catalogue import CORE
from domain.resources.declaration import Action, JobOperation, Report, Resource
from tests.conformance.support import (
    MALFORMED_ID,
    UNKNOWN_FIELD,
    UNKNOWN_ID,
    Failures,
    Made,
    World,
    changed,
    edit,
    is_date,
    item_routes,
    job_body,
    job_url,
    report_template,
    requires_input,
    role_allows,
    route,
    routes,
)
from tests.helpers import detail_fields
from tests.synthetic import REGISTRY as DECLARED

REGISTRY = DECLARED
RESOURCES = REGISTRY.resources


def each(resources: Any) -> list[Any]:
    return [pytest.param(r, id=r.path) for r in resources]


def having(*operations: str) -> list[Any]:
    return each(r for r in RESOURCES if all(op in r.operations for op in operations))


def gated(module: str | None) -> bool:
    return module is not None and module not in CORE


ALL = each(RESOURCES)
ITEMS = each(r for r in RESOURCES if item_routes(r))
GATED = each(r for r in RESOURCES if gated(r.module))
CHILDREN = each(r for r in RESOURCES if r.parent is not None)
CHILDREN_MADE = each(
    r for r in RESOURCES if r.parent is not None and {"create", "list"} <= set(r.operations)
)
ITEM_ACTIONS = [
    pytest.param(r, a, id=f"{r.path}/{{id}}/{a.verb}")
    for r in RESOURCES
    for a in r.actions
    if not a.collection
]
COLLECTION_ACTIONS = [
    pytest.param(r, a, id=f"{r.path}/{a.verb}")
    for r in RESOURCES
    for a in r.actions
    if a.collection
]
REPORTS = [pytest.param(r, id=r.path) for r in REGISTRY.reports]
JOBS = [pytest.param(j, id=j.path) for j in REGISTRY.jobs]
GUARDED_JOBS = [
    pytest.param(j, id=j.path)
    for j in REGISTRY.jobs
    if gated(j.module) or not role_allows("viewer", j.role)
]
GATED_REPORTS = [pytest.param(r, id=r.path) for r in REGISTRY.reports if gated(r.module)]


def sent(body: Any) -> dict[str, Any]:
    return {} if body is None else {"json": body}


async def own_parent(world: World, resource: Resource) -> str | None:
    """A parent in the resource's company (the subject's, when the resource is created)."""
    if resource.parent is None:
        return None
    if "create" in resource.operations:
        return (await world.subject(resource)).parent
    return await world.parent_for(resource, await world.company(resource.path))


async def read(made: Made) -> dict[str, Any]:
    """The object as GET answers it now."""
    assert made.account is not None
    get = route(made.resource, "get")
    response = await made.account.get(get.url(made.id, made.parent))
    assert response.status_code == 200, response.text
    return response.json()["data"]


async def listed(world: World, resource: Resource, account: Any, parent: str | None, **query: Any):
    """The ids of the first 200 listed objects, and the answer's meta."""
    list_route = route(resource, "list")
    response = await account.get(list_route.url(parent=parent), params={"limit": 200, **query})
    body = world.conforms(response, "GET", list_route.template, 200)
    return [item["id"] for item in body["data"]], body["meta"]


# Create and get ----------------------------------------------------------------------


@pytest.mark.parametrize("resource", having("create"))
async def test_create_from_the_example_and_get_it_back(world: World, resource: Resource) -> None:
    made = await world.subject(resource)
    assert made.response is not None
    created = world.answers(made.response, route(resource, "create"))
    assert created["company_id"] == made.account.company_id  # type: ignore[union-attr]
    if "get" in resource.operations:
        get = route(resource, "get")
        got = world.answers(await made.account.get(get.url(made.id, made.parent)), get)  # type: ignore[union-attr]
        assert got == created


@pytest.mark.parametrize(
    "resource", each(r for r in RESOURCES if {"get", "list"} <= set(r.operations))
)
async def test_get_answers_what_the_list_shows(world: World, resource: Resource) -> None:
    account = await world.company(resource.path)
    if "create" in resource.operations:
        await world.subject(resource)
    parent = await own_parent(world, resource)
    list_route, get = route(resource, "list"), route(resource, "get")
    response = await account.get(list_route.url(parent=parent), params={"limit": 5})
    failures = Failures()
    for item in world.conforms(response, "GET", list_route.template, 200)["data"]:
        with failures.check(f"{get.label} of listed {item['id']}"):
            got = world.answers(await account.get(get.url(item["id"], parent)), get)
            assert got == item
    failures.report()


# Ids -----------------------------------------------------------------------------------


@pytest.mark.parametrize("resource", ITEMS)
async def test_a_malformed_id_is_400(world: World, resource: Resource) -> None:
    account = await world.company(resource.path)
    parent = await own_parent(world, resource)
    failures = Failures()
    for r in item_routes(resource):
        with failures.check(r.label):
            body = await world.body(r, account, strict=False)
            response = await account.request(r.method, r.url(MALFORMED_ID, parent), **sent(body))
            world.refuses(response, r, 400, "invalid_id")
    failures.report()


@pytest.mark.parametrize("resource", ITEMS)
async def test_an_unknown_id_is_404(world: World, resource: Resource) -> None:
    account = await world.company(resource.path)
    parent = await own_parent(world, resource)
    failures = Failures()
    for r in item_routes(resource):
        with failures.check(r.label):
            body = await world.body(r, account, strict=False)
            response = await account.request(r.method, r.url(UNKNOWN_ID, parent), **sent(body))
            world.refuses(response, r, 404, "not_found")
    failures.report()


@pytest.mark.parametrize("resource", ITEMS)
async def test_another_companys_object_is_404(world: World, resource: Resource) -> None:
    account = await world.company(resource.path)
    parent = await own_parent(world, resource)
    theirs = await world.theirs(resource)
    failures = Failures()
    for r in item_routes(resource):
        body = await world.body(r, account, strict=False)
        with failures.check(r.label):
            response = await account.request(r.method, r.url(theirs.id, parent), **sent(body))
            world.refuses(response, r, 404, "not_found")
        if resource.parent is not None:
            with failures.check(f"{r.label} under their parent"):
                url = r.url(theirs.id, theirs.parent)
                response = await account.request(r.method, url, **sent(body))
                world.refuses(response, r, 404, "not_found")
    if theirs.account is not None and "get" in resource.operations:
        with failures.check("their object afterwards"):
            assert await read(theirs) == theirs.data
    failures.report()


# Token, licence, role ------------------------------------------------------------------


@pytest.mark.parametrize("resource", ALL)
async def test_no_token_is_401(world: World, resource: Resource) -> None:
    failures = Failures()
    for r in routes(resource):
        with failures.check(r.label):
            url = r.url(UNKNOWN_ID, UNKNOWN_ID if resource.parent else None)
            response = await world.client.request(r.method, url, **sent(r.documented_body()))
            world.refuses(response, r, 401, "token_missing")
    failures.report()


@pytest.mark.parametrize("resource", GATED)
async def test_a_disabled_module_is_403(world: World, resource: Resource) -> None:
    assert resource.module is not None
    account = await world.disabled(resource.module)
    failures = Failures()
    for r in routes(resource):
        with failures.check(r.label):
            url = r.url(UNKNOWN_ID, UNKNOWN_ID if resource.parent else None)
            response = await account.request(r.method, url, **sent(r.documented_body()))
            world.refuses(response, r, 403, "module_disabled")
    failures.report()


@pytest.mark.parametrize("resource", ALL)
async def test_a_viewer_reads_and_cannot_write(world: World, resource: Resource) -> None:
    made: Made | None = None
    if "create" in resource.operations:
        made = await world.fresh(resource)
        account = made.account
        assert account is not None
        parent = made.parent
    else:
        account = await world.company(resource.path)
        parent = await own_parent(world, resource)
    viewer = world.as_viewer(account)
    before = (
        await listed(world, resource, account, parent) if "list" in resource.operations else None
    )
    failures = Failures()
    for r in routes(resource):
        allowed = role_allows("viewer", r.role)
        with failures.check(f"{r.label} as a viewer ({r.role} needed)"):
            body = await world.body(r, account, strict=False)
            id = made.id if made is not None else UNKNOWN_ID
            response = await viewer.request(r.method, r.url(id, parent), **sent(body))
            if not allowed:
                world.refuses(response, r, 403, "role_forbidden")
            elif r.item and made is None:
                world.refuses(response, r, 404, "not_found")
            else:
                world.answers(response, r)
    if made is not None and "get" in resource.operations:
        with failures.check("the object after the viewer's refused writes"):
            assert await read(made) == made.data
    if before is not None and not role_allows("viewer", resource.role_for("create")):
        with failures.check("the list after the viewer's refused create"):
            assert (await listed(world, resource, account, parent))[1]["total"] == before[1][
                "total"
            ]
    failures.report()


# Lists ---------------------------------------------------------------------------------


@pytest.mark.parametrize("resource", having("list"))
async def test_a_list_pages_and_carries_meta(world: World, resource: Resource) -> None:
    account = await world.company(resource.path)
    parent = await own_parent(world, resource)
    subject = None
    if "create" in resource.operations:
        subject = await world.subject(resource)
        await world.make(resource, account, parent=parent, must=False)  # a second one, if it can
    r = route(resource, "list")
    url = r.url(parent=parent)

    body = world.conforms(await account.get(url), r.method, r.template, 200)
    meta = body["meta"]
    assert set(meta) == {"total", "page", "limit"}, meta
    total = meta["total"]
    assert (meta["page"], meta["limit"]) == (1, 25), meta
    assert len(body["data"]) == min(total, 25), (len(body["data"]), meta)

    first = world.conforms(
        await account.get(url, params={"limit": 1, "page": 1}), r.method, r.template, 200
    )
    second = world.conforms(
        await account.get(url, params={"limit": 1, "page": 2}), r.method, r.template, 200
    )
    assert second["meta"] == {"total": total, "page": 2, "limit": 1}, second["meta"]
    assert len(second["data"]) == (1 if total >= 2 else 0), second
    if total >= 2:
        assert first["data"][0]["id"] != second["data"][0]["id"]

    ids, meta = await listed(world, resource, account, parent)
    assert meta == {"total": total, "page": 1, "limit": 200}, meta
    assert len(ids) == len(set(ids)) == min(total, 200)
    if subject is not None:
        assert subject.id in ids


@pytest.mark.parametrize("resource", having("list"))
async def test_a_list_sorts_by_every_declared_field(world: World, resource: Resource) -> None:
    account = await world.company(resource.path)
    parent = await own_parent(world, resource)
    r = route(resource, "list")
    failures = Failures()
    for key in resource.sort:
        for sort in (key, f"-{key}"):
            with failures.check(f"sort={sort}"):
                response = await account.get(r.url(parent=parent), params={"sort": sort})
                items = world.conforms(response, r.method, r.template, 200)["data"]
                values = [item.get(key) for item in items]
                texts = all(isinstance(v, str) for v in values)
                numbers = all(
                    isinstance(v, int | float) and not isinstance(v, bool) for v in values
                )
                if texts or numbers:
                    expected = sorted(values, reverse=sort.startswith("-"))
                    assert values == expected, f"not in {sort} order: {values}"
    failures.report()


@pytest.mark.parametrize("resource", having("list"))
async def test_a_list_refuses_bad_queries(world: World, resource: Resource) -> None:
    account = await world.company(resource.path)
    parent = await own_parent(world, resource)
    r = route(resource, "list")
    failures = Failures()
    bad = {
        "an undeclared sort": {"sort": UNKNOWN_FIELD},
        "an undeclared descending sort": {"sort": f"-{UNKNOWN_FIELD}"},
        "an unknown filter": {UNKNOWN_FIELD: "1"},
        "limit=0": {"limit": 0},
        "limit=201": {"limit": 201},
        "page=0": {"page": 0},
    }
    for label, params in bad.items():
        with failures.check(label):
            response = await account.get(r.url(parent=parent), params=params)
            world.refuses(response, r, 400)
    failures.report()


@pytest.mark.parametrize("resource", having("list"))
async def test_a_list_searches(world: World, resource: Resource) -> None:
    account = await world.company(resource.path)
    parent = await own_parent(world, resource)
    r = route(resource, "list")
    if not resource.search:  # nothing to search: the parameter is unknown, so a 400
        response = await account.get(r.url(parent=parent), params={"search": "x"})
        world.refuses(response, r, 400)
        return
    response = await account.get(r.url(parent=parent), params={"search": "zz no such text"})
    assert world.conforms(response, r.method, r.template, 200)["data"] == []
    if "create" not in resource.operations:
        return
    subject = await world.subject(resource)
    failures = Failures()
    for name in resource.search:
        value = subject.data.get(name)
        if isinstance(value, str) and value.strip():
            with failures.check(f"search={value!r} (its {name})"):
                ids, _ = await listed(world, resource, account, parent, search=value.strip())
                assert subject.id in ids
    failures.report()


def filter_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def sample(parameter: dict[str, Any] | None, name: str) -> str:
    """A value of a filter's documented type, for a filter the object does not show."""
    schema = (parameter or {}).get("schema", {})
    options = [o for o in schema.get("anyOf", [schema]) if o.get("type") != "null"]
    option = options[0] if options else {}
    if "enum" in option:
        return str(option["enum"][0])
    if option.get("examples"):
        return str(option["examples"][0])
    if option.get("type") == "boolean":
        return "true"
    if option.get("type") in ("integer", "number"):
        return "1"
    if option.get("format") == "email":
        return "nobody@example.com"
    if option.get("format") == "date":
        return "2026-01-31"
    if name.endswith("_id"):
        return UNKNOWN_ID
    if "currency" in name:
        return "USD"
    return "x" * max(1, option.get("minLength", 1))


@pytest.mark.parametrize("resource", having("list"))
async def test_a_list_filters_by_every_declared_filter(world: World, resource: Resource) -> None:
    account = await world.company(resource.path)
    parent = await own_parent(world, resource)
    subject = await world.subject(resource) if "create" in resource.operations else None
    r = route(resource, "list")
    documented = world.parameters(r.method, r.template)
    failures = Failures()
    for name in resource.filters:
        with failures.check(f"filter {name}"):
            assert name in documented, f"the filter {name} is not documented on {r.label}"
        value = subject.data.get(name) if subject is not None else None
        if isinstance(value, str | int | float | bool):
            with failures.check(f"{name}={filter_value(value)} (the object's)"):
                ids, _ = await listed(
                    world, resource, account, parent, **{name: filter_value(value)}
                )
                assert subject is not None and subject.id in ids
        else:
            with failures.check(f"{name}=<a {name}>"):
                response = await account.get(
                    r.url(parent=parent), params={name: sample(documented.get(name), name)}
                )
                world.conforms(response, r.method, r.template, 200)
    day = subject.data.get(resource.date_field) if subject and resource.date_field else None
    if isinstance(day, str):
        with failures.check(f"from={day[:10]}&to={day[:10]} (its {resource.date_field})"):
            ids, _ = await listed(
                world, resource, account, parent, **{"from": day[:10], "to": day[:10]}
            )
            assert subject is not None and subject.id in ids
        with failures.check("to=1999-12-31 (before it)"):
            ids, _ = await listed(world, resource, account, parent, **{"to": "1999-12-31"})
            assert subject is not None and subject.id not in ids
    failures.report()


# Update --------------------------------------------------------------------------------


@pytest.mark.parametrize("resource", having("create", "update"))
async def test_an_empty_update_is_400(world: World, resource: Resource) -> None:
    made = await world.scratch(resource)
    before = await read(made) if "get" in resource.operations else None
    r = route(resource, "update")
    response = await made.account.put(r.url(made.id, made.parent), json={})  # type: ignore[union-attr]
    world.refuses(response, r, 400)
    if before is not None:
        assert await read(made) == before


@pytest.mark.parametrize("resource", having("create", "update"))
async def test_an_unknown_field_is_400(world: World, resource: Resource) -> None:
    made = await world.scratch(resource)
    before = await read(made) if "get" in resource.operations else None
    r = route(resource, "update")
    url = r.url(made.id, made.parent)
    response = await made.account.put(url, json={UNKNOWN_FIELD: "x"})  # type: ignore[union-attr]
    error = world.refuses(response, r, 400)
    assert UNKNOWN_FIELD in str(error), error
    if before is not None:
        assert await read(made) == before


@pytest.mark.parametrize("resource", having("create", "get", "update"))
async def test_a_changed_read_only_field_is_400(world: World, resource: Resource) -> None:
    made = await world.scratch(resource)
    current = await read(made)
    r = route(resource, "update")
    url = r.url(made.id, made.parent)
    failures = Failures()
    for name in sorted(resource.schema.echoed & set(current) - {resource.version_field}):
        with failures.check(f"{name} changed"):
            body = {name: changed(current[name])}
            response = await made.account.put(url, json=body)  # type: ignore[union-attr]
            error = world.refuses(response, r, 400, "read_only_field")
            assert name in detail_fields(error), error
    if resource.version_field in current:
        with failures.check(f"a stale {resource.version_field}"):
            body = {resource.version_field: changed(current[resource.version_field])}
            response = await made.account.put(url, json=body)  # type: ignore[union-attr]
            world.refuses(response, r, 409, "version_conflict")
    with failures.check("the object afterwards"):
        assert await read(made) == current
    failures.report()


@pytest.mark.parametrize("resource", having("create", "get", "update"))
async def test_put_takes_what_get_gave(world: World, resource: Resource) -> None:
    made = await world.fresh(resource)
    current = await read(made)
    body = dict(current)
    change = edit(world, made, current)
    if change is not None:
        body[change[0]] = change[1]
    r = route(resource, "update")
    response = await made.account.put(r.url(made.id, made.parent), json=body)  # type: ignore[union-attr]
    updated = world.answers(response, r)
    ignore = {"updated_at"}
    assert {k: v for k, v in updated.items() if k not in ignore} == {
        k: v for k, v in body.items() if k not in ignore
    }, f"changed {change}"
    assert await read(made) == updated


# Delete --------------------------------------------------------------------------------


@pytest.mark.parametrize("resource", having("create", "delete"))
async def test_delete_then_get_is_404(world: World, resource: Resource) -> None:
    made = await world.fresh(resource)
    account = made.account
    assert account is not None
    r = route(resource, "delete")
    url = r.url(made.id, made.parent)
    assert world.answers(await account.delete(url), r) == {"id": made.id, "deleted": True}
    if "get" in resource.operations:
        get = route(resource, "get")
        world.refuses(await account.get(get.url(made.id, made.parent)), get, 404, "not_found")
    if "list" in resource.operations:
        ids, _ = await listed(world, resource, account, made.parent)
        assert made.id not in ids
    world.refuses(await account.delete(url), r, 404, "not_found")


# Actions -------------------------------------------------------------------------------


def action_route(resource: Resource, action: Action) -> Any:
    return next(r for r in routes(resource) if r.action is action)


async def check_refused_from(
    world: World, made: Made, state: str, failures: Failures, skip: Action | None = None
) -> None:
    """Every item action whose from_states exclude `state` answers 409 naming the state and
    the actions allowed from it, and changes nothing."""
    resource = made.resource
    assert made.account is not None
    for action in resource.actions:
        if action.collection or action is skip:
            continue
        if action.from_states is None or state in action.from_states:
            continue
        r = action_route(resource, action)
        with failures.check(f"{r.label} from {state}"):
            before = await read(made) if "get" in resource.operations else None
            body = await world.body(r, made.account)
            response = await made.account.post(r.url(made.id, made.parent), **sent(body))
            error = world.refuses(response, r, 409, "invalid_transition")
            assert error["details"] == [
                {"state": state, "allowed_actions": resource.actions_from(state)}
            ], error
            if before is not None:
                assert await read(made) == before


@pytest.mark.parametrize(("resource", "action"), ITEM_ACTIONS)
async def test_an_item_action_from_the_created_state(
    world: World, resource: Resource, action: Action
) -> None:
    made = await world.fresh(resource)
    assert made.account is not None
    r = action_route(resource, action)
    state = made.state
    failures = Failures()
    refused = (
        resource.lifecycle is not None
        and action.from_states is not None
        and state not in action.from_states
    )
    if refused:
        assert state is not None
        await check_refused_from(world, made, state, failures)
        failures.report()
        return
    if action.input is not None and action.example is None and requires_input(action.input):
        pytest.fail(
            f"{resource.path}: the action {action.verb} needs an example (Action.example): "
            "its input has required fields",
            pytrace=False,
        )
    body = await world.body(r, made.account)
    response = await made.account.post(r.url(made.id, made.parent), **sent(body))
    result = world.answers(response, r)
    lifecycle = resource.lifecycle
    if lifecycle is None:
        return
    if "get" in resource.operations:
        after = (await read(made)).get(lifecycle.status_field)
    elif (action.output or resource) is resource:
        after = result.get(lifecycle.status_field)
    else:
        return
    if action.to is not None:
        assert after == action.to, f"{action.verb} left the {resource.label} {after}"
    if after is not None and after != state:
        await check_refused_from(world, made, after, failures)
    failures.report()


@pytest.mark.parametrize(("resource", "action"), COLLECTION_ACTIONS)
async def test_a_collection_action(world: World, resource: Resource, action: Action) -> None:
    account = await world.company(resource.path)
    parent = await own_parent(world, resource)
    r = action_route(resource, action)
    if action.input is not None and action.example is None and requires_input(action.input):
        pytest.fail(
            f"{resource.path}: the action {action.verb} needs an example (Action.example): "
            "its input has required fields",
            pytrace=False,
        )
    body = await world.body(r, account)
    world.answers(await account.post(r.url(parent=parent), **sent(body)), r)


# Sub-resources -------------------------------------------------------------------------


@pytest.mark.parametrize("resource", CHILDREN)
async def test_a_child_checks_its_parent(world: World, resource: Resource) -> None:
    assert resource.parent is not None
    account = await world.company(resource.path)
    subject = await world.subject(resource) if "create" in resource.operations else None
    id = subject.id if subject is not None else UNKNOWN_ID
    theirs = await world.make(resource.parent.resource, world.foreign, fallback=True)
    assert theirs is not None
    parents = {
        "another company's parent": (theirs.id, 404, "not_found"),
        "an unknown parent": (UNKNOWN_ID, 404, "not_found"),
        "a malformed parent id": (MALFORMED_ID, 400, "invalid_id"),
    }
    failures = Failures()
    for r in routes(resource):
        body = await world.body(r, account, strict=False)
        for label, (parent, status, code) in parents.items():
            with failures.check(f"{r.label} under {label}"):
                response = await account.request(r.method, r.url(id, parent), **sent(body))
                world.refuses(response, r, status, code)
    if subject is not None and "get" in resource.operations:
        with failures.check("the object afterwards"):
            assert await read(subject) == subject.data
    failures.report()


@pytest.mark.parametrize("resource", CHILDREN_MADE)
async def test_children_are_listed_under_their_own_parent(world: World, resource: Resource) -> None:
    subject = await world.subject(resource)
    account = subject.account
    assert account is not None and subject.parent is not None
    other_parent = await world.parent_for(resource, account)
    other = await world.make(resource, account, parent=other_parent)
    assert other is not None
    under_a, _ = await listed(world, resource, account, subject.parent)
    under_b, _ = await listed(world, resource, account, other_parent)
    assert subject.id in under_a and other.id not in under_a
    assert other.id in under_b and subject.id not in under_b
    if "get" in resource.operations:
        get = route(resource, "get")
        response = await account.get(get.url(other.id, subject.parent))
        world.refuses(response, get, 404, "not_found")


# Reports -------------------------------------------------------------------------------


def report_query(report: Report) -> dict[str, str]:
    """A valid query: the model's defaults, and a date for every required date."""
    query: dict[str, str] = {}
    for name, info in report.query.model_fields.items():
        if not info.is_required():
            continue
        key = info.alias or name
        if not is_date(info.annotation):
            pytest.fail(
                f"{report.path}: the suite cannot build a query: {key} is required and not a "
                "date (give it a default)",
                pytrace=False,
            )
        starts = key.startswith(("from", "start", "since"))
        query[key] = "2026-01-01" if starts else "2026-06-30"
    return query


@pytest.mark.parametrize("report", REPORTS)
async def test_a_report_answers_a_valid_query(world: World, report: Report) -> None:
    account = await world.company(f"report:{report.path}")
    response = await account.get(report_template(report), params=report_query(report))
    world.conforms(response, "GET", report_template(report), 200)


@pytest.mark.parametrize("report", REPORTS)
async def test_a_report_without_token_is_401(world: World, report: Report) -> None:
    template = report_template(report)
    response = await world.client.get(template, params=report_query(report))
    world.fails(response, "GET", template, 401, "token_missing")


@pytest.mark.parametrize("report", REPORTS)
async def test_a_report_refuses_an_unknown_parameter(world: World, report: Report) -> None:
    account = await world.company(f"report:{report.path}")
    template = report_template(report)
    params = {**report_query(report), UNKNOWN_FIELD: "1"}
    world.fails(await account.get(template, params=params), "GET", template, 400)


@pytest.mark.parametrize("report", REPORTS)
async def test_a_report_for_a_viewer(world: World, report: Report) -> None:
    account = world.as_viewer(await world.company(f"report:{report.path}"))
    template = report_template(report)
    response = await account.get(template, params=report_query(report))
    if role_allows("viewer", report.role):
        world.conforms(response, "GET", template, 200)
    else:
        world.fails(response, "GET", template, 403, "role_forbidden")


@pytest.mark.parametrize("report", GATED_REPORTS)
async def test_a_report_of_a_disabled_module_is_403(world: World, report: Report) -> None:
    assert report.module is not None
    account = await world.disabled(report.module)
    template = report_template(report)
    response = await account.get(template, params=report_query(report))
    world.fails(response, "GET", template, 403, "module_disabled")


# Job operations ------------------------------------------------------------------------
# Only what is answered before a job is enqueued: a job submitted here would wait in the
# suite's queue for a worker of another test.


@pytest.mark.parametrize("operation", JOBS)
async def test_a_job_operation_without_token_is_401(world: World, operation: JobOperation) -> None:
    template, url = f"/api/{operation.path}", job_url(operation)
    response = await world.client.post(url, json=job_body(operation))
    world.fails(response, "POST", template, 401, "token_missing")


@pytest.mark.parametrize("operation", GUARDED_JOBS)
async def test_a_job_operation_checks_the_role_and_the_licence(
    world: World, operation: JobOperation
) -> None:
    template, url = f"/api/{operation.path}", job_url(operation)
    failures = Failures()
    if not role_allows("viewer", operation.role):
        with failures.check(f"as a viewer ({operation.role} needed)"):
            viewer = world.as_viewer(await world.company(f"job:{operation.path}"))
            response = await viewer.post(url, json=job_body(operation))
            world.fails(response, "POST", template, 403, "role_forbidden")
    if gated(operation.module):
        assert operation.module is not None
        with failures.check(f"with {operation.module} disabled"):
            account = await world.disabled(operation.module)
            response = await account.post(url, json=job_body(operation))
            world.fails(response, "POST", template, 403, "module_disabled")
    failures.report()
