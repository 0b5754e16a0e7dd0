"""The bank-feed jobs: `bankfeeds.sync` (page a connection's provider) and `bankfeeds.import`
(a statement file), run by a worker for the job's creator in the job's company.

Events: `progress` per page and per 500 lines evaluated, then the runtime's `result` (the
counts: added, replaced, skipped, removed, and per status). A provider's rate limit becomes
a `TransientError` with its Retry-After, so the runtime reschedules the job then instead of
failing it; a source that keeps changing while it is paged is retried the same way. Both are
safe to retry: lines and cursor are written in one transaction and deduplicated by key
(`domain/bankfeeds/sync.py`).
"""

from __future__ import annotations

from typing import Any

from domain.bankfeeds import sync
from domain.bankfeeds.providers import RateLimited
from domain.context import Ctx
from domain.errors import Conflict
from domain.jobkit import JobRun, TransientError, handler


def _ctx(run: JobRun[Any]) -> Ctx:
    job = run.job
    return Ctx(
        store=run.store, user_id=job["created_by"], company_id=job["company_id"], role="member"
    )


@handler(sync.SYNC_KIND)
async def run_sync(run: JobRun[Any]) -> dict[str, Any]:
    await run.progress(0.0, "started")
    try:
        result = await sync.sync(
            _ctx(run), run.input["connection_id"], job_id=run.id, progress=run.progress
        )
    except RateLimited as error:
        raise TransientError(str(error), retry_after=error.retry_after) from error
    except Conflict as error:
        if error.code == "sync_conflict":
            raise TransientError(str(error)) from error
        raise
    await run.progress(1.0, "done")
    return result


@handler(sync.IMPORT_KIND)
async def run_import(run: JobRun[Any]) -> dict[str, Any]:
    await run.progress(0.0, "started")
    job_input = run.input
    result = await sync.import_statement(
        _ctx(run),
        job_input["connection_id"],
        job_input["format"],
        job_input["content"],
        job_id=run.id,
        progress=run.progress,
    )
    await run.progress(1.0, "done")
    return result
