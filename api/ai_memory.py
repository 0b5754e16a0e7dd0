"""Shared world memory (AI Insights): facts, the public memory hook, the hook's secret.

The hook is public but signed (Standard Webhooks); the company is named by the
`X-Company-Id` header or the body's `company_id` (see `domain/facts.py` for the rules).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Query, Request
from pydantic import Field

from api import PREFIX
from api.deps import ID_PATTERN, CompanyCtx, Store, module_gate, on_string, services_of
from api.errors import status_of
from api.responses import Envelope, EnvelopeResponse, ListEnvelope, errors, failure, ok
from api.routing import LeanRoute
from domain import facts
from domain.errors import DomainError
from memory.store import DocumentStore, DuplicateKeyError
from memory.world import SORTABLE, WorldMemory

BASE = f"{PREFIX}/ai-insights"
TAG = "AI Insights"

router = APIRouter()
members = APIRouter(
    prefix=BASE, tags=[TAG], dependencies=module_gate(facts.MODULE), route_class=LeanRoute
)
public = APIRouter(prefix=BASE, tags=[TAG], route_class=LeanRoute)

FACT_EXAMPLE = {
    "namespace": "customers/acme",
    "key": "payment_terms",
    "value": {"days": 30, "note": "agreed by phone"},
    "source": "crm-sync",
}
HOOK_EXAMPLES = {
    "upsert": {
        "summary": "State a fact (for a day)",
        "value": {
            "type": "fact.upsert",
            "data": {
                "namespace": "customers/acme",
                "key": "payment_terms",
                "value": {"days": 30},
                "ttl_s": 86400,
            },
        },
    },
    "expire": {
        "summary": "Expire a fact",
        "value": {
            "type": "fact.expire",
            "data": {"namespace": "customers/acme", "key": "payment_terms"},
        },
    },
}


class FactListQuery(facts.FactQuery):
    """`facts.FactQuery` as the document states it: the domain checks `sort` and `since`
    (400 `invalid_fact`), so their enum and format are documented, not re-validated."""

    sort: str = Field(
        "-updated_at",
        description=f"One of {', '.join(SORTABLE)}; prefix - for descending",
        json_schema_extra={"enum": [s for key in SORTABLE for s in (key, f"-{key}")]},
    )
    since: str | None = Field(
        None,
        max_length=40,
        description="Updated at or after this ISO 8601 instant",
        json_schema_extra=on_string(format="date-time"),
    )


def world_memory(request: Request) -> WorldMemory:
    """The app's world memory, built once at start-up with its settings (`services.py`)."""
    return services_of(request).world


@members.post(
    "/shared",
    status_code=201,
    summary="Write shared world memory fact",
    response_model=Envelope[facts.FactOut],
    responses=errors(400, 401, 403, 409, codes={400: ("invalid_fact",), 409: ("stale_version",)}),
)
async def write_fact(
    body: Annotated[facts.FactIn, Body(openapi_examples={"terms": {"value": FACT_EXAMPLE}})],
    ctx: CompanyCtx,
    request: Request,
) -> EnvelopeResponse:
    return ok(await facts.write(world_memory(request), ctx, body), status=201)


@members.get(
    "/shared",
    summary="Read shared world memory facts",
    response_model=ListEnvelope[facts.FactOut],
    responses=errors(400, 401, 403, codes={400: ("invalid_fact",)}),
)
async def read_facts(
    ctx: CompanyCtx, request: Request, query: Annotated[FactListQuery, Query()]
) -> EnvelopeResponse:
    found, total = await facts.read(world_memory(request), ctx, query)
    return ok(found, meta={"total": total, "page": query.page, "limit": query.limit})


@members.get(
    "/webhook-secret",
    summary="See the memory hook's signing secret (owner)",
    response_model=Envelope[facts.SecretOut],
    responses=errors(400, 401, 403, codes={403: ("owner_only",)}),
)
async def webhook_secret(ctx: CompanyCtx) -> EnvelopeResponse:
    return ok(await facts.reveal_secret(ctx))


@members.post(
    "/webhook-secret/rotate",
    summary="Rotate the memory hook's signing secret (owner)",
    response_model=Envelope[facts.SecretOut],
    responses=errors(400, 401, 403, codes={403: ("owner_only",)}),
)
async def rotate_webhook_secret(ctx: CompanyCtx) -> EnvelopeResponse:
    return ok(await facts.rotate_secret(ctx))


