"""Jobs: heavy work the API hands to workers. A job is a stored record (this module) and an
ARQ job with the same id (`memory/queue.py`), company-scoped like every other object.

Statuses: queued -> running -> succeeded | failed | cancelled (a transient failure goes back
to queued for another attempt). The record is written and committed before the job is
enqueued, so a worker never picks up a job it cannot read.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from domain.context import Ctx
from domain.errors import Conflict
from domain.fields import Input
from domain.resources import Declared, JobOperation, Resource, Server, fetch, present
from memory.ids import new_id, utcnow
from memory.store import CollectionSpec, DocumentStore, declare

Status = Literal["queued", "running", "succeeded", "failed", "cancelled"]
FINAL = frozenset({"succeeded", "failed", "cancelled"})

declare(
    CollectionSpec(
        "jobs",
        fields=("company_id", "kind", "status", "created_at", "worker"),
        indexes=(
            ("company_id", "created_at"),
            ("company_id", "updated_at"),
            ("company_id", "kind", "status"),
            ("company_id", "status"),
            ("status",),
        ),
    )
)


class JobFields(Declared):
    """A job is written by the platform only: every field is the server's."""

    kind: Server[str]
    status: Server[Status]
    progress: Server[float]
    input: Server[dict[str, Any]]
    result: Server[Any] = None
    error: Server[dict[str, Any] | None] = Field(
        None, description="Why the job failed, or why its current attempt is being retried"
    )
    attempts: Server[int]
    attempt_errors: Server[list[dict[str, Any]]] = Field(
        default_factory=list, description="The errors of earlier attempts that were retried"
    )
    started_at: Server[str | None] = None
    finished_at: Server[str | None] = None
    cancel_requested: Server[bool] = False


def _public(job: dict[str, Any]) -> dict[str, Any]:
    """A job as its company sees it: which worker process holds it is the platform's affair."""
    return {k: v for k, v in job.items() if k != "worker"}


JOBS = Resource(
    name="jobs",
    label="job",
    collection="jobs",
    module=None,  # every company has jobs; the area that enqueues one gates its own routes
    tag="Jobs",
    fields=JobFields,
    filters={"kind": "eq", "status": "eq"},
    sort=("created_at", "updated_at"),
    default_sort="-created_at",
    date_field="created_at",
    operations=("list", "get"),
    present=_public,
)
JobOut = JOBS.read


class JobIn(Input):
    kind: Literal["noop", "sleep"] = Field(description="Platform jobs; areas enqueue their own")
    input: dict[str, Any] = Field(default_factory=dict)


async def _platform_input(ctx: Ctx, body: JobIn) -> dict[str, Any]:
    return body.input


PLATFORM_JOBS = JobOperation(
    path="jobs",
    summary="Run a platform job (noop, sleep)",
    module=None,
    tag="Jobs",
    kind=lambda body: body.kind,
    input=JobIn,
    prepare=_platform_input,
    example={"kind": "sleep", "input": {"seconds": 0.1}},
    description="`noop` answers at once; `sleep` waits `input.seconds` (for trying the queue).",
)


async def create_job(ctx: Ctx, kind: str, input: dict[str, Any]) -> dict[str, Any]:
    now = utcnow()
    job = {
        "_id": new_id(),
        "company_id": ctx.company_id,
        "kind": kind,
        "status": "queued",
        "progress": 0.0,
        "input": input,
        "attempts": 0,
        "created_by": ctx.user_id,
        "created_at": now,
        "updated_at": now,
    }
    await ctx.store.insert_one("jobs", job)
    return job


async def defer(ctx: Ctx, kind: str, input: dict[str, Any]) -> dict[str, Any]:
    """A job that a write asks for, recorded in the write's transaction: it exists exactly
    when the write commits. The API enqueues it once the request's writes have committed
    (`ctx.deferred`); if that fails (or the write ran in a worker), the outbox dispatcher
    enqueues the committed record within its period."""
    job = await create_job(ctx, kind, input)
    ctx.deferred.append(job["_id"])
    return job


