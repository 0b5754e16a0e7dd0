"""The bug-fix conductor over HTTP: `POST /api/tai/bugfix/{domain}` starts a run (a job), and
`POST /api/tai/bugfix/runs/{id}/repairs/{proposal_id}/confirm` applies a proposal's repair.

Written by hand because a declared job operation's path takes no parameter (the machinery
could grow path parameters on `JobOperation`), and because confirming a repair acts on a
run's proposal, not on a resource a client creates. Runs are read at
`GET /api/tai/bugfix/runs` and stats at `GET /api/tai/bugfix/stats` (both declared in
`domain/bugfix/runs.py`).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Request
from pydantic import ConfigDict, Field

from api import PREFIX
from api import jobs as jobs_api
from api.deps import CompanyCtx, id_path, module_gate
from api.responses import Envelope, EnvelopeResponse, errors, ok
from api.routing import LeanRoute
from domain.bugfix import runs
from domain.fields import Input, QueryBool
from domain.resources import authorize

TAG = "Tai Bugfixer"

router = APIRouter(
    prefix=f"{PREFIX}/tai/bugfix",
    tags=[TAG],
    dependencies=module_gate("tai"),
    route_class=LeanRoute,
)


class BugfixIn(Input):
    model_config = ConfigDict(extra="forbid")
    note: str | None = Field(None, max_length=500, description="Why the run was started")


RUN_EXAMPLE = {"note": "Payments look wrong after the import"}
CONFIRM_EXAMPLE = {"note": "Checked against the bank statement"}


@router.post(
    "/{domain}",
    status_code=200,
    summary="Create a tai bugfix",
    description="Starts a run of the bug-fix conductor over the domain's open bugs: collect, "
    "group, localise (frames, endpoints, the domain's invariants checked on the data), "
    "diagnose (grounded), propose (fix plan, reproduction, repair plan), validate, persist "
    "(bugs triaged with their proposal). 200 with the finished job when it ended within "
    "the wait; 202 with the job and its events URL (SSE) when it is still running or "
    "`wait=false`. A run never changes data.",
    response_model=Envelope[jobs_api.Submitted],
    responses={
        **errors(400, 401, 403, 503, codes={400: ("unknown_domain",)}),
        202: {"model": Envelope[jobs_api.Submitted], "description": "Still running"},
    },
)
async def start_run(
    domain: Annotated[
        str,
        Path(
            pattern=r"^[A-Za-z][A-Za-z0-9_-]{0,63}$",
            description="A product area: invoicing, inventory, payroll, ...",
        ),
    ],
    ctx: CompanyCtx,
    request: Request,
    wait: Annotated[
        QueryBool, Query(description="Wait (bounded) for the result; false answers 202 at once")
    ] = True,
    body: Annotated[
        BugfixIn, Body(openapi_examples={"example": {"value": RUN_EXAMPLE}})
    ] = BugfixIn(),
) -> EnvelopeResponse:
    authorize(ctx, "member")
    name = await runs.check_domain(ctx, domain)
    job_input: dict[str, Any] = {"domain": name, "note": body.note}
    return await jobs_api.submit(request, ctx, runs.KIND, job_input, wait)


@router.post(
    "/runs/{id}/repairs/{proposal_id}/confirm",
    summary="Confirm a proposed data repair",
    description="Applies the repair a run proposed, atomically: only while the row still "
    "holds what the run saw, re-checking the invariant before it commits, with an audit row "
    "and Tai's log. Owners and admins only.",
    response_model=Envelope[dict[str, Any]],
    responses=errors(
        400,
        401,
        403,
        404,
        409,
        codes={409: ("no_repair", "repair_applied", "repair_stale", "repair_not_restored")},
    ),
)
async def confirm(
    id: Annotated[str, id_path("bug-fix run")],
    proposal_id: Annotated[str, id_path("proposal")],
    ctx: CompanyCtx,
    body: Annotated[
        runs.ConfirmIn, Body(openapi_examples={"example": {"value": CONFIRM_EXAMPLE}})
    ] = runs.ConfirmIn(),
) -> EnvelopeResponse:
    return ok(await runs.confirm_repair(ctx, id, proposal_id, body.note))
