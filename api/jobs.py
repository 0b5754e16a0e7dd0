"""Jobs over HTTP: read, list, cancel, and follow their events as SSE (resumable with
`Last-Event-ID`). `submit` is what every enqueueing endpoint calls: it stores the job,
enqueues it once the record has committed, and by default waits (bounded) for its result."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Header, Request, Response
from pydantic import BaseModel, Field
from sse_starlette import EventSourceResponse, ServerSentEvent

from api import PREFIX
from api.deps import CompanyCtx, services_of
from api.responses import Envelope, EnvelopeResponse, errors, ok
from domain import jobs
from domain.context import Ctx
from domain.errors import Invalid, Unavailable
from memory.events import EventHub, after, is_stream_id
from memory.queue import JobQueue

router = APIRouter()
actions = APIRouter(prefix=f"{PREFIX}/jobs", tags=["Jobs"])


class Submitted(BaseModel):
    job: jobs.JobOut
    events_url: str
    waited: bool = Field(description="False when the answer came before the job finished")


def _queue_and_hub(request: Request) -> tuple[JobQueue, EventHub]:
    services = services_of(request)
    if services.queue is None or services.hub is None:
        raise Unavailable(
            "the job queue is not configured (NUMBORS_REDIS_URL)", code="queue_unavailable"
        )
    return services.queue, services.hub


async def submit(
    request: Request, ctx: Ctx, kind: str, input: dict[str, Any], wait: bool
) -> EnvelopeResponse:
    queue, hub = _queue_and_hub(request)
    job = await jobs.create_job(ctx, kind, input)
    events_url = f"{PREFIX}/jobs/{job['_id']}/events"
    if not wait:
        await queue.enqueue(job["_id"])
        return ok(
            {"job": await jobs.get_job(ctx, job["_id"]), "events_url": events_url, "waited": False},
            status=202,
        )
    limit = services_of(request).settings.job_wait_s
    async with hub.subscribe(job["_id"]) as events:
        await queue.enqueue(job["_id"])
        deadline = time.monotonic() + limit
        finished = False
        while not finished and (left := deadline - time.monotonic()) > 0:
            try:
                event = await asyncio.wait_for(events.get(), left)
            except TimeoutError:
                break
            finished = event.terminal
    current = await jobs.get_job(ctx, job["_id"])
    done = current["status"] in jobs.FINAL
    return ok(
        {"job": current, "events_url": events_url, "waited": done}, status=200 if done else 202
    )


@actions.post(
    "/{id}/cancel",
    summary="Cancel a queued or running job",
    response_model=Envelope[jobs.JobOut],
    responses=errors(400, 401, 404, 409),
)
async def cancel(id: str, ctx: CompanyCtx, request: Request) -> EnvelopeResponse:
    job = await jobs.request_cancel(ctx, id)
    queue, _ = _queue_and_hub(request)
    if job["status"] == "cancelled":
        events = services_of(request).events
        assert events is not None  # there is a queue, so there is Redis
        await events.publish(id, "cancelled", {"status": "cancelled"})
    else:
        await queue.abort(id)
    return ok(job)


@actions.get(
    "/{id}/events",
    summary="Follow a job's events (SSE, resumable)",
    responses={
        **errors(400, 401, 404),
        200: {"content": {"text/event-stream": {}}, "description": "Server-sent events"},
        204: {"description": "The client already has the job's last event: stop reconnecting"},
    },
)
async def events(
    id: str,
    ctx: CompanyCtx,
    request: Request,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
) -> Response:
    job = await jobs.get_job(ctx, id)
    if last_event_id is not None and not is_stream_id(last_event_id):
        raise Invalid(
            "Last-Event-ID must be an event id this stream sent (like 1732540000000-0)",
            code="invalid_last_event_id",
        )
    _, hub = _queue_and_hub(request)
    settings = services_of(request).settings
    if job["status"] in jobs.FINAL and not await hub.exists(id):
        # Its events expired (NUMBORS_JOB_EVENTS_TTL_S): answer the outcome from the record,
        # or a client would wait on a stream that will never have another event.
        event_id, type, data = jobs.final_event(job)
        if last_event_id is not None and not after(event_id, last_event_id):
            return Response(status_code=204)
        return EventSourceResponse(
            _single(ServerSentEvent(data=_json(data), event=type, id=event_id)),
            ping=settings.sse_heartbeat_s or 15,
        )
    if last_event_id is not None and await hub.ended_by(id, last_event_id):
        # EventSource reconnects whenever a stream ends, also after the terminal event; 204 is
        # how SSE tells it to stop (else it would wait on a finished job until `reconnect`).
        return Response(status_code=204)
    return EventSourceResponse(
        _stream(hub, id, last_event_id, settings.sse_heartbeat_s, settings.sse_lifetime_s),
        ping=settings.sse_heartbeat_s or 15,
        send_timeout=30,
    )


async def _stream(
    hub: EventHub, job_id: str, after: str | None, idle_s: float, lifetime_s: float
) -> AsyncIterator[ServerSentEvent]:
    ends = time.monotonic() + lifetime_s
    last = after
    async for event in hub.follow(job_id, after, min(idle_s, lifetime_s)):
        if event is not None:
            last = event.id
            yield ServerSentEvent(data=_json(event.data), event=event.type, id=event.id)
            if event.terminal:
                return
        if time.monotonic() >= ends:
            yield ServerSentEvent(
                data=_json({"last_event_id": last}), event="reconnect", id=last, retry=1000
            )
            return


async def _single(event: ServerSentEvent) -> AsyncIterator[ServerSentEvent]:
    yield event


def _json(value: Any) -> str:
    # ServerSentEvent writes str(data): a dict would go out as its Python repr, and None as
    # no data line at all (an event EventSource never dispatches). Always send JSON text.
    return orjson.dumps(value).decode()


router.include_router(actions)
