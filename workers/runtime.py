"""How a job runs: the one ARQ task (`run_job`) that hands a job to its conductor's handler
(`domain.jobkit`), and the worker (`NumborsWorker`) that builds the process's services, keeps
itself announced alive and releases the jobs of workers that died.

Task code reads ARQ's `ctx` through one key: `ctx["services"]` is the worker's `Services`
container (`services_of`), put there once at start-up. ARQ's private internals are touched
only by `workers/arq_seam.py`, which this worker extends through its hooks.

Idempotency: a job's record is claimed before its conductor runs and finished with a
conditional update, so a retry after a crash never finishes it twice; conductors write their
effects under ids derived from the job id, so a re-run writes nothing twice.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from typing import Any

from arq import Retry

from domain import jobs
from domain.errors import DomainError
from domain.jobkit import HANDLERS, JobRun, TransientError
from memory.events import EventPublisher
from memory.queue import JobQueue
from memory.store import DocumentStore
from services import Services, for_worker
from settings import Settings
from workers.arq_seam import SeamWorker

log = logging.getLogger("numbors.worker")
LIVENESS_EVERY_S = 3.0
SERVICES = "services"  # the one key of ARQ's ctx that our tasks read


def services_of(ctx: dict[str, Any]) -> Services:
    """The worker's services, from the ctx ARQ hands to every task."""
    found = ctx.get(SERVICES)
    if not isinstance(found, Services):
        raise RuntimeError("the worker's services are not in ARQ's ctx: run a NumborsWorker")
    return found


def _error(error: BaseException) -> dict[str, Any]:
    if isinstance(error, DomainError):
        # A rule the job's input broke (409 overlap, 400 reference): the client's to fix.
        return {
            "type": type(error).__name__,
            "code": error.code,
            "message": error.message[:2000],
            "details": error.details[:50],
        }
    return {"type": type(error).__name__, "message": str(error)[:2000]}


async def run_job(ctx: dict[str, Any], job_id: str) -> str:
    services = services_of(ctx)
    store, events = services.store, services.events
    assert events is not None and services.worker_id is not None  # a worker always has them
    settings = services.settings
    job = await jobs.claim(store, job_id, services.worker_id)
    if job is None:
        return "already final"
    if job.get("cancel_requested"):
        await jobs.finish(store, job_id, "cancelled")
        await events.publish(job_id, "cancelled", {"status": "cancelled"})
        return "cancelled"
    run = JobRun(job, store, events, services, settings.job_max_tries)
    fn = HANDLERS.get(job["kind"])
    if fn is None:
        await jobs.finish(
            store,
            job_id,
            "failed",
            error={"type": "UnknownKind", "message": f"no handler for {job['kind']}"},
        )
        await run.emit("error", {"message": f"no handler for job kind {job['kind']}"})
        return "failed"
    await run.emit("status", {"status": "running", "attempt": job["attempts"]})
    try:
        # Our own deadline, shorter than ARQ's: a job that runs too long fails (TimeoutError)
        # instead of surfacing as a CancelledError that would read as a cancel request.
        async with asyncio.timeout(settings.job_timeout_s):
            result = await fn(run)
    except asyncio.CancelledError:
        await asyncio.shield(_interrupted(store, events, job_id))
        raise
    except TransientError as error:
        if not run.last_attempt:
            await jobs.requeue(store, job_id, _error(error))
            delay = error.retry_after or min(2 ** job["attempts"] * 0.5, 30)
            log.info("job %s (%s) retries in %.1fs: %s", job_id, job["kind"], delay, error)
            await run.emit("progress", {"step": "retrying", "in_s": delay, "error": _error(error)})
            raise Retry(defer=delay) from error
        await _failed(run, error)
        return "failed"
    except DomainError as error:
        log.info("job %s (%s) refused: %s %s", job_id, job["kind"], error.code, error.message)
        await _failed(run, error)
        return "failed"
    except Exception as error:
        log.exception("job %s (%s) failed", job_id, job["kind"])
        await _failed(run, error)
        return "failed"
    if await jobs.finish(store, job_id, "succeeded", result=result) is not None:
        await run.emit("result", result)
    return "succeeded"


