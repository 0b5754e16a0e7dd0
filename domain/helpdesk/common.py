"""What the helpdesk's resources share: priorities, channels, statuses, members."""

from __future__ import annotations

from typing import Any, Literal

from domain.context import Ctx
from domain.errors import Invalid

Priority = Literal["low", "medium", "high", "urgent"]
Channel = Literal["web", "email", "chat"]
Status = Literal["new", "open", "waiting", "on_hold", "resolved", "closed"]
PRIORITIES: tuple[str, ...] = ("low", "medium", "high", "urgent")
MODULE = "helpdesk"
TAG = "Helpdesk"


async def member(ctx: Ctx, user_id: str, field: str) -> dict[str, Any]:
    """A user of this company (an assignee), or 400 naming the field."""
    found = await ctx.store.find_one("memberships", ctx.scope(user_id=user_id))
    if found is None:
        raise Invalid(
            f"{field}: user {user_id} is not a member of this company",
            code="invalid_reference",
            details=[{"field": field, "message": "not a member of this company"}],
        )
    return found
