"""`POST /api/banking/feeds/connections/{id}/sync`: the issue's path for a connection's sync,
which a `JobOperation` cannot mount (its path takes no id). A thin alias of
`POST /api/banking/feeds/sync` (`domain/bankfeeds/sync.py`'s `SYNC`): the same checks
(`prepare`), the same job, the same answers: 200 with the finished job within the wait, 202
with the job and its events URL (SSE) when still running or `wait=false`."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from api import PREFIX
from api import jobs as jobs_api
from api.deps import CompanyCtx, id_path, module_gate
from api.responses import Envelope, errors
from api.routing import LeanRoute
from domain import resources
from domain.bankfeeds import sync
from domain.bankfeeds.connections import CONNECTIONS
from domain.fields import QueryBool

router = APIRouter(
    prefix=f"{PREFIX}/banking/feeds/connections",
    dependencies=module_gate("banking"),
    route_class=LeanRoute,
)


@router.post(
    "/{id}/sync",
    summary="Sync this bank feed connection (a job)",
    tags=["Banking"],
    description="Pages the connection's provider from its cursor and imports each line once; "
    "progress over SSE. 200 with the finished job when it ended within the wait; 202 with the "
    "job and its events URL (`/api/jobs/{id}/events`, SSE) when it is still running or "
    "`wait=false`.",
    response_model=Envelope[jobs_api.Submitted],
    responses={
        **errors(400, 401, 403, 404, 409, 503, codes={409: ("not_a_feed",)}),
        202: {"model": Envelope[jobs_api.Submitted], "description": "Still running"},
    },
)
async def sync_connection(
    id: Annotated[str, id_path("bank feed connection")],
    ctx: CompanyCtx,
    request: Request,
    wait: Annotated[
        QueryBool, Query(description="Wait (bounded) for the result; false answers 202 at once")
    ] = True,
) -> Any:
    resources.authorize(ctx, sync.SYNC.role)
    conn = await resources.fetch(ctx, CONNECTIONS, id)  # 400 malformed; 404 unknown or theirs
    job_input = await sync.SYNC.prepare(ctx, sync.SyncIn(connection_id=conn["_id"]))
    return await jobs_api.submit(request, ctx, sync.SYNC_KIND, job_input, wait)
