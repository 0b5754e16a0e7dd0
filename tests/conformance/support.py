"""The conformance suite's world: a company per declaration, objects made from their
declared examples (every `Ref` resolved by making the referenced object in the same
company), the routes a declaration mounts, and every answer checked against the app's own
OpenAPI document.

Nothing here names an area: what the suite knows of a resource it reads from its
declaration (`domain/resources/declaration.py`) and from the OpenAPI document.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import datetime as dt
import types
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Annotated, Any, Union, get_args, get_origin

import httpx
import pytest
from fastapi import FastAPI
from jsonschema import Draft202012Validator
from pydantic import BaseModel

from domain.resources.declaration import ROLE_RANK, Action, JobOperation, Report, Resource
from domain.resources.examples import InDays, Ref, openapi_example
from memory.ids import is_object_id, new_id, utcnow
from tests.helpers import Account, expect_error
from tests.synthetic import REGISTRY as DECLARED

API = "/api"
UNKNOWN_ID = "0" * 24
MALFORMED_ID = "not-an-id"
UNKNOWN_FIELD = "zz_not_a_field"
LICENCE = "/api/modules/licenses"
# Fields a client edits freely, in the order the suite prefers one to change in a PUT.
EDITABLE = ("name", "description", "notes", "title", "memo", "reference", "subject", "label")
# Keys of a JSON schema whose value is a map of names to schemas.
SCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")
# Keys of a JSON schema whose value is data, not a schema.
DATA_KEYS = ("example", "examples", "default", "const", "enum")


def needs_example(resource: Resource, why: str = "") -> Any:
    pytest.fail(
        f"{resource.path}: the declaration needs an example (Resource.example, a working "
        f"create body, Ref(...) for the ids it refers to){why}; the conformance suite makes "
        "every object from it",
        pytrace=False,
    )


def role_allows(role: str, needed: str) -> bool:
    return ROLE_RANK[role] >= ROLE_RANK[needed]


def find_resource(path: str, wanted_by: str) -> Resource:
    for resource in DECLARED.resources:
        if path in (resource.path, resource.name):
            return resource
    pytest.fail(f"{wanted_by}: Ref({path!r}) names no declared resource", pytrace=False)


def requires_input(model: type[BaseModel] | None) -> bool:
    return model is not None and any(f.is_required() for f in model.model_fields.values())


def is_date(annotation: Any) -> bool:
    if annotation in (dt.date, dt.datetime):
        return True
    origin = get_origin(annotation)
    if origin is Annotated:
        return is_date(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        return any(is_date(a) for a in get_args(annotation) if a is not type(None))
    return False


def changed(value: Any) -> Any:
    """Another value of the same kind (for a PUT that changes a read-only field)."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int | float):
        return value + 1
    if isinstance(value, str):
        if is_object_id(value):
            return UNKNOWN_ID if value != UNKNOWN_ID else "1" * 24
        if len(value) >= 20 and value[4:5] == "-" and value.endswith("Z"):
            return "2001-02-03T04:05:06.789Z" if value != "2001-02-03T04:05:06.789Z" else utcnow()
        return f"{value}-changed"
    return "changed"


def _string_schema(schema: dict[str, Any]) -> dict[str, Any] | None:
    """The plain string branch of a property's schema (no enum, pattern or format)."""
    options = schema.get("anyOf", [schema])
    strings = [o for o in options if o.get("type") == "string"]
    if len(strings) != 1 or schema.get("readOnly"):
        return None
    string = strings[0]
    if any(k in string for k in ("enum", "pattern", "format", "const")):
        return None
    return string


def edit(world: World, made: Made, current: dict[str, Any]) -> tuple[str, str] | None:
    """An obvious editable field of the object (a name, notes...: one it shows with a value
    first, else one it leaves empty) and a new value for it, or None."""
    resource = made.resource
    properties = world.request_schema("PUT", route(resource, "update").template).get(
        "properties", {}
    )
    lifecycle = resource.lifecycle
    shown = set(current) | set(resource.schema.out_keys)
    candidates = sorted(
        (name for name in EDITABLE if name in properties and name in shown),
        key=lambda name: not isinstance(current.get(name), str),
    )
    for name in candidates:
        value = current.get(name)
        if value is not None and not (isinstance(value, str) and value):
            continue
        string = _string_schema(properties[name])
        if string is None:
            continue
        if lifecycle is not None:
            states = resource.schema.editable_in.get(name, lifecycle.editable_in)
            if name not in lifecycle.free and states is not None and made.state not in states:
                continue
        new = f"{value} (edited)" if value else "Edited by the conformance suite"
        limit = string.get("maxLength")
        if limit is not None and len(new) > limit:
            new = (value or "e" * limit)[: limit - 1] + (
                "x" if new[limit - 1 : limit] != "x" else "y"
            )
        return name, new
    return None


