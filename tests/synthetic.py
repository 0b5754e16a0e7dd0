"""Declarations that exist only in the suite, so the machinery's shapes no area uses yet
(a sub-resource with its lifecycle, item and collection actions under a parent, a report in
a licence-gated module) are mounted and run through the conformance suite like real ones.

The session's app (tests/conftest.py) mounts `REGISTRY`: the domain's declarations and these.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from domain.context import Ctx
from domain.fields import Day, LongText, Name, ObjectIdStr, StrictInt
from domain.resources import (
    Action,
    Declared,
    Lifecycle,
    Parent,
    Ref,
    Report,
    Resource,
    Server,
)
from domain.resources.registry import Registry, registry
from memory.store import CollectionSpec, declare

declare(CollectionSpec("synthetic_boards", fields=("company_id", "name", "created_at")))
declare(
    CollectionSpec(
        "synthetic_cards",
        fields=("company_id", "board_id", "title", "status", "created_at", "updated_at"),
    )
)


class BoardFields(Declared):
    name: Name
    notes: LongText | None = None


BOARDS = Resource(
    name="synthetic/boards",
    label="board",
    collection="synthetic_boards",
    module="projects",
    tag="Synthetic",
    fields=BoardFields,
    search=("name",),
    sort=("name", "created_at"),
    default_sort="name",
    example={"name": "Launch plan", "notes": "What ships first"},
)


class CardFields(Declared):
    title: Name
    contact_id: ObjectIdStr | None = None
    notes: LongText | None = None
    status: Literal["open", "done"] = "open"
    board_id: Server[str]


class ArchiveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    older_than_days: StrictInt = Field(0, ge=0, le=3650)


class ArchiveOut(BaseModel):
    archived: int


async def _archive(ctx: Ctx, body: ArchiveIn) -> dict[str, Any]:
    """A collection action: counts what it would archive (the suite checks the route)."""
    return {"archived": 0}


class Period(BaseModel):
    model_config = ConfigDict(extra="forbid")
    as_of: Day


async def _card_count(ctx: Ctx, query: Period) -> dict[str, Any]:
    total = await ctx.store.count("synthetic_cards", ctx.scope())
    return {"as_of": query.as_of.isoformat(), "cards": total}


CARDS = Resource(
    name="cards",
    label="card",
    collection="synthetic_cards",
    module="projects",
    tag="Synthetic",
    fields=CardFields,
    parent=Parent(BOARDS, "board_id"),
    search=("title",),
    filters={"status": "eq"},
    sort=("title", "created_at", "updated_at"),
    default_sort="-created_at",
    lifecycle=Lifecycle(states=("open", "done"), editable_in=("open",), free=("notes",)),
    actions=(
        Action("finish", "Finish a card", from_states=("open",), to="done"),
        Action("reopen", "Reopen a card", from_states=("done",), to="open"),
        Action(
            "archive",
            "Archive a board's old cards",
            run=_archive,
            input=ArchiveIn,
            output=ArchiveOut,
            collection=True,
            example={"older_than_days": 30},
        ),
    ),
    example={"title": "Write the announcement", "contact_id": Ref("contacts")},
)

CARD_COUNT = Report(
    path="synthetic/card-count",
    summary="Cards at a date",
    module="projects",
    tag="Synthetic",
    query=Period,
    run=_card_count,
)

REGISTRY = Registry(
    resources=(*registry().resources, BOARDS, CARDS),
    reports=(*registry().reports, CARD_COUNT),
    jobs=registry().jobs,
)
