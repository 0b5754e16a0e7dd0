"""Shared world memory (AI Insights): facts, the public memory hook, the hook's secret.

The hook is public but signed (Standard Webhooks); the company is named by the
`X-Company-Id` header or the body's `company_id` (see `domain/facts.py` for the rules).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Request

from api import PREFIX
from api.deps import CompanyCtx, Store, module_gate, services_of
from api.errors import status_of
from api.responses import Envelope, EnvelopeResponse, ListEnvelope, errors, ok
from domain import facts
from domain.errors import DomainError
from memory.store import DocumentStore, DuplicateKeyError
from memory.world import WorldMemory

BASE = f"{PREFIX}/ai-insights"
TAG = "AI Insights"

router = APIRouter()
members = APIRouter(prefix=BASE, tags=[TAG], dependencies=module_gate(facts.MODULE))
public = APIRouter(prefix=BASE, tags=[TAG])


def world_memory(request: Request) -> WorldMemory:
    """The app's world memory, built once at start-up with its settings (`services.py`)."""
    return services_of(request).world


@members.post(
    "/shared",
    status_code=201,
    summary="Write shared world memory fact",
    response_model=Envelope[facts.FactOut],
    responses=errors(400, 401, 403, 409),
)
async def write_fact(body: facts.FactIn, ctx: CompanyCtx, request: Request) -> EnvelopeResponse:
    return ok(await facts.write(world_memory(request), ctx, body), status=201)


@members.get(
    "/shared",
    summary="Read shared world memory facts",
    response_model=ListEnvelope[facts.FactOut],
    responses=errors(400, 401, 403),
)
async def read_facts(
    ctx: CompanyCtx, request: Request, query: Annotated[facts.FactQuery, Query()]
) -> EnvelopeResponse:
    found, total = await facts.read(world_memory(request), ctx, query)
    return ok(found, meta={"total": total, "page": query.page, "limit": query.limit})


@members.get(
    "/webhook-secret",
    summary="See the memory hook's signing secret (owner)",
    response_model=Envelope[facts.SecretOut],
    responses=errors(401, 403),
)
async def webhook_secret(ctx: CompanyCtx) -> EnvelopeResponse:
    return ok(await facts.reveal_secret(ctx))


@members.post(
    "/webhook-secret/rotate",
    summary="Rotate the memory hook's signing secret (owner)",
    response_model=Envelope[facts.SecretOut],
    responses=errors(401, 403),
)
async def rotate_webhook_secret(ctx: CompanyCtx) -> EnvelopeResponse:
    return ok(await facts.rotate_secret(ctx))


_HOOK_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": facts.HookEvent.model_json_schema()}},
    }
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
    responses=errors(400, 401, 403, 409),
    openapi_extra=_HOOK_BODY,
)
async def memory_hook(
    request: Request,
    store: Store,
    webhook_id: Annotated[str | None, Header(alias="webhook-id")] = None,
    webhook_timestamp: Annotated[str | None, Header(alias="webhook-timestamp")] = None,
    webhook_signature: Annotated[str | None, Header(alias="webhook-signature")] = None,
    x_company_id: Annotated[
        str | None, Header(alias="X-Company-Id", description="Else the body's company_id")
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
