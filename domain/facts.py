"""Shared world memory over HTTP: facts written and read by people and systems, and the
memory hook, a Standard Webhooks endpoint through which other systems write facts.

Decisions:
- The hook names its company in the `X-Company-Id` header, or, for senders that cannot set
  headers, in the body's `company_id`; when both are sent they must agree. The company's
  secret verifies the signature, so naming another company gets a 401, never its facts.
- An unknown company and a company that never showed its secret answer like a bad signature
  (401): the public endpoint does not say which companies exist. Secrets are created on the
  owner's first look (`GET /api/ai-insights/webhook-secret`), never by the public endpoint.
- The timestamp is checked (400 beyond five minutes either way, the Standard Webhooks
  tolerance) before the signature (401).
- Each verified delivery's answer is stored under `(company_id, webhook-id)` (unique) in the
  same transaction as the facts it wrote: a replay gets the first answer, status and body,
  and writes nothing; so does a concurrent duplicate, whose transaction rolls back. Answers
  are kept `NUMBORS_MEMORY_HOOK_REPLAY_S` (Standard Webhooks senders retry for about a day).
- Secrets are stored as issued (HMAC needs the key itself); rotation replaces the secret, so
  the old one stops verifying at once.
"""

from __future__ import annotations

import base64
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

import orjson
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, JsonValue, ValidationError
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from domain.context import Ctx
from domain.errors import Conflict, Forbidden, Invalid, Unauthenticated
from domain.fields import Input, ObjectIdStr, Output, QueryInt, StrictInt, Timestamp
from domain.modules import licences
from memory.ids import is_object_id, utcnow
from memory.store import CollectionSpec, DocumentStore, DuplicateKeyError, declare
from memory.world import (
    SORTABLE,
    InvalidFact,
    StaleVersion,
    WorldMemory,
    check_key,
    check_namespace,
    normalise_time,
)

MODULE = "ai-insights"
TOLERANCE_S = 300
MAX_TTL_S = 10 * 365 * 86400
SECRET_PREFIX = "whsec_"

SECRETS = declare(CollectionSpec("memory_hook_secrets", unique=(("company_id",),)))
DELIVERIES = declare(
    CollectionSpec(
        "memory_hook_deliveries",
        indexes=(("company_id", "created_at"),),
        unique=(("company_id", "webhook_id"),),
    )
)


def _namespace(value: str) -> str:
    try:
        return check_namespace(value)
    except InvalidFact as error:
        raise ValueError(str(error)) from None


def _key(value: str) -> str:
    try:
        return check_key(value)
    except InvalidFact as error:
        raise ValueError(str(error)) from None


def _present_value(value: JsonValue) -> JsonValue:
    if value is None:
        raise ValueError("a fact needs a value; expire the fact to remove it")
    return value


Namespace = Annotated[
    str,
    Field(description="Labels joined by '/', like `customers/acme`", examples=["customers/acme"]),
    AfterValidator(_namespace),
]
Key = Annotated[str, Field(examples=["payment_terms"]), AfterValidator(_key)]
FactValue = Annotated[
    JsonValue, Field(description="Any JSON value but null"), AfterValidator(_present_value)
]
TtlSeconds = Annotated[
    int, Field(ge=1, le=MAX_TTL_S, description="Seconds until the fact expires; none: never")
]


class FactIn(Input):
    namespace: Namespace
    key: Key
    value: FactValue
    expected_version: StrictInt | None = Field(
        None, ge=0, description="The version you read (0: the fact must not exist); else 409"
    )
    ttl_s: TtlSeconds | None = None
    source: str = Field("api", min_length=1, max_length=100, description="Who states this")


class FactOut(Output):
    id: ObjectIdStr
    company_id: ObjectIdStr
    namespace: str
    key: str
    value: JsonValue
    source: str
    version: int
    created_at: Timestamp
    updated_at: Timestamp
    expires_at: Timestamp | None = None


class FactQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    namespace: str | None = Field(None, max_length=1700, description="Exact namespace")
    prefix: str | None = Field(None, max_length=300, description="Keys starting with this")
    since: str | None = Field(
        None, max_length=40, description="Updated at or after this ISO 8601 instant"
    )
    sort: str = Field("-updated_at", description=f"One of {', '.join(SORTABLE)}; - descending")
    page: QueryInt = Field(1, ge=1, le=1_000_000_000, description="Page number, from 1")
    limit: QueryInt = Field(25, ge=1, le=200, description="Items per page (max 200)")


class UpsertData(Input):
    namespace: Namespace
    key: Key
    value: FactValue
    ttl_s: TtlSeconds | None = None
    expected_version: StrictInt | None = Field(None, ge=0)


class ExpireData(Input):
    namespace: Namespace
    key: Key


class HookEvent(BaseModel):
    """A Standard Webhooks payload: `type`, `data`, and optionally `timestamp` and (when the
    X-Company-Id header is not sent) `company_id`. Unknown top-level fields are ignored."""

    type: str = Field(examples=["fact.upsert", "fact.expire"])
    company_id: str | None = None
    timestamp: str | None = None
    data: dict[str, Any]