# Routes ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    """One route a declaration mounts, as the OpenAPI document names it."""

    resource: Resource
    method: str
    template: str
    operation: str
    role: str
    status: int
    action: Action | None = None
    id_name: str = "id"  # an alias's path may name the id otherwise (`{featureId}`)

    @property
    def item(self) -> bool:
        return f"{{{self.id_name}}}" in self.template

    @property
    def label(self) -> str:
        return f"{self.method} {self.template}"

    def url(self, id: str | None = None, parent: str | None = None) -> str:
        values: dict[str, str] = {}
        if self.item:
            assert id is not None, self.label
            values[self.id_name] = id
        if self.resource.parent is not None:
            assert parent is not None, self.label
            values[self.resource.parent.field] = parent
        return self.template.format(**values)

    def documented_body(self) -> Any:
        """A body that passes validation without a company: the OpenAPI example (sample
        ids), for checks answered before the body matters (token, licence)."""
        if self.operation in ("create", "update"):
            return openapi_example(self.resource.example) if self.resource.example else {}
        if self.action is not None and self.action.input is not None:
            return openapi_example(self.action.example) if self.action.example else {}
        return None


def base_template(resource: Resource) -> str:
    return f"{API}/{resource.path}"


def routes(resource: Resource) -> list[Route]:
    """Every route of the resource, reads first and delete last (a viewer's walk changes
    nothing, and when it may, the object is still there for the next route)."""
    base = base_template(resource)
    item = f"{base}/{{id}}"
    ops = resource.operations
    found: list[Route] = []
    plain = {
        "list": ("GET", base, 200),
        "get": ("GET", item, 200),
        "create": ("POST", base, 201),
        "update": ("PUT", item, 200),
    }
    for op, (method, template, status) in plain.items():
        if op in ops:
            found.append(Route(resource, method, template, op, resource.role_for(op), status))
    for action in resource.actions:
        template = f"{base}/{action.verb}" if action.collection else f"{item}/{action.verb}"
        found.append(
            Route(
                resource,
                "POST",
                template,
                action.verb,
                action.role,
                action.status_code,
                action,
            )
        )
    for alias in resource.aliases:  # the same endpoint at the spec's other path
        same = next(r for r in found if r.operation == alias.operation)
        found.append(
            dataclasses.replace(
                same,
                method=alias.method or same.method,
                template=f"{API}/{alias.path}",
                id_name=alias.id_name,
            )
        )
    if "delete" in ops:
        found.append(Route(resource, "DELETE", item, "delete", resource.role_for("delete"), 200))
    return found


def route(resource: Resource, operation: str) -> Route:
    return next(r for r in routes(resource) if r.operation == operation)


def item_routes(resource: Resource) -> list[Route]:
    return [r for r in routes(resource) if r.item]


def job_url(operation: JobOperation) -> str:
    """The operation's path with its parameters filled: a well-formed id (of no object) or
    the parameter's example word."""
    path = f"{API}/{operation.path}"
    for param in operation.params:
        value = "0" * 24 if param.resource is not None else param.example
        assert value is not None, f"{operation.path}: {param.name} declares no example"
        path = path.replace(f"{{{param.name}}}", value)
    return path


def job_body(operation: JobOperation) -> Any:
    return openapi_example(operation.example) if operation.example else {}


def report_template(report: Report) -> str:
    return f"{API}/{report.path}"


# Checks ------------------------------------------------------------------------------


class Failures:
    """Collects the failed checks of one test, so a test names every route that fails
    rather than only the first."""

    def __init__(self) -> None:
        self.items: list[str] = []

    @contextlib.contextmanager
    def check(self, label: str) -> Iterator[None]:
        try:
            yield
        except AssertionError as error:
            self.items.append(f"{label}: {str(error).strip()}")

    def report(self) -> None:
        if self.items:
            pytest.fail("\n".join(self.items), pytrace=False)


def _strict(schema: Any) -> None:
    """Make every object schema with declared properties refuse undeclared keys."""
    if isinstance(schema, list):
        for item in schema:
            _strict(item)
        return
    if not isinstance(schema, dict):
        return
    if (
        "properties" in schema
        and "additionalProperties" not in schema
        and "unevaluatedProperties" not in schema
    ):
        schema["additionalProperties"] = False
    for key, value in schema.items():
        if key in DATA_KEYS:
            continue
        if key in SCHEMA_MAPS and isinstance(value, dict):
            for sub in value.values():
                _strict(sub)
        else:
            _strict(value)