# The hook reads its raw body (the signature covers the bytes) and its headers itself, so
# the domain answers a missing one with its own code; the document states them as required.
_SIGNED_BY = {
    "webhook-id": "The message id; a replay of it gets the first answer (at most 256 characters)",
    "webhook-timestamp": "Seconds since the Unix epoch, within 5 minutes of the server's clock",
    "webhook-signature": "`v1,<base64 HMAC-SHA256 of id.timestamp.body>`, space-separated",
}
_HOOK: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": facts.HookEvent.model_json_schema(),
                "examples": HOOK_EXAMPLES,
            }
        },
    },
    "parameters": [
        {
            "name": name,
            "in": "header",
            "required": True,
            "description": text,
            "schema": {"type": "string", "minLength": 1},
        }
        for name, text in _SIGNED_BY.items()
    ],
}


@public.post(
    "/memory-hook",
    status_code=201,
    summary="AgenticMemory webhook for real-time notifications",
    description=(
        "A Standard Webhooks call (`webhook-id`, `webhook-timestamp`, `webhook-signature`: "
        "HMAC-SHA256 with the company's `whsec_` secret). Events: `fact.upsert` "
        "(`data`: namespace, key, value, ttl_s?, expected_version?) and `fact.expire` "
        "(`data`: namespace, key). A replayed `webhook-id` gets the first answer again "
        "(with `Webhook-Replayed: true`) and writes nothing."
    ),
    response_model=Envelope[facts.HookResult],
    responses={
        **errors(
            400,
            409,
            codes={
                400: (
                    "webhook_headers_missing",
                    "invalid_webhook_id",
                    "invalid_webhook_timestamp",
                    "webhook_timestamp_out_of_tolerance",
                    "company_missing",
                    "company_mismatch",
                    "unknown_event_type",
                    "invalid_fact",
                ),
                409: ("stale_version",),
            },
        ),
        **failure(403, "The company's licence does not enable AI Insights", "module_disabled"),
        **failure(
            401,
            "The webhook signature is missing or does not verify with the company's secret",
            "signature_missing",
            "bad_signature",
        ),
    },
    openapi_extra=_HOOK,
)
async def memory_hook(
    request: Request,
    store: Store,
    webhook_id: Annotated[str | None, Header(alias="webhook-id", include_in_schema=False)] = None,
    webhook_timestamp: Annotated[
        str | None, Header(alias="webhook-timestamp", include_in_schema=False)
    ] = None,
    webhook_signature: Annotated[
        str | None, Header(alias="webhook-signature", include_in_schema=False)
    ] = None,
    x_company_id: Annotated[
        str | None,
        Header(
            alias="X-Company-Id",
            description="The company; else the body's company_id",
            json_schema_extra=on_string(pattern=ID_PATTERN),
        ),
    ] = None,
) -> EnvelopeResponse:
    raw = await request.body()
    company_id = facts.hook_company(x_company_id, raw)
    secret = await facts.current_secret(store, company_id)
    facts.verify(secret, raw, webhook_id, webhook_timestamp, webhook_signature)
    assert webhook_id is not None
    request.state.company_id = company_id
    await facts.check_module(store, company_id)

    first = await facts.first_answer(store, company_id, webhook_id)
    if first is not None:
        return _replayed(first)
    world = world_memory(request)
    keep_s = services_of(request).settings.memory_hook_replay_s
    try:
        async with world.transaction():
            event = facts.parse_event(raw, company_id)
            result = await facts.apply_event(world, company_id, webhook_id, event)
            answer = facts.Answer(201, {"success": True, "data": result})
            await facts.remember(store, company_id, webhook_id, answer, keep_s)
    except DuplicateKeyError:
        return await _first_of(store, company_id, webhook_id)
    except DomainError as error:
        body = {"code": error.code, "message": error.message, "details": error.details}
        answer = facts.Answer(status_of(error), {"success": False, "error": body})
        try:
            await facts.remember(store, company_id, webhook_id, answer, keep_s)
        except DuplicateKeyError:
            return await _first_of(store, company_id, webhook_id)
    return EnvelopeResponse(answer.body, status_code=answer.status)


def _replayed(answer: facts.Answer) -> EnvelopeResponse:
    response = EnvelopeResponse(answer.body, status_code=answer.status)
    response.headers["Webhook-Replayed"] = "true"
    return response


async def _first_of(store: DocumentStore, company_id: str, webhook_id: str) -> EnvelopeResponse:
    """Another delivery of this webhook-id committed first: answer what it answered."""
    first = await facts.first_answer(store, company_id, webhook_id)
    assert first is not None
    return _replayed(first)


router.include_router(members)
router.include_router(public)