class HookResult(BaseModel):
    webhook_id: str
    type: Literal["fact.upsert", "fact.expire"]
    fact: FactOut | None = Field(description="The fact's new version; null: nothing to expire")


class SecretOut(BaseModel):
    company_id: ObjectIdStr
    secret: str = Field(description="`whsec_` and the base64 key that signs memory-hook calls")
    created_at: Timestamp
    rotated_at: Timestamp | None = None


def _invalid(error: InvalidFact) -> Invalid:
    return Invalid(str(error), code="invalid_fact")


def _stale(error: StaleVersion) -> Conflict:
    return Conflict(
        str(error),
        code="stale_version",
        details=[{"field": "expected_version", "current_version": error.current}],
    )


# --- facts over HTTP -----------------------------------------------------------------------


async def write(world: WorldMemory, ctx: Ctx, body: FactIn) -> dict[str, Any]:
    try:
        return await world.put(
            ctx.company_id,
            body.namespace,
            body.key,
            body.value,
            body.source,
            expected_version=body.expected_version,
            ttl_s=body.ttl_s,
        )
    except InvalidFact as error:
        raise _invalid(error) from error
    except StaleVersion as error:
        raise _stale(error) from error


async def read(world: WorldMemory, ctx: Ctx, query: FactQuery) -> tuple[list[Any], int]:
    try:
        return await world.search(
            ctx.company_id,
            namespace=query.namespace,
            prefix=query.prefix,
            since=query.since,
            sort=query.sort,
            limit=query.limit,
            skip=(query.page - 1) * query.limit,
        )
    except InvalidFact as error:
        raise _invalid(error) from error


# --- the company's hook secret --------------------------------------------------------------


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def _owner(ctx: Ctx) -> None:
    if ctx.role != "owner":
        raise Forbidden("only the company's owner manages its webhook secret", code="owner_only")


def _secret_view(doc: dict[str, Any]) -> dict[str, Any]:
    return {
        "company_id": doc["company_id"],
        "secret": doc["secret"],
        "created_at": doc["created_at"],
        "rotated_at": doc.get("rotated_at"),
    }


async def current_secret(store: DocumentStore, company_id: str) -> str | None:
    doc = await store.find_one("memory_hook_secrets", {"company_id": company_id})
    return doc["secret"] if doc else None


async def reveal_secret(ctx: Ctx) -> dict[str, Any]:
    """The company's secret, created on first look."""
    _owner(ctx)
    doc = await ctx.store.find_one("memory_hook_secrets", ctx.scope())
    if doc is None:
        doc = ctx.scope(secret=new_secret(), created_at=utcnow(), rotated_at=None)
        try:
            await ctx.store.insert_one("memory_hook_secrets", doc)
        except DuplicateKeyError:  # another first look came first: show that one
            doc = await ctx.store.find_one("memory_hook_secrets", ctx.scope())
            assert doc is not None
    return _secret_view(doc)


async def rotate_secret(ctx: Ctx) -> dict[str, Any]:
    """A new secret; the old one stops verifying at once."""
    _owner(ctx)
    now = utcnow()
    async with ctx.store.transaction():
        doc = await ctx.store.update_one(
            "memory_hook_secrets",
            ctx.scope(),
            {"$set": {"secret": new_secret(), "rotated_at": now}},
        )
        if doc is None:
            doc = ctx.scope(secret=new_secret(), created_at=now, rotated_at=now)
            await ctx.store.insert_one("memory_hook_secrets", doc)
    return _secret_view(doc)


# --- the memory hook -------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """A hook's answer exactly as sent, kept for replays of the same webhook-id."""

    status: int
    body: dict[str, Any]