def _describe(error: Any) -> str:
    where = "/".join(str(p) for p in error.absolute_path) or "(body)"
    message = error.message if len(error.message) < 300 else error.message[:300] + "..."
    return f"{where}: {message}"


class Taken(Exception):
    """Creating from an example answered 409: a unique value of it is taken there."""


def _key(account: Account, resource: Resource, overrides: dict[str, Any]) -> tuple[str, str, str]:
    return (account.company_id, resource.path, repr(sorted(overrides.items())))


@dataclass
class Made:
    """An object made through the API, with the account (company) it lives in."""

    resource: Resource
    account: Account | None
    data: dict[str, Any]
    parent: str | None
    response: httpx.Response | None = None

    @property
    def id(self) -> str:
        return self.data["id"]

    @property
    def state(self) -> str | None:
        lifecycle = self.resource.lifecycle
        return None if lifecycle is None else self.data.get(lifecycle.status_field)


@dataclass
class World:
    """The suite's shared state: who acts, the companies, and the OpenAPI document."""

    app: FastAPI
    client: httpx.AsyncClient
    owner: Account
    foreign: Account
    viewer: Account
    spec: dict[str, Any] = field(init=False)
    _components: dict[str, Any] = field(init=False)
    _validators: dict[tuple[str, str, str], Draft202012Validator] = field(default_factory=dict)
    _companies: dict[str, Account] = field(default_factory=dict)
    _disabled: dict[str, Account] = field(default_factory=dict)
    _subjects: dict[str, Made] = field(default_factory=dict)
    _foreign: dict[str, Made] = field(default_factory=dict)
    _refs: dict[tuple[str, str, str], str] = field(default_factory=dict)
    _bodies: dict[tuple[str, str], Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.spec = self.app.openapi()
        self._components = copy.deepcopy(self.spec.get("components", {}))
        for schema in self._components.get("schemas", {}).values():
            _strict(schema)

    @property
    def store(self) -> Any:
        return self.app.state.store

    # Companies ---------------------------------------------------------------------

    async def new_company(self, creator: Account | None = None) -> Account:
        """A fresh company; the owner's have the suite's viewer as a `viewer` member."""
        creator = creator or self.owner
        body = {"name": f"Conformance {uuid.uuid4().hex[:10]}", "base_currency": "USD"}
        response = await creator.post("/api/companies", json=body)
        assert response.status_code == 201, response.text
        company_id = response.json()["data"]["id"]
        if creator is self.owner:
            await self.store.insert_one(
                "memberships",
                {
                    "company_id": company_id,
                    "user_id": self.viewer.user_id,
                    "role": "viewer",
                    "created_at": utcnow(),
                },
            )
        return creator.in_company(company_id)

    async def company(self, key: str) -> Account:
        """The company of one declaration's tests (made once, on first use)."""
        if key not in self._companies:
            self._companies[key] = await self.new_company()
        return self._companies[key]

    async def disabled(self, module: str) -> Account:
        """A throwaway company with `module` switched off in its licence."""
        if module not in self._disabled:
            account = await self.new_company()
            response = await account.patch(LICENCE, json={"disable": [module]})
            assert response.status_code == 200, response.text
            modules = {m["alias"]: m for m in response.json()["data"]["modules"]}
            assert modules[module]["enabled"] is False, modules[module]
            self._disabled[module] = account
        return self._disabled[module]

    def as_viewer(self, account: Account) -> Account:
        return self.viewer.in_company(account.company_id)

    # Objects -----------------------------------------------------------------------

    async def resolve(self, account: Account, value: Any, trail: tuple[str, ...]) -> Any:
        """The example with every Ref replaced by the id of an object made in the company."""
        if isinstance(value, Ref):
            return await self._ref(account, value, trail)
        if isinstance(value, InDays):
            return value.render()
        if isinstance(value, dict):
            return {k: await self.resolve(account, v, trail) for k, v in value.items()}
        if isinstance(value, list):
            return [await self.resolve(account, v, trail) for v in value]
        return value

    async def _ref(self, account: Account, ref: Ref, trail: tuple[str, ...]) -> str:
        target = find_resource(ref.path, trail[-1])
        if target.path in trail:
            pytest.fail(
                f"{' -> '.join((*trail, target.path))}: the examples refer to each other in a "
                "cycle, so none can be made first",
                pytrace=False,
            )
        key = _key(account, target, dict(ref.fields))
        try:
            made = await self._attempt(target, account, dict(ref.fields), None, trail)
        except Taken:  # a unique field of the example: the one made before serves
            if key in self._refs:
                return self._refs[key]
            raise
        return made.id

    async def parent_for(
        self, resource: Resource, account: Account, trail: tuple[str, ...] = ()
    ) -> str:
        assert resource.parent is not None
        try:
            return await self._parent(resource, account, trail)
        except Taken as taken:
            pytest.fail(str(taken), pytrace=False)

    async def _parent(self, resource: Resource, account: Account, trail: tuple[str, ...]) -> str:
        assert resource.parent is not None
        made = await self._attempt(resource.parent.resource, account, {}, None, trail)
        return made.id

    async def make(
        self,
        resource: Resource,
        account: Account,
        *,
        overrides: dict[str, Any] | None = None,
        parent: str | None = None,
        trail: tuple[str, ...] = (),
        must: bool = True,
        fallback: bool = False,
    ) -> Made | None:
        """Create an object of `resource` from its example, in the account's company.

        A 409 (a unique field of the example, or of an object it refers to, taken in that
        company) answers None when `must` is false, and with `fallback` makes the object in
        a fresh company instead."""
        overrides = overrides or {}
        try:
            return await self._attempt(resource, account, overrides, parent, trail)
        except Taken as taken:
            if not must:
                return None
            if not (fallback and parent is None):
                pytest.fail(str(taken), pytrace=False)
        creator = None if account.user_id == self.owner.user_id else account
        try:
            return await self._attempt(
                resource, await self.new_company(creator), overrides, parent, trail
            )
        except Taken as taken:
            pytest.fail(f"{taken} (in a fresh company)", pytrace=False)

    async def _attempt(
        self,
        resource: Resource,
        account: Account,
        overrides: dict[str, Any],
        parent: str | None,
        trail: tuple[str, ...],
    ) -> Made:
        if "create" not in resource.operations:
            pytest.fail(
                f"{' -> '.join((*trail, resource.path))}: refers to {resource.path}, which "
                "cannot be created",
                pytrace=False,
            )
        if not resource.example:
            needs_example(resource, f" (wanted by {' -> '.join(trail)})" if trail else "")
        trail = (*trail, resource.path)
        if resource.parent is not None and parent is None:
            parent = await self._parent(resource, account, trail[:-1])
        body = await self.resolve(account, {**resource.example, **overrides}, trail)
        response = await account.post(route(resource, "create").url(parent=parent), json=body)
        if response.status_code == 201:
            made = Made(resource, account, response.json()["data"], parent, response)
            self._refs.setdefault(_key(account, resource, overrides), made.id)
            return made
        message = (
            f"{' -> '.join(trail)}: creating a {resource.label} from its example answered "
            f"{response.status_code}: {response.text[:800]}\nbody: {body}"
        )
        if response.status_code == 409:
            raise Taken(message)
        pytest.fail(message, pytrace=False)

    async def subject(self, resource: Resource) -> Made:
        """The resource's object for tests that only read (made once)."""
        if resource.path not in self._subjects:
            made = await self.make(resource, await self.company(resource.path))
            assert made is not None
            self._subjects[resource.path] = made
        return self._subjects[resource.path]

    async def fresh(self, resource: Resource, account: Account | None = None) -> Made:
        """A new object, for a test that changes it (in a fresh company when a unique
        field of the example is taken in the resource's)."""
        account = account or await self.company(resource.path)
        made = await self.make(resource, account, fallback=True)
        assert made is not None
        return made

    async def scratch(self, resource: Resource) -> Made:
        """An object for tests of refused writes (made once; each such test reads it
        first and checks that it did not change)."""
        key = f"scratch:{resource.path}"
        if key not in self._subjects:
            self._subjects[key] = await self.fresh(resource)
        return self._subjects[key]

    async def theirs(self, resource: Resource) -> Made:
        """Another company's object: made by the foreign user through the API, or, for a
        resource a client cannot create, stored under another company's id."""
        if resource.path not in self._foreign:
            if "create" in resource.operations:
                made = await self.make(resource, self.foreign, fallback=True)
                assert made is not None
            else:
                stub: dict[str, Any] = {
                    "_id": new_id(),
                    "company_id": new_id(),
                    "created_at": utcnow(),
                }
                if resource.parent is not None:
                    stub[resource.parent.field] = new_id()
                await self.store.insert_one(resource.collection, stub)
                made = Made(
                    resource,
                    None,
                    {"id": stub["_id"]},
                    stub.get(resource.parent.field) if resource.parent else None,
                )
            self._foreign[resource.path] = made
        return self._foreign[resource.path]

    async def body(self, route: Route, account: Account, strict: bool = True) -> Any:
        """A valid body for the route in the account's company (Refs resolved), made once
        per company, for checks where the body must pass so another rule answers. Not
        `strict`, an update of a resource without an example sends `{}` (valid, and refused
        only after the id is found)."""
        if route.operation in ("create", "update"):
            example = route.resource.example
            if not example:
                if not strict and route.operation == "update":
                    return {}
                needs_example(route.resource)
        elif route.action is not None and route.action.input is not None:
            example = route.action.example
            if example is None:
                if requires_input(route.action.input):
                    needs_example(
                        route.resource, f" for its action {route.action.verb} (required input)"
                    )
                return None
        else:
            return None
        key = (account.company_id, route.label)
        if key not in self._bodies:
            try:
                self._bodies[key] = await self.resolve(account, example, (route.resource.path,))
            except Taken as taken:
                pytest.fail(str(taken), pytrace=False)
        return copy.deepcopy(self._bodies[key])

    # The OpenAPI document ----------------------------------------------------------

    def operation(self, method: str, template: str) -> dict[str, Any]:
        path = self.spec["paths"].get(template)
        assert path is not None, f"{template} is not in the OpenAPI document"
        operation = path.get(method.lower())
        assert operation is not None, f"{method} {template} is not in the OpenAPI document"
        return operation

    def request_schema(self, method: str, template: str) -> dict[str, Any]:
        operation = self.operation(method, template)
        schema = operation["requestBody"]["content"]["application/json"]["schema"]
        return self.deref(schema)

    def deref(self, schema: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in schema:
            name = schema["$ref"].removeprefix("#/components/schemas/")
            schema = self.spec["components"]["schemas"][name]
        return schema

    def parameters(self, method: str, template: str) -> dict[str, dict[str, Any]]:
        operation = self.operation(method, template)
        return {p["name"]: p for p in operation.get("parameters", []) if p["in"] == "query"}

    def _validator(self, method: str, template: str, status: int) -> Draft202012Validator:
        key = (method, template, str(status))
        if key not in self._validators:
            responses = self.operation(method, template)["responses"]
            assert str(status) in responses, (
                f"answers {status}, a status its OpenAPI responses do not declare "
                f"(declared: {', '.join(sorted(responses))})"
            )
            content = responses[str(status)].get("content", {}).get("application/json")
            assert content is not None, f"its {status} response has no JSON schema"
            schema = {**content["schema"], "components": self._components}
            self._validators[key] = Draft202012Validator(
                schema, format_checker=Draft202012Validator.FORMAT_CHECKER
            )
        return self._validators[key]

    def conforms(self, response: httpx.Response, method: str, template: str, status: int) -> Any:
        """The body, after checking the status and that the body validates against the
        route's response schema with no key it does not declare (envelope included)."""
        assert response.status_code == status, (
            f"expected {status}, got {response.status_code}: {response.text[:800]}"
        )
        body = response.json()
        assert body.get("success") is True, body
        errors = sorted(
            self._validator(method, template, status).iter_errors(body),
            key=lambda e: list(map(str, e.absolute_path)),
        )
        assert not errors, "the answer does not match its OpenAPI schema:\n  " + "\n  ".join(
            _describe(e) for e in errors[:12]
        )
        return body

    def answers(self, response: httpx.Response, route: Route, status: int | None = None) -> Any:
        """`conforms` for one of the suite's routes; answers the envelope's `data`."""
        status = route.status if status is None else status
        return self.conforms(response, route.method, route.template, status)["data"]

    def fails(
        self,
        response: httpx.Response,
        method: str,
        template: str,
        status: int,
        code: str | None = None,
    ) -> dict[str, Any]:
        """An error answer: its status and code, the error envelope's exact shape, and the
        status declared by the route."""
        if code is None:
            assert response.status_code == status, (
                f"expected {status}, got {response.status_code}: {response.text[:800]}"
            )
            error = expect_error(response, status, response.json()["error"]["code"])
        else:
            error = expect_error(response, status, code)
        responses = self.operation(method, template)["responses"]
        assert str(status) in responses, (
            f"answers {status} {error['code']}, a status its OpenAPI responses do not declare "
            f"(declared: {', '.join(sorted(responses))})"
        )
        errors = list(self._validator(method, template, status).iter_errors(response.json()))
        assert not errors, f"the {status} answer does not match its OpenAPI schema:\n  " + (
            "\n  ".join(_describe(e) for e in errors[:12])
        )
        return error

    def refuses(
        self, response: httpx.Response, route: Route, status: int, code: str | None = None
    ) -> dict[str, Any]:
        return self.fails(response, route.method, route.template, status, code)
