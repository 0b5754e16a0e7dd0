"""AI Insights over HTTP: availability, workflows, report analysis (waited for or streamed)
and the audit trail.

`status` and `workflows` are public (the spec marks them so); the rest sit behind the
`ai-insights` module gate. An analysis is a job (`insight.analyse`) run by a worker:
`analyse` waits for it (bounded by `NUMBORS_JOB_WAIT_S`) and answers 201 with the insight,
202 with the job when it is still running (or `?wait=false`), or 200 with the job when it
ended without one (its `error` says why), as `POST /api/jobs` answers 200 for any job that
finished; all three are declared. `analyse-stream` answers the job's event stream itself (SSE:
`progress`, `fact`, `token`, `result`, `error`, each with an id), which a client that drops
resumes at `/api/jobs/{id}/events` with `Last-Event-ID`; the job id is in the `X-Job-Id`
header and in the first `progress` event. `token` events carry the narrative already checked
against the facts (a few words behind the model); a `progress` event with step `narrate`
starts it afresh (a retried job narrates again from the beginning), and the `result` holds
the final, validated summary.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request
from pydantic import BaseModel, Field
from sse_starlette import EventSourceResponse

from api import PREFIX
from api import jobs as jobs_api
from api.deps import AppServices, CompanyCtx, module_gate
from api.responses import Envelope, EnvelopeResponse, ListEnvelope, PageQuery, errors, ok, paged
from api.routing import LeanRoute
from domain import insights
from domain.fields import QueryBool

TAG = "AI Insights"

public = APIRouter(prefix=f"{PREFIX}/ai-insights", tags=[TAG], route_class=LeanRoute)
gated = APIRouter(
    prefix=f"{PREFIX}/ai-insights",
    tags=[TAG],
    dependencies=module_gate("ai-insights"),
    route_class=LeanRoute,
)
ANALYSE_EXAMPLES = {
    "period": {
        "summary": "Profit and loss of a month against the month before",
        "value": {
            "report": "profit_and_loss",
            "from": "2025-01-01",
            "to": "2025-01-31",
            "compare_from": "2024-12-01",
            "compare_to": "2024-12-31",
        },
    },
    "at_date": {
        "summary": "Balance sheet at a date against another",
        "value": {"report": "balance_sheet", "to": "2025-01-31", "compare_to": "2024-12-31"},
    },
}
AnalyseBody = Annotated[insights.AnalyseIn, Body(openapi_examples=ANALYSE_EXAMPLES)]
QUEUE_UNAVAILABLE = {503: ("queue_unavailable",)}


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
    response_model=ListEnvelope[Workflow],
    responses=errors(400),
)
async def workflows(query: Annotated[PageQuery, Query()]) -> EnvelopeResponse:
    return paged(insights.WORKFLOWS, query)


@gated.post(
    "/analyse",
    status_code=201,
    summary="Generate AI insights for a report",
    description="201 with the insight when the analysis finished within the wait; 202 with "
    "the job and its events URL (`/api/jobs/{id}/events`, SSE) when it is still running or "
    "`wait=false`; 200 with the job when it ended without an insight (its `error` says why).",
    response_model=Envelope[InsightOut],
    responses={
        **errors(400, 401, 403, 503, codes=QUEUE_UNAVAILABLE),
        200: {
            "model": Envelope[jobs_api.Submitted],
            "description": "The job ended without an insight (failed or cancelled): its "
            "`error` says why",
        },
        202: {"model": Envelope[jobs_api.Submitted], "description": "Still running"},
    },
)
async def analyse(
    body: AnalyseBody,
    ctx: CompanyCtx,
    request: Request,
    wait: Annotated[QueryBool, Query(description="Wait for the insight")] = True,
) -> EnvelopeResponse:
    job_input = insights.request(body)
    submission = await jobs_api.run(request, ctx, insights.KIND, job_input, wait)
    if submission.job["status"] == "succeeded":
        return ok(submission.job["result"], status=201)
    return submission.answer()


@gated.post(
    "/analyse-stream",
    status_code=201,
    summary="Stream AI analysis via SSE",
    responses={
        **errors(400, 401, 403, 503, codes=QUEUE_UNAVAILABLE),
        201: {"content": {"text/event-stream": {}}, "description": "Server-sent events"},
    },
)
async def analyse_stream(
    body: AnalyseBody, ctx: CompanyCtx, request: Request
) -> EventSourceResponse:
    job_input = insights.request(body)
    submission = await jobs_api.run(request, ctx, insights.KIND, job_input, wait=False)
    job_id = submission.job["id"]
    stream = await jobs_api.events(job_id, ctx, request, None)
    stream.status_code = 201
    stream.headers["X-Job-Id"] = job_id
    stream.headers["Location"] = f"{PREFIX}/jobs/{job_id}"
    return stream


router = APIRouter()
router.include_router(public)
router.include_router(gated)
