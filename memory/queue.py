"""The job queue: ARQ underneath, msgpack payloads, and a wake-up signal on enqueue.

ARQ's worker polls its queue; between polls ours blocks on a wake-up list instead of
sleeping, so a job starts within milliseconds of its enqueue without a busy poll.
"""

from __future__ import annotations

from arq import ArqRedis, create_pool
from arq.connections import RedisSettings
from arq.constants import abort_jobs_ss, in_progress_key_prefix
from arq.utils import timestamp_ms

from memory.serialization import dumps, loads

WAKE_KEY = "numbors:queue:wake"
WAKE_CAP = 64
TASK = "run_job"


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

    async def enqueue(self, job_id: str) -> None:
        """Queue the stored job `job_id` (call only after its record has committed)."""
        await self.pool.enqueue_job(TASK, job_id, _job_id=job_id, _queue_name=self.queue_name)
        await self.wake()

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

    async def close(self) -> None:
        await self.pool.aclose()
