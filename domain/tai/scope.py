"""What a bug or feature may point at (a sprint, a feature) and the sprint scope history
their moves write.

An item joins a sprint by having its `sprint_id`; a closed sprint takes nothing more (409
`sprint_closed`). While a sprint is active every item that joins or leaves it is recorded
in the sprint's `scope_history` (as Linear keeps a cycle's), so its completion report can
say what was added and removed after it started.
"""

from __future__ import annotations

from typing import Any, Literal

from domain.context import Ctx
from domain.errors import Conflict
from domain.references import referenced
from memory.ids import utcnow

SPRINTS = "tai_sprints"
FEATURES = "tai_features"
BUGS = "tai_bugs"
Item = Literal["bug", "feature"]


async def check_sprint(ctx: Ctx, sprint_id: str | None) -> dict[str, Any] | None:
    if sprint_id is None:
        return None
    sprint = await referenced(ctx, SPRINTS, sprint_id, "sprint_id", "sprint")
    if sprint["status"] == "closed":
        raise Conflict(
            f"sprint {sprint_id} ({sprint['name']}) is closed; plan the work into an active "
            "or future sprint",
            code="sprint_closed",
            details=[{"field": "sprint_id", "state": "closed"}],
        )
    return sprint


async def check_feature(ctx: Ctx, feature_id: str | None) -> None:
    if feature_id is not None:
        await referenced(ctx, FEATURES, feature_id, "feature_id", "feature")


async def moved(ctx: Ctx, item: Item, item_id: str, before: str | None, after: str | None) -> None:
    """Record an item leaving `before` and joining `after` in their active sprints."""
    if before == after:
        return
    now = utcnow()
    for sprint_id, change in ((before, "removed"), (after, "added")):
        if sprint_id is None:
            continue
        await ctx.store.update_one(
            SPRINTS,
            ctx.scope(_id=sprint_id, status="active"),
            {
                "$push": {
                    "scope_history": {"at": now, "change": change, "item": item, "id": item_id}
                }
            },
        )