def _json(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise Invalid(
            f"the request body is not valid JSON: {error}", code="malformed_json"
        ) from None


def hook_company(header: str | None, raw: bytes) -> str:
    """The company a hook call is for: the X-Company-Id header, else the body's company_id."""
    company_id = header
    if company_id is None:
        payload = _json(raw)
        company_id = payload.get("company_id") if isinstance(payload, dict) else None
    if company_id is None:
        raise Invalid(
            "name the company: send the X-Company-Id header or company_id in the body",
            code="company_missing",
            details=[{"field": "company_id", "message": "this field is required"}],
        )
    if not isinstance(company_id, str) or not is_object_id(company_id):
        raise Invalid("the company id must be 24 hexadecimal characters", code="invalid_company_id")
    return company_id


def verify(
    secret: str | None,
    raw: bytes,
    webhook_id: str | None,
    timestamp: str | None,
    signature: str | None,
    now: float | None = None,
) -> None:
    """Standard Webhooks verification: 400 for missing or out-of-window headers, 401 for a
    signature that does not verify with the company's current secret."""
    if not signature:
        raise Unauthenticated("the webhook-signature header is missing", code="signature_missing")
    missing = [
        n for n, v in (("webhook-id", webhook_id), ("webhook-timestamp", timestamp)) if not v
    ]
    if missing:
        raise Invalid(
            f"missing header(s): {', '.join(missing)}",
            code="webhook_headers_missing",
            details=[{"field": n, "message": "this header is required"} for n in missing],
        )
    assert webhook_id is not None and timestamp is not None
    if len(webhook_id) > 256:
        raise Invalid("webhook-id is longer than 256 characters", code="invalid_webhook_id")
    try:
        sent = int(timestamp)
    except ValueError:
        raise Invalid(
            "webhook-timestamp must be whole seconds since the Unix epoch",
            code="invalid_webhook_timestamp",
        ) from None
    skew = (time.time() if now is None else now) - sent
    if abs(skew) > TOLERANCE_S:
        raise Invalid(
            f"webhook-timestamp is {abs(int(skew))} s {'old' if skew > 0 else 'ahead'}; "
            f"it must be within {TOLERANCE_S} s of now",
            code="webhook_timestamp_out_of_tolerance",
        )
    try:
        text = raw.decode()
    except UnicodeDecodeError:
        raise Invalid("the request body is not UTF-8", code="malformed_json") from None
    headers = {"webhook-id": webhook_id, "webhook-timestamp": timestamp}
    try:
        if secret is None:
            raise WebhookVerificationError("no secret")
        Webhook(secret).verify(text, {**headers, "webhook-signature": signature}, json_parse=False)
    except (WebhookVerificationError, ValueError):
        # ValueError: the library's own parse of a malformed signature list.
        raise Unauthenticated(
            "the webhook signature does not verify with this company's secret",
            code="bad_signature",
        ) from None


async def check_module(store: DocumentStore, company_id: str) -> None:
    licences.check(await licences.load(store, company_id), MODULE)


async def first_answer(store: DocumentStore, company_id: str, webhook_id: str) -> Answer | None:
    doc = await store.find_one(
        "memory_hook_deliveries", {"company_id": company_id, "webhook_id": webhook_id}
    )
    return Answer(doc["status"], doc["body"]) if doc else None


async def remember(
    store: DocumentStore, company_id: str, webhook_id: str, answer: Answer, keep_s: int
) -> None:
    """Store the first answer; DuplicateKeyError when another delivery of this id won."""
    cutoff = datetime.now(UTC) - timedelta(seconds=keep_s)
    async with store.transaction():
        await store.delete_many(
            "memory_hook_deliveries",
            {"company_id": company_id, "created_at": {"$lt": normalise_time(cutoff.isoformat())}},
        )
        await store.insert_one(
            "memory_hook_deliveries",
            {
                "company_id": company_id,
                "webhook_id": webhook_id,
                "status": answer.status,
                "body": answer.body,
                "created_at": utcnow(),
            },
        )


def parse_event(raw: bytes, company_id: str) -> UpsertData | ExpireData:
    try:
        event = HookEvent.model_validate(_json(raw))
    except ValidationError as error:
        raise _validation(error, "") from None
    if event.company_id is not None and event.company_id != company_id:
        raise Invalid(
            "company_id in the body is not the company of the X-Company-Id header",
            code="company_mismatch",
        )
    kinds: dict[str, type[UpsertData] | type[ExpireData]] = {
        "fact.upsert": UpsertData,
        "fact.expire": ExpireData,
    }
    kind = kinds.get(event.type)
    if kind is None:
        raise Invalid(
            f"unknown event type {event.type!r}; expected fact.upsert or fact.expire",
            code="unknown_event_type",
        )
    try:
        return kind.model_validate(event.data)
    except ValidationError as error:
        raise _validation(error, "data.") from None


def _validation(error: ValidationError, prefix: str) -> Invalid:
    details = []
    for item in error.errors():
        field = prefix + ".".join(str(p) for p in item["loc"])
        message = {
            "missing": "this field is required",
            "extra_forbidden": "unknown field; remove it or check its spelling",
        }.get(item["type"], item["msg"])
        details.append({"field": field or "body", "message": message})
    summary = "; ".join(f"{d['field']}: {d['message']}" for d in details[:3])
    return Invalid(f"invalid event: {summary}", details=details)


async def apply_event(
    world: WorldMemory, company_id: str, webhook_id: str, event: UpsertData | ExpireData
) -> dict[str, Any]:
    try:
        if isinstance(event, UpsertData):
            fact = await world.put(
                company_id,
                event.namespace,
                event.key,
                event.value,
                "webhook",
                expected_version=event.expected_version,
                ttl_s=event.ttl_s,
            )
            return {"webhook_id": webhook_id, "type": "fact.upsert", "fact": fact}
        expired = await world.expire(company_id, event.namespace, event.key, "webhook")
        return {"webhook_id": webhook_id, "type": "fact.expire", "fact": expired}
    except InvalidFact as error:
        raise _invalid(error) from error
    except StaleVersion as error:
        raise _stale(error) from error