async def _interrupted(store: DocumentStore, events: EventPublisher, job_id: str) -> None:
    """The job's task was cancelled: by a cancel request (ARQ abort; the job ends cancelled)
    or by its worker stopping (SIGTERM; ARQ runs the job again, so it goes back to queued)."""
    current = await store.find_one("jobs", {"_id": job_id})
    if current is not None and current.get("cancel_requested"):
        await _cancelled(store, events, job_id)
    else:
        await jobs.requeue(
            store, job_id, {"type": "WorkerStopped", "message": "its worker stopped; runs again"}
        )


async def _cancelled(store: DocumentStore, events: EventPublisher, job_id: str) -> None:
    if await jobs.finish(store, job_id, "cancelled") is not None:
        await events.publish(job_id, "cancelled", {"status": "cancelled"})


async def _failed(run: JobRun[Any], error: BaseException) -> None:
    if await jobs.finish(run.store, run.id, "failed", error=_error(error)) is not None:
        await run.emit("error", _error(error))


class NumborsWorker(SeamWorker):
    """ARQ's worker on the seam's poll loop, with the platform's services built once at
    start-up from `settings`, announcing itself alive so others can tell its jobs from a dead
    worker's."""

    def __init__(self, *args: Any, settings: Settings, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.settings = settings
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.services: Services | None = None
        self._announced = 0.0

    @property
    def queue(self) -> JobQueue:
        return JobQueue(self.pool, self.queue_name)

    async def started(self) -> None:
        self.services = await for_worker(self.settings, self.pool, self.worker_id)
        self.ctx[SERVICES] = self.services
        await self._announce()
        log.info(
            "worker %s: queue %s, up to %d jobs at once, functions: %s",
            self.worker_id,
            self.queue_name,
            self.max_jobs,
            ", ".join(self.functions),
        )
        await self.reconcile()

    async def between_polls(self) -> None:
        if time.monotonic() - self._announced > LIVENESS_EVERY_S:
            await self._announce()
            # Not only at start: a worker killed moments ago still looks alive until its
            # liveness key expires (WORKER_TTL_S), and its jobs stay held by ARQ's
            # in-progress key for the whole job timeout unless someone releases them.
            await self.reconcile()

    async def abandoned(self, job_id: str, tries: int | None) -> None:
        """ARQ gave up on a job before `run_job` could run it: its tries used up (by workers
        that died holding it), its payload expired, or aborted before it started. End the
        record as well, or it would wait as queued or running for ever."""
        store, events = self._services().store, self._events()
        job = await store.find_one("jobs", {"_id": job_id})
        if job is None or job["status"] in jobs.FINAL:
            return
        if job.get("cancel_requested"):
            await _cancelled(store, events, job_id)
            return
        if tries is not None and tries > self.max_tries:
            reason = f"its {self.max_tries} tries were used up by workers that stopped"
        else:
            reason = "it expired in the queue"
        error = {"type": "JobAbandoned", "message": f"the job did not run: {reason}"}
        if await jobs.finish(store, job_id, "failed", error=error) is not None:
            await events.publish(job_id, "error", error)

    async def _announce(self) -> None:
        await self.queue.announce(self.worker_id)
        self._announced = time.monotonic()

    async def reconcile(self) -> None:
        """Jobs left running by a worker that is gone: release them to run again now.

        The record is handed back first with a conditional update naming the dead worker, and
        only the worker that wins it deletes ARQ's in-progress key: a reconciler holding a
        stale list can never release a job that another worker has meanwhile picked up."""
        store, events, queue = self._services().store, self._events(), self.queue
        released = False
        for job in await jobs.orphans(store, self._alive):
            worker = job.get("worker")
            if job.get("cancel_requested"):  # its abort would stop it before it runs again
                await _cancelled(store, events, job["_id"])
                continue
            if await jobs.release_orphan(store, job["_id"], worker):
                log.warning("job %s was left running by %s; releasing it", job["_id"], worker)
                await queue.release(job["_id"])
                released = True
        if released:
            await queue.wake()

    async def _alive(self, worker: str) -> bool:
        return worker == self.worker_id or await self.queue.alive(worker)

    def _services(self) -> Services:
        if self.services is None:
            raise RuntimeError("the worker has not started")
        return self.services

    def _events(self) -> EventPublisher:
        events = self._services().events
        assert events is not None  # a worker's services always publish
        return events

    async def close(self) -> None:
        if self.connected:
            await self.queue.retire(self.worker_id)
        await super().close()
        if self.services is not None:
            await self.services.close()
            self.services = None
