"""What transfers and adjustments share: a number, a date, lines, and a lifecycle.

draft -> completed -> cancelled (or draft -> cancelled). A document is created draft (edit
it freely) or completed; completing moves its stock, all lines or none (one transaction:
the first short line is 409 `insufficient_stock` and nothing moves). Cancelling a completed
one reverses its movements at their value, dated today (or on its own date when that is
later). A completed or cancelled document is a ledger record: it cannot be edited or
deleted (409 `locked`); cancel it instead.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any, Literal

from pydantic import Field

from domain.context import Ctx
from domain.errors import Conflict, Invalid
from domain.fields import ObjectIdStr
from domain.inventory import stock
from domain.references import referenced
from domain.resources import Action, Lifecycle
from memory.ids import today

Status = Literal["draft", "completed", "cancelled"]
MAX = Decimal("1000000000")
FREE = ("reference", "notes")
Apply = Callable[[Ctx, dict[str, Any]], Awaitable[list[dict[str, Any]]]]

StatusField = Field(
    "draft",
    description="Created draft (editable) or completed (moves the stock); then through the "
    "actions complete and cancel",
)
LinesField = Field(min_length=1, max_length=200)


async def number(ctx: Ctx, kind: str, prefix: str) -> str:
    value = await ctx.store.next_value(f"{ctx.company_id}:{kind}")
    return f"{prefix}{value:05d}"


async def tracked_item(ctx: Ctx, item_id: ObjectIdStr, field: str) -> dict[str, Any]:
    item = await referenced(ctx, "items", item_id, field, "item")
    if not item.get("track_inventory"):
        raise Invalid(
            f"{field}: item {item['name']} does not track inventory (set track_inventory)",
            code="item_not_tracked",
            details=[{"field": field, "message": "not a tracked item"}],
        )
    return item


def plain(value: Any) -> str:
    """A quantity or amount as stored: its exact decimal text."""
    return str(Decimal(str(value)).normalize() + Decimal(0))


async def _complete(ctx: Ctx, collection: str, apply: Apply, doc: dict[str, Any]) -> None:
    """Move the stock and keep what each line moved on the document."""
    doc["lines"] = await apply(ctx, doc)
    update = {"$set": {"lines": doc["lines"]}}
    await ctx.store.update_one(collection, ctx.scope(_id=doc["_id"]), update)


def lifecycle(collection: str, apply: Apply) -> Lifecycle:
    async def completed(ctx: Ctx, doc: dict[str, Any], previous: str) -> None:
        await _complete(ctx, collection, apply, doc)

    async def cancelled(ctx: Ctx, doc: dict[str, Any], previous: str) -> None:
        if previous == "completed":
            await stock.reverse_source(ctx, doc["_id"], today())

    return Lifecycle(
        states=("draft", "completed", "cancelled"),
        initial=("draft", "completed"),
        editable_in=("draft",),
        free=FREE,
        on_enter={"completed": completed, "cancelled": cancelled},
    )


def actions(label: str) -> tuple[Action, ...]:
    return (
        Action(
            "complete",
            f"Complete a draft {label} (moves its stock, all lines or none)",
            from_states=("draft",),
            to="completed",
        ),
        Action(
            "cancel",
            f"Cancel a {label} (a completed one's movements are reversed today)",
            from_states=("draft", "completed"),
            to="cancelled",
        ),
    )


def after_create(collection: str, apply: Apply) -> Callable[[Ctx, dict[str, Any]], Awaitable[None]]:
    async def run(ctx: Ctx, doc: dict[str, Any]) -> None:
        if doc["status"] == "completed":
            await _complete(ctx, collection, apply, doc)

    return run


def before_delete(label: str) -> Callable[[Ctx, dict[str, Any]], Awaitable[None]]:
    async def run(ctx: Ctx, doc: dict[str, Any]) -> None:
        if doc["status"] != "draft":
            raise Conflict(
                f"a {doc['status']} {label} is a ledger record and cannot be deleted"
                + ("; cancel it instead" if doc["status"] == "completed" else ""),
                code="locked",
            )

    return run


def money(value: Decimal | None) -> str | None:
    return None if value is None else plain(value)


def present_lines(doc: dict[str, Any], numbers: tuple[str, ...]) -> dict[str, Any]:
    lines = [
        {k: (float(v) if k in numbers and v is not None else v) for k, v in line.items()}
        for line in doc.get("lines", [])
    ]
    return {**doc, "lines": lines}
