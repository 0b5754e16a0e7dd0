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
from arq.constants import in_progress_key_prefix, retry_key_prefix
from arq.utils import timestamp_ms
from arq.worker import Worker

from domain import jobs
from memory.events import EventPublisher
from memory.queue import WAKE_KEY, JobQueue
from memory.store import DocumentStore

log = logging.getLogger("numbors.worker")
WORKER_KEY = "numbors:worker:"
WORKER_TTL_S = 15
LIVENESS_EVERY_S = 3.0

# Takes up to ARGV[3] due jobs from the queue (KEYS[1]) in one round trip: a job is due when
# its score is at most ARGV[1] and nobody holds its in-progress key, which is then set for
# ARGV[2] ms. Answers [id, score, id, score, ...]. ARQ's own `start_jobs` does the same per
# job with WATCH/EXISTS/ZSCORE/MULTI, four round trips each, and spends them again on every
# poll for each job it is itself still running (those stay in the queue until they finish).
# KEYS[2] is the in-progress key prefix: the ids are only known inside the script, which is
# fine on one Redis/Valkey server (not on a cluster, which ARQ does not support either).
TAKE_JOBS = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'WITHSCORES', 'LIMIT', 0,
                       tonumber(ARGV[4]))
local taken = {}
local wanted = tonumber(ARGV[3])
for i = 1, #due, 2 do
    if #taken >= 2 * wanted then break end
    local key = KEYS[2] .. due[i]
    if redis.call('SET', key, '1', 'PX', ARGV[2], 'NX') then
        taken[#taken + 1] = due[i]
        taken[#taken + 1] = due[i + 1]
    end
end
return taken
"""


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
        # Our own deadline, shorter than ARQ's: a job that runs too long fails (TimeoutError)
        # instead of surfacing as a CancelledError that would read as a cancel request.
        async with asyncio.timeout(ctx.get("job_timeout_s")):
            result = await fn(run)
    except asyncio.CancelledError:
        await asyncio.shield(_interrupted(store, events, job_id))
        raise
    except TransientError as error:
        if job["attempts"] < ctx["max_tries"]:
            await jobs.requeue(store, job_id, _error(error))
            delay = min(2 ** job["attempts"] * 0.5, 30)
            log.info("job %s (%s) retries in %.1fs: %s", job_id, job["kind"], delay, error)
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
        self._take_jobs = self.pool.register_script(TAKE_JOBS)
        if self.on_startup:
            await self.on_startup(self.ctx)
        await self._announce()
        log.info(
            "worker %s: queue %s, up to %d jobs at once, functions: %s",
            self.worker_id,
            self.queue_name,
            self.max_jobs,
            ", ".join(self.functions),
        )
        await self.reconcile()
        while True:
            taken = await self._poll_iteration()
            if time.monotonic() - self._announced > LIVENESS_EVERY_S:
                await self._announce()
                # Not only at start: a worker killed moments ago still looks alive until its
                # liveness key expires (WORKER_TTL_S), and its jobs stay held by ARQ's
                # in-progress key for the whole job timeout unless someone releases them.
                await self.reconcile()
            if self.burst and await self.pool.zcard(self.queue_name) == 0:
                await asyncio.gather(*self.tasks.values())
                return
            if self.job_counter >= self.max_jobs and self.tasks:
                # Every slot is busy and a backlog wakes nobody (the wake-up list is capped):
                # poll again as soon as a slot frees instead of idling until the next wake-up.
                await asyncio.wait(
                    list(self.tasks.values()),
                    timeout=self.poll_delay_s,
                    return_when=asyncio.FIRST_COMPLETED,
                )
                continue
            if taken:  # it found work, so more may be due
                continue
            await self.pool.blpop([WAKE_KEY], timeout=self.poll_delay_s)

    async def _poll_iteration(self) -> int:
        """ARQ's poll, with the jobs taken by one script (`TAKE_JOBS`) instead of one by one.
        Answers how many it took (ARQ's `_jobs_started()` cannot tell: it also drops the
        tasks that finished meanwhile)."""
        taken: list[bytes] = []
        free = self.max_jobs - self.job_counter
        if self.burst and self.max_burst_jobs >= 0:
            free = min(free, self.max_burst_jobs - self._jobs_started())
        if self.allow_pick_jobs and free > 0:
            taken = await self._take_jobs(
                keys=[self.queue_name, in_progress_key_prefix],
                args=[
                    timestamp_ms(),
                    int(self.in_progress_timeout_s * 1000),
                    free,
                    self.queue_read_limit + self.job_counter,
                ],
            )
            for job_id_b, score in zip(taken[::2], taken[1::2], strict=True):
                await self.sem.acquire()
                self.job_counter += 1
                job_id = job_id_b.decode()
                task = self.loop.create_task(self.run_job(job_id, int(float(score))))
                task.add_done_callback(lambda _: self._release_sem_dec_counter_on_complete())
                self.tasks[job_id] = task
        if self.allow_abort_jobs:
            await self._cancel_aborted_jobs()
        for job_id, task in list(self.tasks.items()):
            if task.done():
                del self.tasks[job_id]
                task.result()  # propagates an error in ARQ's run_job
        await self.heart_beat()
        return len(taken) // 2

    async def finish_failed_job(self, job_id: str, result_data: bytes | None) -> None:
        """ARQ gave up on a job before `run_job` could run it: its tries used up (by workers
        that died holding it), its payload expired, or aborted before it started. End the
        record as well, or it would wait as queued or running for ever."""
        tries = await self.pool.get(retry_key_prefix + job_id)
        await super().finish_failed_job(job_id, result_data)
        store: DocumentStore = self.ctx["store"]
        job = await store.find_one("jobs", {"_id": job_id})
        if job is None or job["status"] in jobs.FINAL:
            return
        if job.get("cancel_requested"):
            await _cancelled(store, self.ctx["events"], job_id)
            return
        if tries is not None and int(tries) > self.max_tries:
            reason = f"its {self.max_tries} tries were used up by workers that stopped"
        else:
            reason = "it expired in the queue"
        error = {"type": "JobAbandoned", "message": f"the job did not run: {reason}"}
        if await jobs.finish(store, job_id, "failed", error=error) is not None:
            await self.ctx["events"].publish(job_id, "error", error)

    async def _announce(self) -> None:
        await self.pool.set(WORKER_KEY + self.worker_id, b"1", ex=WORKER_TTL_S)
        self._announced = time.monotonic()

    async def reconcile(self) -> None:
        """Jobs left running by a worker that is gone: release them to run again now.

        The record is handed back first with a conditional update naming the dead worker, and
        only the worker that wins it deletes ARQ's in-progress key: a reconciler holding a
        stale list can never release a job that another worker has meanwhile picked up."""
        store: DocumentStore = self.ctx["store"]
        queue = JobQueue(self.pool, self.queue_name)
        released = False
        for job in await jobs.orphans(store, self._alive):
            worker = job.get("worker")
            if job.get("cancel_requested"):  # its abort would stop it before it runs again
                await _cancelled(store, self.ctx["events"], job["_id"])
                continue
            if await jobs.release_orphan(store, job["_id"], worker):
                log.warning("job %s was left running by %s; releasing it", job["_id"], worker)
                await queue.release(job["_id"])
                released = True
        if released:
            await queue.wake()

    async def _alive(self, worker: str) -> bool:
        return worker == self.worker_id or bool(await self.pool.exists(WORKER_KEY + worker))

    async def close(self) -> None:
        if self._pool is not None:
            await self.pool.delete(WORKER_KEY + self.worker_id)
        await super().close()


async def live_workers(redis: Any) -> int:
    return len([key async for key in redis.scan_iter(match=WORKER_KEY + "*")])
