"""Outbound webhooks (beyond the spec): an external tracker (the spec's Buggazi) follows Tai's
`bug.created`, `bug.regressed` and `sprint.completed` events.

An admin registers an endpoint (`POST /api/tai/webhooks`: url, events); it gets a Standard
Webhooks secret (`whsec_...`), and every call carries `webhook-id` (the delivery's, the
same on every retry, so the receiver can drop repeats), `webhook-timestamp` and
`webhook-signature` (HMAC-SHA256, the `standardwebhooks` package). The JSON body is
`{"type", "timestamp", "data"}`.

Outbox: the event's delivery rows are written by `log.record`, in the transaction of the
change itself, with the `tai.webhooks` job that sends them (`domain.jobs.defer`), so an
event is sent if and only if the change committed, whichever route or job raised it. The
API enqueues that job once the request has committed; the job outbox's dispatcher enqueues
it otherwise (a write in a worker, a queue that was down). The job (`conductors/tai.py`)
sends every due delivery of the company. A failed call (no answer, or not 2xx)
is retried by the job platform with its backoff; after the job's last try the delivery is
`failed`. Every attempt is in the delivery log (`GET /api/tai/webhook-deliveries`).

Each event defers a job, so two jobs of one company may run at once and find the same
pending deliveries: a job claims a delivery (`claim`, one conditional update) before it
sends it, and skips one another job holds. A claim lapses after `CLAIM_S` (its job died
mid-send); the job's own retry takes its claim back at once, so a delivery is never
stranded behind a dead attempt. The claim is released with the attempt's outcome.
"""

from __future__ import annotations

import base64
import secrets
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from domain import jobs
from domain.context import Ctx
from domain.fields import StrictBool
from domain.resources import Declared, Hooks, Resource, Server
from memory.ids import new_id, stamp, utcnow
from memory.store import CollectionSpec, DocumentStore, declare

ENDPOINTS = "tai_webhooks"
DELIVERIES = "tai_webhook_deliveries"
KIND = "tai.webhooks"
CLAIM_S = 60  # how long a sending job holds a delivery (the call's timeout is 10 s)
Event = Literal["bug.created", "bug.regressed", "sprint.completed"]
EVENTS: tuple[str, ...] = Event.__args__  # type: ignore[attr-defined]
Url = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=2000, pattern=r"^https?://\S+$")
]

declare(
    CollectionSpec(
        ENDPOINTS,
        fields=("company_id", "enabled", "created_at"),
        indexes=(
            ("company_id", "enabled"),
            ("company_id", "created_at"),
            ("company_id", "updated_at"),
        ),
    )
)
declare(
    CollectionSpec(
        DELIVERIES,
        fields=("company_id", "status", "created_at"),
        indexes=(
            ("company_id", "status", "created_at"),
            ("company_id", "webhook_id"),
            ("company_id", "event"),
            ("company_id", "created_at"),
            ("company_id", "updated_at"),
        ),
    )
)


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


class WebhookFields(Declared):
    url: Url = Field(description="Where the events are POSTed")
    events: list[Event] = Field(default_factory=lambda: list(EVENTS), min_length=1)
    enabled: StrictBool = True
    secret: Server[str] = Field(description="The Standard Webhooks signing secret")


async def _before_create(ctx: Ctx, data: dict[str, Any]) -> dict[str, Any]:
    return {**data, "secret": new_secret()}


WEBHOOKS = Resource(
    name="tai/webhooks",
    label="webhook",
    collection=ENDPOINTS,
    module="tai",
    tag="Tai Dev Lifecycle",
    fields=WebhookFields,
    filters={"enabled": "eq"},
    roles={op: "admin" for op in ("list", "get", "create", "update", "delete")},
    hooks=Hooks(before_create=_before_create),
    example={"url": "https://buggazi.example.com/hooks/numbors", "events": ["bug.created"]},
    description="Endpoints that receive Tai's bug.created, bug.regressed and sprint.completed "
    "events, signed as Standard Webhooks.",
)


