"""AI Insights over HTTP: availability, workflows, report analysis (waited for or streamed)
and the audit trail.

`status` and `workflows` are public (the spec marks them so); the rest sit behind the
`ai-insights` module gate. An analysis is a job (`insight.analyse`) run by a worker:
`analyse` waits for it (bounded by `NUMBORS_JOB_WAIT_S`) and answers 201 with the insight,
202 with the job when it is still running, or 200 with the job when it ended without one
(its `error` says why). `analyse-stream` answers the job's event stream itself (SSE:
`progress`, `fact`, `token`, `result`, `error`, each with an id), which a client that drops
resumes at `/api/jobs/{id}/events` with `Last-Event-ID`; the job id is in the `X-Job-Id`
header and in the first `progress` event. `token` events carry the narrative already checked
against the facts (a few words behind the model); a `progress` event with step `narrate`
starts it afresh (a retried job narrates again from the beginning), and the `result` holds
the final, validated summary.
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field
from sse_starlette import EventSourceResponse

from api import PREFIX
from api import jobs as jobs_api
from api.deps import AppServices, CompanyCtx, module_gate
from api.responses import Envelope, EnvelopeResponse, errors, ok
from domain import insights
from domain.fields import QueryBool

TAG = "AI Insights"

public = APIRouter(prefix=f"{PREFIX}/ai-insights", tags=[TAG])
gated = APIRouter(
    prefix=f"{PREFIX}/ai-insights", tags=[TAG], dependencies=module_gate("ai-insights")
)


class Status(BaseModel):
    provider: str = Field(description="openai-compatible, or offline when none is configured")
    model: str
    offline: bool
    reachable: bool = Field(description="The model endpoint answered (offline: always)")
    queue_depth: int | None = Field(description="Jobs waiting; null without a queue")
    live_workers: int
    available: bool = Field(description="A worker is alive and the provider reachable")


class Workflow(BaseModel):
    name: str
    title: str
    description: str
    endpoints: list[str]
    steps: list[str]
    events: list[str]
    inputs: dict[str, Any]


InsightOut = insights.INSIGHTS.read


@public.get("/status", summary="Check AI availability", response_model=Envelope[Status])
async def status(services: AppServices) -> EnvelopeResponse:
    return ok(await insights.status(services.reachability, services.queue))


@public.get(
    "/workflows",
    summary="List available conductor workflows",
    response_model=Envelope[list[Workflow]],
)
async def workflows() -> EnvelopeResponse:
    return ok(insights.WORKFLOWS)


@gated.post(
    "/analyse",
    status_code=201,
    summary="Generate AI insights for a report",
    response_model=Envelope[InsightOut],
    responses={
        **errors(400, 401, 403, 503),
        202: {"model": Envelope[jobs_api.Submitted], "description": "Still running"},
    },
)
async def analyse(
    body: insights.AnalyseIn,
    ctx: CompanyCtx,
    request: Request,
    wait: Annotated[QueryBool, Query(description="Wait for the insight")] = True,
) -> EnvelopeResponse:
    response = await jobs_api.submit(request, ctx, insights.KIND, insights.request(body), wait)
    job = orjson.loads(response.body)["data"]["job"]
    if job["status"] == "succeeded":
        return ok(job["result"], status=201)
    return response


@gated.post(
    "/analyse-stream",
    status_code=201,
    summary="Stream AI analysis via SSE",
    responses={
        **errors(400, 401, 403, 503),
        201: {"content": {"text/event-stream": {}}, "description": "Server-sent events"},
    },
)
async def analyse_stream(
    body: insights.AnalyseIn, ctx: CompanyCtx, request: Request
) -> EventSourceResponse:
    job_input = insights.request(body)
    submitted = await jobs_api.submit(request, ctx, insights.KIND, job_input, wait=False)
    job_id = orjson.loads(submitted.body)["data"]["job"]["id"]
    stream = await jobs_api.events(job_id, ctx, request, None)
    stream.status_code = 201
    stream.headers["X-Job-Id"] = job_id
    stream.headers["Location"] = f"{PREFIX}/jobs/{job_id}"
    return stream


router = APIRouter()
router.include_router(public)
router.include_router(gated)
