"""Jobs over HTTP: read, list, cancel, and follow their events as SSE (resumable with
`Last-Event-ID`). `submit` is what every enqueueing endpoint calls: it stores the job,
enqueues it once the record has committed, and by default waits (bounded) for its result;
`run` does the same and gives the job back, for a route that answers its result itself."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Header, Request, Response
from pydantic import BaseModel, Field
from sse_starlette import EventSourceResponse, ServerSentEvent

from api import PREFIX
from api.deps import CompanyCtx, id_path, services_of
from api.responses import Envelope, EnvelopeResponse, errors, ok
from api.routing import LeanRoute
from domain import jobs
from domain.context import Ctx
from domain.errors import Invalid, Unavailable
from memory.events import EventHub, after, is_stream_id
from memory.queue import RETRY_AFTER_S, JobQueue, QueueUnavailable

log = logging.getLogger("numbors.jobs")
router = APIRouter()
actions = APIRouter(prefix=f"{PREFIX}/jobs", tags=["Jobs"], route_class=LeanRoute)
JobId = Annotated[str, id_path("job")]
QUEUE_UNAVAILABLE = {503: ("queue_unavailable",)}


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


@dataclass(frozen=True)
class Submission:
    """A submitted job as it stood when the wait ended (`waited`: it had finished)."""

    job: dict[str, Any]
    events_url: str
    waited: bool

    def answer(self, succeeded: int = 200) -> EnvelopeResponse:
        """`succeeded` (200, or 201 where the job makes something) with the job that
        succeeded, 200 with one that ended otherwise, 202 with the job still running (or not
        waited for)."""
        data = {"job": self.job, "events_url": self.events_url, "waited": self.waited}
        if not self.waited:
            return ok(data, status=202)
        return ok(data, status=succeeded if self.job["status"] == "succeeded" else 200)


async def _enqueue(ctx: Ctx, queue: JobQueue, job_id: str) -> None:
    """Enqueue the committed record, or end it failed and answer 503 queue_unavailable
    (with Retry-After) within the queue's bound: no record stays queued without an ARQ job."""
    try:
        await queue.enqueue(job_id)
    except QueueUnavailable as error:
        log.warning("enqueue refused, job %s failed: %s", job_id, error)
        await jobs.finish(
            ctx.store, job_id, "failed", error={"code": "queue_unavailable", "message": str(error)}
        )
        raise Unavailable(
            "the job queue is unavailable right now; nothing was started, retry shortly",
            code="queue_unavailable",
            retry_after=RETRY_AFTER_S,
            details=[{"job_id": job_id, "status": "failed"}],
        ) from error


async def enqueue_deferred(request: Request, ctx: Ctx) -> None:
    """Enqueue the jobs this request's committed writes recorded (`domain.jobs.defer`). The
    write has committed, so a queue that is down does not fail the answer: the outbox
    dispatcher enqueues those records later."""
    queue = services_of(request).queue
    while ctx.deferred:
        job_id = ctx.deferred.pop(0)
        if queue is None:
            continue
        try:
            await queue.enqueue(job_id)
        except QueueUnavailable:
            ctx.deferred.clear()
            return


async def run(
    request: Request, ctx: Ctx, kind: str, input: dict[str, Any], wait: bool
) -> Submission:
    """Store the job, enqueue it once the record has committed and, with `wait`, wait
    (bounded by `NUMBORS_JOB_WAIT_S`) for it to finish."""
    queue, hub = _queue_and_hub(request)
    job = await jobs.create_job(ctx, kind, input)
    events_url = f"{PREFIX}/jobs/{job['_id']}/events"
    if not wait:
        await _enqueue(ctx, queue, job["_id"])
        return Submission(await jobs.get_job(ctx, job["_id"]), events_url, waited=False)
    limit = services_of(request).settings.job_wait_s
    async with hub.subscribe(job["_id"]) as events:
        await _enqueue(ctx, queue, job["_id"])
        deadline = time.monotonic() + limit
        finished = False
        while not finished and (left := deadline - time.monotonic()) > 0:
            try:
                event = await asyncio.wait_for(events.get(), left)
            except TimeoutError:
                break
            finished = event.terminal
    current = await jobs.get_job(ctx, job["_id"])
    return Submission(current, events_url, waited=current["status"] in jobs.FINAL)


async def submit(
    request: Request,
    ctx: Ctx,
    kind: str,
    input: dict[str, Any],
    wait: bool,
    succeeded: int = 200,
) -> EnvelopeResponse:
    """What every enqueueing endpoint answers: `run`, then `Submission.answer`."""
    return (await run(request, ctx, kind, input, wait)).answer(succeeded)


@actions.post(
    "/{id}/cancel",
    summary="Cancel a queued or running job",
    response_model=Envelope[jobs.JobOut],
    responses=errors(
        400, 401, 403, 404, 409, 503, codes={409: ("job_finished",), **QUEUE_UNAVAILABLE}
    ),
)
async def cancel(id: JobId, ctx: CompanyCtx, request: Request) -> EnvelopeResponse:
    queue, _ = _queue_and_hub(request)  # before the record changes: a 503 cancels nothing
    job = await jobs.request_cancel(ctx, id)
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
        **errors(
            400, 401, 403, 404, 503, codes={400: ("invalid_last_event_id",), **QUEUE_UNAVAILABLE}
        ),
        200: {"content": {"text/event-stream": {}}, "description": "Server-sent events"},
        204: {"description": "The client already has the job's last event: stop reconnecting"},
    },
)
async def events(
    id: JobId,
    ctx: CompanyCtx,
    request: Request,
    last_event_id: Annotated[
        str | None,
        Header(
            alias="Last-Event-ID",
            description="Resume after this event: the `id` of the last one you received "
            "(like 1732540000000-0)",
        ),
    ] = None,
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
