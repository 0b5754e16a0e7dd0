"""`POST /api/tai/bugfix/runs/{id}/repairs/{proposal_id}/confirm`: applies a proposal's
repair. Written by hand because it acts on one proposal inside a run (two ids), not on a
resource or its item. The rest of the conductor is declared in `domain/bugfix/runs.py`:
starting a run (`POST /api/tai/bugfix/{domain}`, a job), the runs and the stats.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body

from api import PREFIX
from api.deps import CompanyCtx, id_path, module_gate
from api.responses import Envelope, EnvelopeResponse, errors, ok
from api.routing import LeanRoute
from domain.bugfix import runs

TAG = "Tai Bugfixer"

router = APIRouter(
    prefix=f"{PREFIX}/tai/bugfix",
    tags=[TAG],
    dependencies=module_gate("tai"),
    route_class=LeanRoute,
)


CONFIRM_EXAMPLE = {"note": "Checked against the bank statement"}


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