async def get_job(ctx: Ctx, job_id: str) -> dict[str, Any]:
    return present(JOBS, await fetch(ctx, JOBS, job_id))


async def request_cancel(ctx: Ctx, job_id: str) -> dict[str, Any]:
    """Mark the job for cancellation. A queued job is cancelled at once; a running one by its
    worker within a second (it stores no partial result)."""
    async with ctx.store.transaction():
        job = await fetch(ctx, JOBS, job_id)
        if job["status"] in FINAL:
            raise Conflict(f"the job already {job['status']}", code="job_finished")
        changes: dict[str, Any] = {"cancel_requested": True, "updated_at": utcnow()}
        if job["status"] == "queued":
            changes.update(status="cancelled", finished_at=utcnow())
        job = await ctx.store.update_one("jobs", ctx.scope(_id=job_id), {"$set": changes})
    assert job is not None
    return present(JOBS, job)


# --- what workers do with the record (no company context: they act for the job) ---------


async def claim(store: DocumentStore, job_id: str, worker: str) -> dict[str, Any] | None:
    """Move a queued (or orphaned running) job to running; None when it is already final."""
    now = utcnow()
    return await store.update_one(
        "jobs",
        {"_id": job_id, "status": {"$in": ["queued", "running"]}},
        {
            "$set": {"status": "running", "worker": worker, "started_at": now, "updated_at": now},
            "$inc": {"attempts": 1},
        },
    )


async def finish(
    store: DocumentStore,
    job_id: str,
    status: str,
    *,
    result: Any = None,
    error: dict[str, Any] | None = None,
) -> dict[str, Any] | None:
    changes: dict[str, Any] = {"status": status, "finished_at": utcnow(), "updated_at": utcnow()}
    if status == "succeeded":
        # An earlier attempt's error is history (`attempt_errors`), not the job's state.
        changes.update(result=result, progress=1.0, error=None)
    if error is not None:
        changes["error"] = error
    return await store.update_one(
        "jobs", {"_id": job_id, "status": {"$nin": list(FINAL)}}, {"$set": changes}
    )


async def requeue(store: DocumentStore, job_id: str, error: dict[str, Any]) -> None:
    await store.update_one(
        "jobs",
        {"_id": job_id, "status": "running"},
        {
            "$set": {"status": "queued", "error": error, "updated_at": utcnow()},
            "$push": {"attempt_errors": error},
        },
    )


async def set_progress(store: DocumentStore, job_id: str, progress: float) -> None:
    await store.update_one(
        "jobs", {"_id": job_id}, {"$set": {"progress": progress, "updated_at": utcnow()}}
    )


async def orphans(
    store: DocumentStore, alive: Callable[[str], Awaitable[bool]]
) -> list[dict[str, Any]]:
    """Running jobs whose worker is not alive. The records are read before liveness is
    checked: a worker announces itself before it claims, so a job claimed after this read is
    not in the list, and one claimed before it names a worker that is seen alive."""
    running = await store.find("jobs", {"status": "running"})
    return [job for job in running if not await alive(str(job.get("worker")))]


async def release_orphan(store: DocumentStore, job_id: str, worker: str | None) -> bool:
    """Hand a dead worker's job back to the queue; False when it has moved on meanwhile."""
    released = await store.update_one(
        "jobs",
        {"_id": job_id, "status": "running", "worker": worker},
        {"$set": {"status": "queued", "worker": None, "updated_at": utcnow()}},
    )
    return released is not None


def final_event(job: dict[str, Any]) -> tuple[str, str, Any]:
    """The terminal event of a finished job, rebuilt from its record (id, type, data) for a
    client arriving after its event stream expired. Its id is the finish time, so a client
    holding it can be told it has everything."""
    stamp = job.get("finished_at") or job["updated_at"]
    finished = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    event_id = f"{int(finished.timestamp() * 1000)}-0"
    if job["status"] == "succeeded":
        return event_id, "result", job.get("result")
    if job["status"] == "cancelled":
        return event_id, "cancelled", {"status": "cancelled"}
    return event_id, "error", job.get("error") or {"message": "the job failed"}
