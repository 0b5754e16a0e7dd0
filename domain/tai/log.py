"""Tai's log: what happened in the tracker, newest first (`GET /api/tai/log`).

One event per thing a person would want to read back: a bug created (by hand or from CI),
a failure merged into an existing bug the first time it is seen flaky, a regression, a
status change with its note, a feature linked or shipped, a sprint started or completed,
a question asked and answered. Occurrences of a known failure are counted on the bug, not
logged one by one (1,000 CI posts of one failure are one bug, not 1,000 events).

Events are written in the transaction of the change they record, so the log never tells
of a change that did not happen; `bug.created`, `bug.regressed` and `sprint.completed` also
write their webhook deliveries there (`webhooks.py`, an outbox). Other areas (the bug-fix
conductor) record theirs with `record`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from domain.context import Ctx
from domain.resources import Declared, Resource, Server
from domain.tai import webhooks
from memory.ids import new_id, utcnow
from memory.store import CollectionSpec, declare

COLLECTION = "tai_log"

declare(
    CollectionSpec(
        COLLECTION,
        fields=("company_id", "type", "created_at"),
        indexes=(
            ("company_id", "created_at"),
            ("company_id", "type", "created_at"),
            ("company_id", "bug_id"),
            ("company_id", "feature_id"),
            ("company_id", "sprint_id"),
            ("company_id", "updated_at"),
        ),
    )
)

Subject = Literal["bug", "feature", "sprint", "message", "conductor"]


class LogFields(Declared):
    type: Server[str] = Field(description="What happened, e.g. bug.created, bug.regressed")
    subject: Server[Subject]
    summary: Server[str]
    bug_id: Server[str | None] = None
    feature_id: Server[str | None] = None
    sprint_id: Server[str | None] = None
    data: Server[dict[str, Any]] = Field(default_factory=dict)


async def record(
    ctx: Ctx,
    type: str,
    summary: str,
    *,
    bug_id: str | None = None,
    feature_id: str | None = None,
    sprint_id: str | None = None,
    **data: Any,
) -> None:
    now = utcnow()
    if type in webhooks.EVENTS:
        refs = {"bug_id": bug_id, "feature_id": feature_id, "sprint_id": sprint_id}
        payload = {"summary": summary, **{k: v for k, v in refs.items() if v}, **data}
        await webhooks.queue(ctx, type, payload)
    await ctx.store.insert_one(
        COLLECTION,
        {
            "_id": new_id(),
            "company_id": ctx.company_id,
            "type": type,
            "subject": type.split(".", 1)[0],
            "summary": summary,
            "bug_id": bug_id,
            "feature_id": feature_id,
            "sprint_id": sprint_id,
            "data": data,
            "created_by": ctx.user_id,
            "created_at": now,
            "updated_at": now,
        },
    )


LOG = Resource(
    name="tai/log",
    label="log event",
    collection=COLLECTION,
    module="tai",
    tag="Tai Dev Lifecycle",
    fields=LogFields,
    operations=("list",),
    filters={"type": "eq", "bug_id": "eq", "feature_id": "eq", "sprint_id": "eq"},
    sort=("created_at",),
    default_sort="-created_at",
    date_field="created_at",
    description="Tai's recent events (bugs created, regressed, status changes, features, "
    "sprints, messages), newest first, paged.",
)
