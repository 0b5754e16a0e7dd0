"""The job queue: ARQ underneath, msgpack payloads, a wake-up signal on enqueue, and the
liveness keys by which workers tell each other (and `/api/ai-insights/status`) they are alive.

ARQ's worker polls its queue; between polls ours blocks on a wake-up list instead of
sleeping, so a job starts within milliseconds of its enqueue without a busy poll.

Enqueue is bounded: with Redis down (refused) or paused (no answer), `enqueue` raises
`QueueUnavailable` within ENQUEUE_TIMEOUT_S and one brief retry (ENQUEUE_RETRY_S) instead
of waiting on the pool's connection retries; the caller then ends the stored record
(`api/jobs.py`: failed, `queue_unavailable`) so no record is left queued without an ARQ
job. A record failed this way whose enqueue did reach Redis after all is never run: a
worker claims only queued or running records.

The job record is also the outbox: `dispatch_stranded` enqueues every record still queued
DISPATCH_AFTER_S after its creation (the API died between the commit and the enqueue, or
Valkey lost the job: its append-only file syncs once a second), and releases one a worker
took and died with before claiming its record (Valkey killed under it). ARQ enqueues an id at most
once while its job or result exists, so running it on every API replica, at start-up and
every DISPATCH_EVERY_S, never doubles a job.

ARQ's Redis key layout (`arq.constants`: the in-progress key, the abort set) is used here and
in the worker's seam (`workers/arq_seam.py`) only; `tests/jobs/test_arq_seam.py` pins it.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta

from arq import ArqRedis, create_pool
from arq.connections import RedisSettings
from arq.constants import abort_jobs_ss, in_progress_key_prefix
from arq.utils import timestamp_ms
from redis.exceptions import RedisError

from memory.serialization import dumps, loads
from memory.store import DocumentStore

ENQUEUE_TIMEOUT_S = 2.0
ENQUEUE_RETRY_S = 0.5
RETRY_AFTER_S = 5
DISPATCH_AFTER_S = 10.0
DISPATCH_EVERY_S = 30.0
DISPATCH_BATCH = 500

WAKE_KEY = "numbors:queue:wake"
WAKE_CAP = 64
TASK = "run_job"
WORKER_KEY = "numbors:worker:"
WORKER_TTL_S = 15


class QueueUnavailable(Exception):
    """Redis refused or did not answer the enqueue within ENQUEUE_TIMEOUT_S."""


class JobQueue:
    def __init__(self, pool: ArqRedis, queue_name: str):
        self.pool = pool
        self.queue_name = queue_name

    @classmethod
    async def connect(cls, url: str, queue_name: str) -> JobQueue:
        pool = await create_pool(
            RedisSettings.from_dsn(url),
            job_serializer=dumps,
            job_deserializer=loads,
            default_queue_name=queue_name,
        )
        return cls(pool, queue_name)

    async def enqueue(self, job_id: str, timeout_s: float = ENQUEUE_TIMEOUT_S) -> None:
        """Queue the stored job `job_id` (call only after its record has committed), or
        raise QueueUnavailable within `timeout_s` + ENQUEUE_RETRY_S.

        A first failure is tried once more, briefly, before it counts: the bound is wall
        time, so it also runs out while this process's event loop is busy with something
        else (a stretch of synchronous work of a second or more) though Redis answered in
        time. ARQ's enqueue is idempotent by job id, so a job the first try did queue is
        not queued twice."""
        try:
            await self._enqueue_once(job_id, timeout_s)
        except (TimeoutError, RedisError, OSError) as first:
            try:
                await self._enqueue_once(job_id, ENQUEUE_RETRY_S)
            except (TimeoutError, RedisError, OSError) as error:
                raise QueueUnavailable(
                    f"the job queue did not take job {job_id}: {first!r}, then {error!r}"
                ) from error
        # The job is queued; the wake-up only saves the worker's poll interval.
        with contextlib.suppress(TimeoutError, RedisError, OSError):
            async with asyncio.timeout(timeout_s):
                await self.wake()

    async def _enqueue_once(self, job_id: str, timeout_s: float) -> None:
        async with asyncio.timeout(timeout_s):
            await self.pool.enqueue_job(TASK, job_id, _job_id=job_id, _queue_name=self.queue_name)

    async def dispatch_stranded(
        self, store: DocumentStore, older_than_s: float = DISPATCH_AFTER_S
    ) -> int:
        """Enqueue the queued records ARQ lacks; how many it enqueued."""
        cutoff = (
            (datetime.now(UTC) - timedelta(seconds=older_than_s))
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z")
        )
        stranded = await store.find(
            "jobs",
            {"status": "queued", "created_at": {"$lt": cutoff}},
            sort=[("created_at", 1)],
            limit=DISPATCH_BATCH,
        )
        enqueued = 0
        for job in stranded:
            async with asyncio.timeout(ENQUEUE_TIMEOUT_S):
                found = await self.pool.enqueue_job(
                    TASK, job["_id"], _job_id=job["_id"], _queue_name=self.queue_name
                )
                if found is None and await self.pool.exists(in_progress_key_prefix + job["_id"]):
                    # taken by a worker that died before it claimed the record (a live one
                    # claims within milliseconds): let it be picked again now rather than
                    # when ARQ's in-progress key expires (the job timeout)
                    await self.release(job["_id"])
                    found = True
            enqueued += found is not None
        if enqueued:
            await self.wake()
        return enqueued

    async def wake(self) -> None:
        async with self.pool.pipeline(transaction=False) as pipe:
            pipe.lpush(WAKE_KEY, b"1")
            pipe.ltrim(WAKE_KEY, 0, WAKE_CAP - 1)
            await pipe.execute()

    async def abort(self, job_id: str) -> None:
        await self.pool.zadd(abort_jobs_ss, {job_id: timestamp_ms()})
        await self.wake()

    async def release(self, job_id: str) -> None:
        """Let a job held by a dead worker be picked again at once."""
        await self.pool.delete(in_progress_key_prefix + job_id)

    async def depth(self) -> int:
        return await self.pool.zcard(self.queue_name)

    # --- worker liveness --------------------------------------------------------------------

    async def announce(self, worker_id: str) -> None:
        """`worker_id` is alive for the next WORKER_TTL_S seconds."""
        await self.pool.set(WORKER_KEY + worker_id, b"1", ex=WORKER_TTL_S)

    async def retire(self, worker_id: str) -> None:
        await self.pool.delete(WORKER_KEY + worker_id)

    async def alive(self, worker_id: str) -> bool:
        return bool(await self.pool.exists(WORKER_KEY + worker_id))

    async def live_workers(self) -> int:
        """How many workers announced themselves within WORKER_TTL_S (on any queue)."""
        return len([key async for key in self.pool.scan_iter(match=WORKER_KEY + "*")])

    async def close(self) -> None:
        await self.pool.aclose()