class DeliveryFields(Declared):
    webhook_id: Server[str]
    event: Server[str]
    msg_id: Server[str] = Field(description="The webhook-id header: the same on every retry")
    status: Server[Literal["pending", "delivered", "failed"]]
    attempts: Server[int]
    last_status_code: Server[int | None] = None
    last_error: Server[str | None] = None
    delivered_at: Server[str | None] = None
    payload: Server[dict[str, Any]]


DELIVERY_LOG = Resource(
    name="tai/webhook-deliveries",
    label="webhook delivery",
    collection=DELIVERIES,
    module="tai",
    tag="Tai Dev Lifecycle",
    fields=DeliveryFields,
    operations=("list", "get"),
    filters={"status": "eq", "webhook_id": "eq", "event": "eq"},
    roles={"list": "admin", "get": "admin"},
    present=lambda d: {"last_status_code": None, "last_error": None, "delivered_at": None, **d},
    description="Every event sent or to send, with its attempts and last answer.",
)


async def queue(ctx: Ctx, event: str, data: dict[str, Any]) -> int:
    """Write the event's deliveries (in the caller's transaction); answer how many."""
    endpoints = [
        e
        for e in await ctx.store.find(ENDPOINTS, ctx.scope(enabled=True))
        if event in e.get("events", [])
    ]
    now = utcnow()
    rows = [
        {
            "_id": new_id(),
            "company_id": ctx.company_id,
            "webhook_id": e["_id"],
            "event": event,
            "msg_id": f"msg_{new_id()}",
            "status": "pending",
            "attempts": 0,
            "payload": {"type": event, "timestamp": now, "data": data},
            "created_by": ctx.user_id,
            "created_at": now,
            "updated_at": now,
        }
        for e in endpoints
    ]
    if rows:
        await ctx.store.insert_many(DELIVERIES, rows)
        # The sending job commits with the deliveries, so every committed delivery has a job
        # that will send it (one per event: a job finding nothing pending ends at once).
        await jobs.defer(ctx, KIND, {})
    return len(rows)


async def pending(
    store: DocumentStore, company_id: str
) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """The company's undelivered events with their endpoint (oldest first)."""
    rows = await store.find(
        DELIVERIES, {"company_id": company_id, "status": "pending"}, sort=[("created_at", 1)]
    )
    out = []
    for row in rows:
        endpoint = await store.find_one(
            ENDPOINTS, {"company_id": company_id, "_id": row["webhook_id"]}
        )
        if endpoint is not None:
            out.append((row, endpoint))
    return out


async def claim(store: DocumentStore, row: dict[str, Any], job_id: str) -> bool:
    """Take the pending delivery for this job's attempt; False when another job holds it."""
    now = datetime.now(UTC)
    claimed = await store.update_one(
        DELIVERIES,
        {
            "company_id": row["company_id"],
            "_id": row["_id"],
            "status": "pending",
            "$or": [
                {"claimed_until": None},
                {"claimed_until": {"$lt": stamp(now)}},
                {"claimed_by": job_id},  # its own retry, after a crash mid-send
            ],
        },
        {
            "$set": {
                "claimed_by": job_id,
                "claimed_until": stamp(now + timedelta(seconds=CLAIM_S)),
            }
        },
    )
    return claimed is not None


async def attempted(
    store: DocumentStore,
    row: dict[str, Any],
    *,
    status_code: int | None,
    error: str | None,
    final: bool,
) -> None:
    delivered = status_code is not None and 200 <= status_code < 300
    status = "delivered" if delivered else ("failed" if final else "pending")
    now = utcnow()
    await store.update_one(
        DELIVERIES,
        {"company_id": row["company_id"], "_id": row["_id"]},
        {
            "$set": {
                "status": status,
                "last_status_code": status_code,
                "last_error": error,
                "claimed_by": None,
                "claimed_until": None,
                "updated_at": now,
                **({"delivered_at": now} if delivered else {}),
            },
            "$inc": {"attempts": 1},
        },
    )
