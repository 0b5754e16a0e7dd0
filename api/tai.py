"""Tai's spec paths that the declarations cannot mount themselves: the singular write paths
(`POST /api/tai/bug`, `/api/tai/feature`, `/api/tai/sprint`), the `PATCH` updates and the
feature's `link-bug`, CI's `POST /api/tai/e2e-fix` (authenticated by a company CI token,
`domain/tai/ci_tokens.py`, or a member's login: so it is on a router of its own, which
checks the module itself), and `POST /api/tai/message`.

Each is a thin alias over the declared resource's own operation (`domain/tai/*`): the same
Create/Update models, hooks, lifecycle and errors as `POST /api/tai/bugs`, `PUT
/api/tai/features/{id}`, `POST /api/tai/features/{id}/link-bug` (the machinery mounts
plural paths and PUT; a PATCH here is that PUT: only the fields sent change, a `status`
moves through the lifecycle's action).

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
from api.deps import ID_PATTERN, CompanyCtx, company_ctx, id_path, module_gate, on_string
from api.responses import Envelope, EnvelopeResponse, errors, ok
from api.routing import LeanRoute
from domain import resources
from domain.context import Ctx
from domain.errors import Unavailable
from domain.fields import QueryBool
from domain.modules import licences
from domain.resources import Resource
from domain.resources.examples import openapi_example
from domain.tai import bugs, chat, ci_tokens, features, sprints, triage, webhooks

gated = APIRouter(prefix=f"{PREFIX}/tai", dependencies=module_gate("tai"), route_class=LeanRoute)
ci = APIRouter(prefix=f"{PREFIX}/tai", route_class=LeanRoute)

LIFECYCLE_409 = {409: ("invalid_transition",)}


def _example(resource: Resource, name: str = "example") -> Any:
    return Body(openapi_examples={name: {"value": openapi_example(resource.example)}})


def _changes(resource: Resource) -> Any:
    example = openapi_example(resource.example) or {}
    first = next(iter(example.items()))
    return Body(openapi_examples={"change": {"value": dict([first])}})


BugCreate = Annotated[bugs.BUGS.create, _example(bugs.BUGS)]  # type: ignore[name-defined]
FeatureCreate = Annotated[features.FEATURES.create, _example(features.FEATURES)]  # type: ignore[name-defined]
FeatureUpdate = Annotated[features.FEATURES.update, _changes(features.FEATURES)]  # type: ignore[name-defined]
SprintCreate = Annotated[sprints.SPRINTS.create, _example(sprints.SPRINTS)]  # type: ignore[name-defined]
SprintUpdate = Annotated[sprints.SPRINTS.update, _changes(sprints.SPRINTS)]  # type: ignore[name-defined]
LinkBody = Annotated[
    features.LinkBugIn,
    Body(openapi_examples={"link": {"value": {"bug_id": "6745a1c2e4b0f3a9d2c81e57"}}}),
]
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
FeatureId = Annotated[str, id_path("feature")]
SprintId = Annotated[str, id_path("sprint")]


def _data(model: Any, **fields: Any) -> Any:
    return model.model_dump(mode="json", **fields)


async def _send_webhooks(request: Request, ctx: Ctx) -> None:
    """After an event's commit: enqueue the job that sends the company's pending webhook
    deliveries (none registered: nothing). A queue that is down leaves them pending for the
    next event; the change itself has committed, so the answer does not fail."""
    if not await ctx.store.count(webhooks.DELIVERIES, ctx.scope(status="pending")):
        return
    try:
        await jobs_api.run(request, ctx, webhooks.KIND, {}, wait=False)
    except Unavailable:
        return


@gated.post(
    "/bug",
    status_code=201,
    summary="Report a bug",
    tags=["Tai Dev Lifecycle"],
    description="The same as `POST /api/tai/bugs`: a bug reported by hand.",
    response_model=Envelope[bugs.BUGS.read],  # type: ignore[name-defined]
    responses=errors(400, 401, 403, 409),
)
async def report_bug(body: BugCreate, ctx: CompanyCtx, request: Request) -> EnvelopeResponse:
    created = await resources.create_document(ctx, bugs.BUGS, _data(body, exclude_none=True))
    await _send_webhooks(request, ctx)
    return ok(created, status=201)


@gated.post(
    "/feature",
    status_code=201,
    summary="Add a feature",
    tags=["Tai Features"],
    description="The same as `POST /api/tai/features`.",
    response_model=Envelope[features.FEATURES.read],  # type: ignore[name-defined]
    responses=errors(400, 401, 403, 409),
)
async def add_feature(body: FeatureCreate, ctx: CompanyCtx) -> EnvelopeResponse:
    created = await resources.create_document(
        ctx, features.FEATURES, _data(body, exclude_none=True)
    )
    return ok(created, status=201)


@gated.patch(
    "/feature/{featureId}",
    summary="Update a tai feature",
    tags=["Tai Features"],
    description="Changes the fields sent (the same as `PUT /api/tai/features/{id}`); a "
    "`status` moves the feature through its lifecycle.",
    response_model=Envelope[features.FEATURES.read],  # type: ignore[name-defined]
    responses=errors(400, 401, 403, 404, 409, codes=LIFECYCLE_409),
)
async def update_feature(
    featureId: FeatureId, body: FeatureUpdate, ctx: CompanyCtx
) -> EnvelopeResponse:
    resources.check_id(features.FEATURES, featureId)
    changes = _data(body, exclude_unset=True)
    return ok(await resources.update_document(ctx, features.FEATURES, featureId, changes))


@gated.post(
    "/feature/{featureId}/link-bug",
    status_code=201,
    summary="Create a tai feature link bug",
    tags=["Tai Features"],
    description="Links a bug of this company to the feature and answers the bug; a second "
    "link of the same bug is 409 (`already_linked`, or `linked_elsewhere`).",
    response_model=Envelope[bugs.BUGS.read],  # type: ignore[name-defined]
    responses=errors(400, 401, 403, 404, 409, codes={409: ("already_linked", "linked_elsewhere")}),
)
async def link_bug(featureId: FeatureId, body: LinkBody, ctx: CompanyCtx) -> EnvelopeResponse:
    action = features.FEATURES.action("link-bug")
    return ok(await resources.act(ctx, features.FEATURES, action, featureId, body), status=201)


@gated.post(
    "/sprint",
    status_code=201,
    summary="Create a sprint",
    tags=["Tai Sprints"],
    description="The same as `POST /api/tai/sprints`: a future sprint.",
    response_model=Envelope[sprints.SPRINTS.read],  # type: ignore[name-defined]
    responses=errors(400, 401, 403, 409),
)
async def create_sprint(body: SprintCreate, ctx: CompanyCtx) -> EnvelopeResponse:
    created = await resources.create_document(ctx, sprints.SPRINTS, _data(body, exclude_none=True))
    return ok(created, status=201)


@gated.patch(
    "/sprint/{sprintId}",
    summary="Update a tai sprint",
    tags=["Tai Sprints"],
    description="Changes the fields sent; `status: active` starts the sprint (409 "
    "`sprint_active` while another is active), `status: closed` completes it (its unfinished "
    "items move to the next future sprint, or the backlog).",
    response_model=Envelope[sprints.SPRINTS.read],  # type: ignore[name-defined]
    responses=errors(
        400,
        401,
        403,
        404,
        409,
        codes={409: ("invalid_transition", "sprint_active", "sprint_closed")},
    ),
)
async def update_sprint(
    sprintId: SprintId, body: SprintUpdate, ctx: CompanyCtx, request: Request
) -> EnvelopeResponse:
    resources.check_id(sprints.SPRINTS, sprintId)
    changes = _data(body, exclude_unset=True)
    updated = await resources.update_document(ctx, sprints.SPRINTS, sprintId, changes)
    if changes.get("status") == "closed":
        await _send_webhooks(request, ctx)
    return ok(updated)


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
    if outcome["created"] or outcome["regressed"]:
        await _send_webhooks(request, ctx)
    return ok(outcome, status=201)


router = APIRouter()
router.include_router(gated)
router.include_router(ci)
