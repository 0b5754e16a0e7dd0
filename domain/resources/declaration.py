"""What an area declares: a `Resource` (its fields once, lifecycle, actions, parent), a
`Report` (a query model and a function), a `JobOperation` (work a worker does), a `Reaction`
(its rule when another area's document changes state) and a `CompanyStart` (what it gives
every new company).

Nothing here names an area; `operations.py` gives every declaration its behaviour and
`api/` mounts its routes from the registry (`registry.py`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel

from domain.context import Ctx
from domain.resources.schema import Schema, derive

Doc = dict[str, Any]
Operation = Literal["list", "create", "get", "update", "delete"]
FilterKind = Literal["eq", "range"]
Role = Literal["viewer", "member", "admin", "owner"]
ROLE_RANK: dict[str, int] = {"viewer": 0, "member": 1, "admin": 2, "owner": 3}
DEFAULT_ROLES: dict[str, Role] = {
    "list": "viewer",
    "get": "viewer",
    "create": "member",
    "update": "member",
    "delete": "member",
}

BeforeCreate = Callable[[Ctx, Doc], Awaitable[Doc]]
BeforeUpdate = Callable[[Ctx, Doc, Doc], Awaitable[Doc]]
AfterWrite = Callable[[Ctx, Doc], Awaitable[None]]
BeforeDelete = Callable[[Ctx, Doc], Awaitable[None]]
Insert = Callable[[Ctx, Doc], Awaitable[Doc]]
StateHook = Callable[[Ctx, Doc, str], Awaitable[None]]
Present = Callable[[Doc], Doc]
Enrich = Callable[[Ctx, list[Doc]], Awaitable[list[Doc]]]
RewriteFilters = Callable[[dict[str, Any]], dict[str, Any]]


async def _same(ctx: Ctx, data: Doc, *rest: Any) -> Doc:
    return data if not rest else rest[0]


async def _nothing(ctx: Ctx, doc: Doc) -> None:
    return None


@dataclass(frozen=True)
class Hooks:
    """Where an area's rules plug in. Every hook runs inside the write's transaction.

    `insert` replaces the plain insert when creating is more than storing the fields (a
    journal entry is posted by the ledger): it gets the checked fields and answers the
    stored document."""

    before_create: BeforeCreate = _same
    before_update: BeforeUpdate = _same
    after_create: AfterWrite = _nothing
    after_update: AfterWrite = _nothing
    before_delete: BeforeDelete = _nothing
    insert: Insert | None = None

    @property
    def plain_create(self) -> bool:
        return self.before_create is _same and self.after_create is _nothing and self.insert is None


@dataclass(frozen=True)
class Kept:
    """An object stays while another collection refers to it: deleting it is 409 `code`
    with `message` (say what to do instead, e.g. disable it)."""

    collection: str
    field: str
    message: str
    code: str = "in_use"


@dataclass(frozen=True)
class Lifecycle:
    """States of a document, created in one of `initial` (default: the first).

    Transitions happen through actions (`Action.to`), also when a PUT sets the state field;
    `on_exit` and `on_enter` hooks (post to the ledger, reverse) run inside the transition's
    transaction. Fields change only in `editable_in` (a field's own `EditableIn` aside), the
    `free` ones (notes, references) in every state; a locked field is 409 `locked_code`."""

    states: tuple[str, ...]
    initial: tuple[str, ...] = ()
    status_field: str = "status"
    editable_in: tuple[str, ...] | None = None
    free: tuple[str, ...] = ()
    locked_code: str = "locked"
    on_enter: Mapping[str, StateHook] = field(default_factory=dict)
    on_exit: Mapping[str, StateHook] = field(default_factory=dict)


@dataclass(frozen=True)
class Action:
    """`POST /api/<resource>/{id}/<verb>` (or `/api/<resource>/<verb>` when `collection`).

    An item action runs on the object fetched in the caller's company, inside one
    transaction, only from `from_states`; `to` moves it there (with the lifecycle's hooks)
    before `run`. `run(ctx, doc, body)` (collection: `run(ctx, body)`) answers a stored
    document of `output` (a Resource; default: this one) or, when `output` is a model, the
    answer itself."""

    verb: str
    summary: str
    run: Callable[..., Awaitable[Any]] | None = None
    input: type[BaseModel] | None = None
    output: Any = None
    from_states: tuple[str, ...] | None = None
    to: str | None = None
    role: Role = "member"
    status_code: int = 200
    collection: bool = False
    example: dict[str, Any] | None = None
    description: str | None = None


@dataclass(frozen=True)
class Parent:
    """A sub-resource's parent: mounted under `/api/<parent>/{<field>}/<name>`, checked in
    the caller's company (404), and `field` is set on create and filtered on every read."""

    resource: Resource
    field: str


@dataclass(frozen=True)
class Alias:
    """Another path for one of the resource's operations or item actions, where the API
    reference names it so (`POST /api/tai/bug` for `POST /api/tai/bugs`, `PATCH
    /api/tai/feature/{featureId}` for the feature's update): the same endpoint (models,
    hooks, lifecycle, roles, errors) at `path` (under `/api`), the item's id named `id_name`
    there, answering `method` (default: the operation's; an update may be `PATCH`, which
    changes only the fields sent, as the PUT does)."""

    operation: str  # list, create, get, update, delete, or an action's verb
    path: str
    method: str | None = None
    id_name: str = "id"
    summary: str | None = None


@dataclass(frozen=True, eq=False)
class Resource:
    name: str
    label: str
    collection: str
    module: str | None
    tag: str
    fields: type[BaseModel]
    search: tuple[str, ...] = ()
    filters: dict[str, FilterKind] = field(default_factory=dict)
    sort: tuple[str, ...] = ("created_at", "updated_at")
    default_sort: str = "-created_at"
    date_field: str | None = None
    operations: tuple[Operation, ...] = ("list", "create", "get", "update", "delete")
    hooks: Hooks = Hooks()
    lifecycle: Lifecycle | None = None
    actions: tuple[Action, ...] = ()
    parent: Parent | None = None
    roles: Mapping[str, Role] = field(default_factory=dict)
    kept_while: tuple[Kept, ...] = ()
    conflict: str | None = None
    # An optimistic-concurrency token (a server-owned int the area bumps on every change): a
    # PUT that sends another value than the stored one is 409 `version_conflict`, not 400.
    version_field: str | None = None
    aliases: tuple[Alias, ...] = ()
    present: Present | None = None
    enrich: Enrich | None = None
    rewrite_filters: RewriteFilters | None = None
    example: dict[str, Any] | None = None
    description: str | None = None
    schema: Schema = field(init=False, repr=False)

    def __post_init__(self) -> None:
        model = self.fields.__name__.removesuffix("Fields")
        object.__setattr__(self, "schema", derive(model, self.fields))

    @property
    def create(self) -> type[BaseModel]:
        return self.schema.create

    @property
    def update(self) -> type[BaseModel]:
        return self.schema.update

    @property
    def read(self) -> type[BaseModel]:
        return self.schema.read

    @property
    def path(self) -> str:
        """The collection's path under `/api`."""
        if self.parent is None:
            return self.name
        return f"{self.parent.resource.path}/{{{self.parent.field}}}/{self.name}"

    def role_for(self, operation: str) -> Role:
        return self.roles.get(operation) or DEFAULT_ROLES.get(operation, "member")

    def action(self, verb: str) -> Action:
        return next(a for a in self.actions if a.verb == verb)

    def actions_from(self, state: str) -> list[str]:
        return [
            a.verb
            for a in self.actions
            if not a.collection and (a.from_states is None or state in a.from_states)
        ]


@dataclass(frozen=True, eq=False)
class Report:
    """`GET /api/<path>`: a query model in, a figure out, computed by `run(ctx, query)`."""

    path: str
    summary: str
    module: str | None
    tag: str
    query: type[BaseModel]
    run: Callable[[Ctx, Any], Awaitable[Any]]
    output: type[BaseModel] | None = None
    role: Role = "viewer"
    description: str | None = None

    def __post_init__(self) -> None:
        if self.query.model_config.get("extra") != "forbid":
            raise ValueError(f"report {self.path}: its query model must forbid unknown fields")


@dataclass(frozen=True)
class PathParam:
    """A parameter in a job operation's path: the id of `resource` (its document is fetched
    in the caller's company: 400 malformed, 404 unknown or another company's) or, without a
    resource, a word matching `pattern` (400 otherwise)."""

    name: str
    description: str
    resource: Resource | None = None
    pattern: str | None = None
    example: str | None = None  # a word the pattern accepts (for the docs and the tests)


@dataclass(frozen=True, eq=False)
class JobOperation:
    """`POST /api/<path>`: work done by a worker, of `kind` (or the kind the body names).
    `prepare(ctx, body, **params)` checks the request (references, state) and answers the
    job's input; `params` are the path's (`PathParam`: a resource's document, or the word).
    The route waits for the job (bounded) or, with `?wait=false`, answers 202 with the job
    and its events URL. `codes` documents the error codes `prepare` may answer, by status."""

    path: str
    summary: str
    module: str | None
    tag: str
    kind: str | Callable[[Any], str]
    input: type[BaseModel]
    prepare: Callable[..., Awaitable[dict[str, Any]]]
    role: Role = "member"
    example: dict[str, Any] | None = None
    description: str | None = None
    params: tuple[PathParam, ...] = ()
    codes: Mapping[int, tuple[str, ...]] = field(default_factory=dict)
    status_code: int = 200


@dataclass(frozen=True, eq=False)
class Reaction:
    """Another area's rule run when a document of the resource named `resource` enters
    `state` (or is deleted, `state="deleted"`), inside the same transaction, after the
    resource's own hooks: time entries released when their invoice is cancelled. `run(ctx,
    doc, previous_state)` gets the document as stored after the move."""

    resource: str
    state: str
    run: StateHook
    description: str | None = None


@dataclass(frozen=True, eq=False)
class CompanyStart:
    """What an area gives every new company (a default pipeline, warehouse or SLA policy),
    run by `domain/setup.py` inside the company's creation transaction, after its books.
    `run(ctx, company)`; `order` sorts them (lower first)."""

    name: str
    run: Callable[[Ctx, Doc], Awaitable[None]]
    order: int = 100
