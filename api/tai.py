"""Tai's two routes that are not declarations: CI's `POST /api/tai/e2e-fix` (authenticated
by a company CI token, `domain/tai/ci_tokens.py`, or a member's login: so it is on a router
of its own, which checks the module itself), and `POST /api/tai/message`, which answers
201 with Tai's answer (not the job) or the job's event stream itself. The spec's singular
paths (`POST /api/tai/bug`, `PATCH /api/tai/feature/{featureId}`, ...) are aliases declared
on the resources (`domain/tai/*`).

`message` asks Tai (a job, `tai.message`, run by `conductors/tai.py`): it waits (bounded)
and answers 201 with the answer, or 202 with the job and its events URL (SSE: `progress`,
`token`, `result`) when it is still running or `?wait=false`; `?stream=true` answers the
job's event stream itself.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Query, Request
from sse_starlette import EventSourceResponse

from api import PREFIX
from api import jobs as jobs_api
from api.deps import ID_PATTERN, CompanyCtx, company_ctx, module_gate, on_string
from api.responses import Envelope, EnvelopeResponse, errors, ok
from api.routing import LeanRoute
from domain import resources
from domain.context import Ctx
from domain.fields import QueryBool
from domain.modules import licences
from domain.tai import chat, ci_tokens, triage

gated = APIRouter(prefix=f"{PREFIX}/tai", dependencies=module_gate("tai"), route_class=LeanRoute)
ci = APIRouter(prefix=f"{PREFIX}/tai", route_class=LeanRoute)

FAILURE_EXAMPLE = {
    "test_id": "tests/e2e/invoices/totals.spec.ts::applies line discounts",
    "test_name": "applies line discounts",
    "file": "tests/e2e/invoices/totals.spec.ts",
    "suite": "invoices",
    "error_type": "AssertionError",
    "message": "expected total 108.00 for invoice 6745a1c2e4b0f3a9d2c81e57, got 120.00",
    "stack": "AssertionError: expected total 108.00\n"
    "    at checkTotal (/ci/app/tests/e2e/invoices/totals.spec.ts:41:11)\n"
    "    at applyDiscounts (/ci/app/src/invoices/discounts.ts:18:3)",
    "run_id": "run-8812",
    "commit": "3f9c2ab",
    "branch": "main",
    "environment": "staging",
    "attempt": 1,
    "passed_on_retry": False,
}
FailureBody = Annotated[
    triage.FailureIn, Body(openapi_examples={"failure": {"value": FAILURE_EXAMPLE}})
]

MessageBody = Annotated[
    chat.MessageIn,
    Body(
        openapi_examples={
            "question": {"value": {"message": "Which bugs are open in invoices?"}},
            "follow_up": {
                "value": {
                    "message": "And how is the sprint going?",
                    "thread_id": "6745a1c2e4b0f3a9d2c81e57",
                }
            },
        }
    ),
]


@gated.post(
    "/message",
    status_code=201,
    summary="Ask Tai a question",
    tags=["Tai Dev Lifecycle"],
    description="Tai answers from the tracker (bugs, features, sprints, roadmap, log), every "
    "figure and id checked against the computed facts; labelled offline when no model is "
    "configured. A job (`tai.message`): 201 with the answer when it finished within the "
    "wait; 202 with the job and its events URL (`/api/jobs/{id}/events`, SSE: `progress`, "
    "`token`, `result`) when still running or `wait=false`; 200 with the job when it ended "
    "without an answer (its `error` says why). `stream=true` answers the event stream "
    "itself (the job id in `X-Job-Id`). Send the answer's `thread_id` to continue the "
    "conversation.",
    response_model=Envelope[chat.AnswerOut],
    responses={
        **errors(400, 401, 403, 503, codes={503: ("queue_unavailable",)}),
        200: {
            "model": Envelope[jobs_api.Submitted],
            "description": "The job ended without an answer: its `error` says why",
        },
        202: {"model": Envelope[jobs_api.Submitted], "description": "Still running"},
    },
)
async def message(
    body: MessageBody,
    ctx: CompanyCtx,
    request: Request,
    wait: Annotated[QueryBool, Query(description="Wait (bounded) for the answer")] = True,
    stream: Annotated[QueryBool, Query(description="Answer the job's SSE stream")] = False,
) -> Any:
    job_input = await chat.prepare(ctx, body)
    if stream:
        submission = await jobs_api.run(request, ctx, chat.KIND, job_input, wait=False)
        job_id = submission.job["id"]
        events: EventSourceResponse = await jobs_api.events(job_id, ctx, request, None)
        events.status_code = 201
        events.headers["X-Job-Id"] = job_id
        return events
    submission = await jobs_api.run(request, ctx, chat.KIND, job_input, wait)
    if submission.job["status"] == "succeeded":
        return ok(submission.job["result"], status=201)
    return submission.answer()


async def _ci_or_member(request: Request) -> Ctx:
    """A CI token's context (its company, member) or the caller's, with the module checked."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() == "bearer" and token.startswith(ci_tokens.PREFIX):
        store = request.app.state.services.store
        ctx = await ci_tokens.ctx_of(store, token)
        request.state.company_id = ctx.company_id
    else:
        ctx = await company_ctx(request)
    licences.check(await licences.load(ctx.store, ctx.company_id), "tai")
    return ctx


@ci.post(
    "/e2e-fix",
    status_code=201,
    summary="Auto-create bug from E2E failure",
    tags=["Tai Dev Lifecycle"],
    description="One failed CI test, triaged into a deduplicated bug: the same fingerprint "
    "adds an occurrence to the same bug (`created` false), a fixed bug failing again on a "
    "new commit is regressed, a failure that passed on retry marks the bug flaky. A repeat "
    "of a post (same run, test and attempt) is not counted twice (`counted` false). "
    "Authenticate with a company CI token (`Authorization: Bearer tai_ci_...`, from "
    "`POST /api/tai/ci-tokens`) or a member's login token.",
    response_model=Envelope[triage.TriageOut],
    responses=errors(
        400, 401, 403, 409, codes={401: ("ci_token_invalid",), 403: ("module_disabled",)}
    ),
    openapi_extra={"security": [{"HTTPBearer": []}]},
)
async def e2e_fix(
    body: FailureBody,
    request: Request,
    x_company_id: Annotated[
        str | None,
        Header(
            alias="X-Company-Id",
            description="With a login token: the company (default: your first); a CI token "
            "names its own",
            json_schema_extra=on_string(pattern=ID_PATTERN),
        ),
    ] = None,
) -> EnvelopeResponse:
    ctx = await _ci_or_member(request)
    resources.authorize(ctx, "member")
    outcome = await triage.triage(ctx, body)
    await jobs_api.enqueue_deferred(request, ctx)  # the webhooks of a new or regressed bug
    return ok(outcome, status=201)


router = APIRouter()
router.include_router(gated)
router.include_router(ci)
