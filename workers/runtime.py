"""How a job runs: the one ARQ task (`run_job`), the handle a conductor gets (`JobRun`), and
the worker loop that wakes on enqueue instead of sleeping between polls.

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
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from arq import Retry
from arq.worker import Worker

from domain import jobs
from memory.events import EventPublisher
from memory.queue import WAKE_KEY, JobQueue
from memory.store import DocumentStore

log = logging.getLogger("numbors.worker")
WORKER_KEY = "numbors:worker:"
WORKER_TTL_S = 15
LIVENESS_EVERY_S = 3.0


class TransientError(Exception):
    """A failure worth another attempt (a timeout, a 429 or 5xx from a model endpoint)."""


@dataclass
class JobRun:
    job: dict[str, Any]
    store: DocumentStore
    events: EventPublisher
    ctx: dict[str, Any]

    @property
    def id(self) -> str:
        return self.job["_id"]

    @property
    def input(self) -> dict[str, Any]:
        return self.job["input"]

    async def emit(self, type: str, data: Any) -> str:
        return await self.events.publish(self.id, type, data)

    async def progress(self, value: float, step: str) -> None:
        await jobs.set_progress(self.store, self.id, value)
        await self.emit("progress", {"progress": value, "step": step})


Handler = Callable[[JobRun], Awaitable[Any]]
HANDLERS: dict[str, Handler] = {}


def handler(kind: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        HANDLERS[kind] = fn
        return fn

    return register


def _error(error: BaseException) -> dict[str, Any]:
    return {"type": type(error).__name__, "message": str(error)[:2000]}


async def run_job(ctx: dict[str, Any], job_id: str) -> str:
    store: DocumentStore = ctx["store"]
    events: EventPublisher = ctx["events"]
    job = await jobs.claim(store, job_id, ctx["worker_id"])
    if job is None:
        return "already final"
    if job.get("cancel_requested"):
        await jobs.finish(store, job_id, "cancelled")
        await events.publish(job_id, "cancelled", {"status": "cancelled"})
        return "cancelled"
    run = JobRun(job, store, events, ctx)
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
        result = await fn(run)
    except asyncio.CancelledError:
        await asyncio.shield(_cancelled(store, events, job_id))
        raise
    except TransientError as error:
        if job["attempts"] < ctx["max_tries"]:
            await jobs.requeue(store, job_id, _error(error))
            delay = min(2 ** job["attempts"] * 0.5, 30)
            await run.emit("progress", {"step": "retrying", "in_s": delay, "error": _error(error)})
            raise Retry(defer=delay) from error
        await _failed(run, error)
        return "failed"
    except Exception as error:
        log.exception("job %s (%s) failed", job_id, job["kind"])
        await _failed(run, error)
        return "failed"
    if await jobs.finish(store, job_id, "succeeded", result=result) is not None:
        await run.emit("result", result)
    return "succeeded"


async def _cancelled(store: DocumentStore, events: EventPublisher, job_id: str) -> None:
    if await jobs.finish(store, job_id, "cancelled") is not None:
        await events.publish(job_id, "cancelled", {"status": "cancelled"})


async def _failed(run: JobRun, error: BaseException) -> None:
    if await jobs.finish(run.store, run.id, "failed", error=_error(error)) is not None:
        await run.emit("error", _error(error))


class NumborsWorker(Worker):
    """ARQ's worker, woken by `JobQueue.wake` instead of sleeping a fixed poll delay, and
    announcing itself alive so others can tell its jobs from a dead worker's."""

    def __init__(self, *args: Any, queue: JobQueue | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.ctx["worker_id"] = self.worker_id
        self._announced = 0.0

    async def main(self) -> None:
        if self._pool is None:
            from arq import create_pool

            self._pool = await create_pool(
                self.redis_settings,
                job_deserializer=self.job_deserializer,
                job_serializer=self.job_serializer,
                default_queue_name=self.queue_name,
                expires_extra_ms=self.expires_extra_ms,
            )
        self.ctx["redis"] = self.pool
        if self.on_startup:
            await self.on_startup(self.ctx)
        await self._announce()
        await self.reconcile()
        while True:
            await self._poll_iteration()
            if time.monotonic() - self._announced > LIVENESS_EVERY_S:
                await self._announce()
            if self.burst and await self.pool.zcard(self.queue_name) == 0:
                await asyncio.gather(*self.tasks.values())
                return
            await self.pool.blpop([WAKE_KEY], timeout=self.poll_delay_s)

    async def _announce(self) -> None:
        await self.pool.set(WORKER_KEY + self.worker_id, b"1", ex=WORKER_TTL_S)
        self._announced = time.monotonic()

    async def reconcile(self) -> None:
        """Jobs left running by a worker that is gone: release them to run again now."""
        live = {
            key.decode().removeprefix(WORKER_KEY)
            async for key in self.pool.scan_iter(match=WORKER_KEY + "*")
        }
        queue = JobQueue(self.pool, self.queue_name)
        for job in await jobs.orphans(self.ctx["store"], live):
            log.warning(
                "job %s was left running by %s; releasing it", job["_id"], job.get("worker")
            )
            await queue.release(job["_id"])

    async def close(self) -> None:
        if self._pool is not None:
            await self.pool.delete(WORKER_KEY + self.worker_id)
        await super().close()


async def live_workers(redis: Any) -> int:
    return len([key async for key in redis.scan_iter(match=WORKER_KEY + "*")])
