"""The audit trail: one append-only event per write, login and account change.

Rules and decisions:
- An event is written **in the transaction of the write it records** (the machinery's
  create, update, delete and act call `record_write` inside theirs; account changes call
  `record` inside theirs), so a SIGKILL never leaves a write without its event, nor an event
  without its write. A failed login has no write: its event is written alone.
- Append-only: nothing in the code updates or deletes `audit_events`, and no route does
  (there is no Resource for it; the only reads are `GET /api/compliance/export`).
- Company-scoped where it belongs: writes carry the company (`realm` "company"); account
  events (register, login, logout, password change, tokens revoked) belong to the user
  (`realm` "account", `user_id`) and a company's export includes those of its members.
  Membership changes (member added, removed, role changed) are company events.
- Cheap: one insert of a small document, no read; the request's origin (client address,
  request id) comes from a context variable the API sets once per request (`set_origin`).
- `_id` is an ObjectId, so the trail is in time order and `_id` is its keyset cursor.
- The AI insights audit (`domain/insights.py`, `insight_audit`) is another thing: what each
  analysis was asked and answered. It is not duplicated here; its writes, like every write,
  get an event here too.
"""

from __future__ import annotations

import time
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Literal

from domain.context import Ctx
from memory.ids import new_id, utcnow
from memory.store import CollectionSpec, DocumentStore, declare

AUDIT_EVENTS = declare(
    CollectionSpec(
        "audit_events",
        fields=("time_ms",),
        indexes=(
            ("company_id", "_id"),
            ("company_id", "class_uid", "_id"),
            ("realm", "user_id", "_id"),
        ),
    )
)

Kind = Literal["api", "auth", "account"]
API_ACTIVITY, AUTHENTICATION, ACCOUNT_CHANGE = 6003, 3002, 3001
CLASS_OF: dict[str, int] = {"api": API_ACTIVITY, "auth": AUTHENTICATION, "account": ACCOUNT_CHANGE}


@dataclass(frozen=True, slots=True)
class Origin:
    """Where the request that causes an event came from."""

    ip: str | None = None
    request_id: str | None = None
    method: str | None = None
    path: str | None = None


NOWHERE = Origin()
_origin: ContextVar[Origin | None] = ContextVar("audit_origin", default=None)


def set_origin(origin: Origin) -> None:
    _origin.set(origin)


def current_origin() -> Origin:
    return _origin.get() or NOWHERE


def _event(
    kind: Kind,
    activity: str,
    *,
    company_id: str | None,
    user_id: str | None,
    status: Literal["success", "failure"] = "success",
    **fields: Any,
) -> dict[str, Any]:
    origin = current_origin()
    return {
        "_id": new_id(),
        "realm": "company" if company_id else "account",
        "company_id": company_id,
        "user_id": user_id,
        "kind": kind,
        "class_uid": CLASS_OF[kind],
        "activity": activity,
        "status": status,
        "at": utcnow(),
        "time_ms": time.time_ns() // 1_000_000,
        "ip": origin.ip,
        "request_id": origin.request_id,
        "http": f"{origin.method} {origin.path}" if origin.method else None,
        **{k: v for k, v in fields.items() if v is not None},
    }


async def record(
    store: DocumentStore,
    kind: Kind,
    activity: str,
    *,
    company_id: str | None = None,
    user_id: str | None = None,
    status: Literal["success", "failure"] = "success",
    **fields: Any,
) -> None:
    """Append one event (inside the caller's transaction when it records a write).
    `fields`: `target_user_id`, `email`, `role`, `previous_role`, `reason`..."""
    event = _event(kind, activity, company_id=company_id, user_id=user_id, status=status, **fields)
    await store.insert_one("audit_events", event)


async def record_write(
    ctx: Ctx, resource: str, activity: str, object_id: str | None, verb: str | None = None
) -> None:
    """The machinery's one call per write: `activity` create, update, delete or act (with
    the action's `verb`), on `resource` (its API name) and object."""
    await record(
        ctx.store,
        "api",
        activity,
        company_id=ctx.company_id,
        user_id=ctx.user_id,
        resource=resource,
        object_id=object_id,
        operation=f"{resource}.{verb or activity}",
        role=ctx.role,
    )
