"""A resource's fields, declared once, and the three models derived from them.

An area declares one pydantic model: every field a client may send or read, with its
constraints, and marks for the exceptions:

- `Server[T]`: set by the server (computed totals, numbers, states). Read, never written: a
  PUT that echoes it unchanged passes, one that changes it is a 400 naming the field.
- `Immutable[T]`: written on create, then fixed (a PUT may echo it unchanged).
- `WriteOnly[T]`: accepted, never answered.
- `Annotated[T, Shown(U)]`: answered as `U` (a stored shape differs from its input shape).
- `Annotated[T, EditableIn("draft", ...)]`: may change only in those lifecycle states.

From it come `Create` (client fields, as declared), `Update` (every client field optional; a
field that cannot be null refuses an explicit null; server-owned and immutable fields
accepted only as their current value) and `Out` (the allow-list of what a response holds,
with the stamps every stored object has). Decimals are answered as JSON numbers and dates
as `YYYY-MM-DD` strings.
"""

from __future__ import annotations

import copy
import types
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, create_model, model_validator
from pydantic.fields import FieldInfo

from domain.fields import Input, ObjectIdStr, Output, Timestamp

T = TypeVar("T")


class _Mark:
    def __init__(self, name: str):
        self.name = name

    def __repr__(self) -> str:
        return self.name


SERVER = _Mark("server")
IMMUTABLE = _Mark("immutable")
WRITE_ONLY = _Mark("write_only")

Server = Annotated[T, SERVER]
Immutable = Annotated[T, IMMUTABLE]
WriteOnly = Annotated[T, WRITE_ONLY]


@dataclass(frozen=True)
class Shown:
    """How a field is answered when its stored shape differs from its input."""

    annotation: Any


@dataclass(frozen=True)
class EditableIn:
    states: tuple[str, ...]

    def __init__(self, *states: str):
        object.__setattr__(self, "states", states)


class Declared(BaseModel):
    """The one declaration of a resource's fields (never used to validate a request)."""

    model_config = ConfigDict(extra="forbid")


STAMPS: dict[str, tuple[Any, Any]] = {
    "id": (ObjectIdStr, ...),
    "company_id": (ObjectIdStr, ...),
    "created_by": (ObjectIdStr | None, None),
    "created_at": (Timestamp, ...),
    "updated_at": (Timestamp | None, None),
}
STAMP_NAMES = frozenset(STAMPS)


@dataclass(frozen=True)
class Schema:
    create: type[BaseModel]
    update: type[BaseModel]
    read: type[BaseModel]
    server: frozenset[str]
    immutable: frozenset[str]
    editable_in: dict[str, tuple[str, ...]]
    out_keys: tuple[str, ...]

    @property
    def echoed(self) -> frozenset[str]:
        """Fields a PUT may carry only as their current value."""
        return self.server | self.immutable | STAMP_NAMES


def _marks(info: FieldInfo) -> set[Any]:
    return {m for m in info.metadata if isinstance(m, _Mark)}


def _meta(info: FieldInfo, kind: type) -> Any:
    return next((m for m in info.metadata if isinstance(m, kind)), None)


def answered(annotation: Any) -> Any:
    """The JSON shape of a stored value: decimals as numbers, dates as strings."""
    if annotation is Decimal:
        return float
    if annotation is date:
        return Annotated[str, Field(json_schema_extra={"format": "date"})]
    origin = get_origin(annotation)
    if origin is Annotated:
        base = get_args(annotation)[0]
        mapped = answered(base)
        return mapped if mapped is not base else annotation
    if origin in (Union, types.UnionType):
        args = tuple(answered(a) for a in get_args(annotation))
        return Union[args]  # noqa: UP007
    if origin is list:
        return list[answered(get_args(annotation)[0])]  # type: ignore[misc]
    return annotation


def derive(name: str, declaration: type[BaseModel]) -> Schema:
    create: dict[str, Any] = {}
    update: dict[str, Any] = {}
    read: dict[str, Any] = {"id": STAMPS["id"]}
    server: set[str] = set()
    immutable: set[str] = set()
    editable: dict[str, tuple[str, ...]] = {}
    for field, info in declaration.model_fields.items():
        marks = _marks(info)
        shown = _meta(info, Shown)
        only = _meta(info, EditableIn)
        if only:
            editable[field] = only.states
        out_type = shown.annotation if shown else answered(info.annotation)
        if WRITE_ONLY not in marks:
            required = (
                info.is_required() or info.default is not None or info.default_factory is not None
            )
            read[field] = (
                out_type if required else out_type | None,
                Field(... if required else None, description=info.description),
            )
        if SERVER in marks:
            server.add(field)
            update[field] = _echo(info)
            continue
        create[field] = (info.annotation, copy.copy(info))
        if IMMUTABLE in marks:
            immutable.add(field)
            update[field] = _echo(info)
        else:
            update[field] = (info.annotation, _optional(info))
    for stamp, definition in STAMPS.items():
        read.setdefault(stamp, definition)
        update.setdefault(stamp, _echo(None))
    # The declaration's model validators check a create body; an update's merged fields
    # are the area's hooks' to check (a partial body cannot be checked on its own).
    checks = {
        key: model_validator(mode=d.info.mode)(d.func)  # type: ignore[call-overload]
        for key, d in declaration.__pydantic_decorators__.model_validators.items()
    }
    return Schema(
        create=create_model(f"{name}Create", __base__=Input, __validators__=checks, **create),
        update=create_model(f"{name}Update", __base__=Input, **update),
        read=create_model(f"{name}Out", __base__=Output, **read),
        server=frozenset(server),
        immutable=frozenset(immutable),
        editable_in=editable,
        out_keys=tuple(read),
    )


def _optional(info: FieldInfo) -> FieldInfo:
    """The same field, absent unless sent (an explicit null still meets its type)."""
    optional = copy.copy(info)
    optional.default, optional.default_factory = None, None
    return optional


def _echo(info: FieldInfo | None) -> tuple[Any, Any]:
    what = "set by the server" if info is None or SERVER in _marks(info) else "fixed at creation"
    return (
        Any,
        Field(
            None,
            description=f"Read-only ({what}): accepted when equal to the current value",
            json_schema_extra={"readOnly": True},
        ),
    )
