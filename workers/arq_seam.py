"""The seam: the one module that touches ARQ's private worker internals.

Our worker replaces ARQ's poll loop (`Worker.main`, `Worker._poll_iteration`,
`Worker.start_jobs`) so that it takes due jobs with one Redis script per poll and wakes on
enqueue instead of sleeping, and it hooks `Worker.finish_failed_job` to end the record of a
job ARQ drops. Doing that means using what ARQ keeps for itself: its semaphore (`sem`), job
counter (`job_counter`), task map (`tasks`), `_pool`, `_jobs_started()`,
`_release_sem_dec_counter_on_complete()`, `_cancel_aborted_jobs()`, `heart_beat()` and
its Redis key layout (`arq.constants`).

The choice (issue 8): confine that access here rather than pin ARQ exactly. A pin
(`arq==0.28.0`) would hold back every fix ARQ ships and still leave the private access
spread through the runtime; confined, an upgrade can break only this file, and
`tests/jobs/test_arq_seam.py` checks the installed ARQ against it: every private name in
`ARQ_INTERNALS` exists with the meaning used here, the key layout the script relies on is
unchanged, and the ARQ functions this module re-implements (`REPLACED`) are byte-for-byte
the ones it was written against (a fingerprint of their source), so an ARQ release that
changes any of them fails that test by name, to be re-read before the fingerprint moves.

Subclasses (`workers.runtime.NumborsWorker`) see only the hooks `started`,
`between_polls` and `abandoned`, the `connected` property and ARQ's public attributes
(`pool`, `ctx`, `queue_name`, `max_tries`, ...).
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect

from arq import create_pool
from arq.constants import in_progress_key_prefix, retry_key_prefix
from arq.utils import timestamp_ms
from arq.worker import Worker

from memory.queue import WAKE_KEY

# Private names of `arq.worker.Worker` used below (checked against the installed ARQ).
ARQ_INTERNALS = (
    "_pool",
    "sem",
    "job_counter",
    "tasks",
    "loop",
    "in_progress_timeout_s",
    "queue_read_limit",
    "allow_pick_jobs",
    "max_burst_jobs",
    "_jobs_started",
    "_release_sem_dec_counter_on_complete",
    "_cancel_aborted_jobs",
    "heart_beat",
    "run_job",
    "finish_failed_job",
)
# ARQ functions this module re-implements, wraps or relies on the exact behaviour of, with the
# fingerprint of their source in the ARQ it was written against (0.28.0).
REPLACED = {
    "main": "45ca1591c9717466",
    "_poll_iteration": "f8d39d823a0a59f2",
    "start_jobs": "b45797cfa40bed7f",
    "finish_failed_job": "3e16087f318a7acf",
    "_jobs_started": "c5643370c110c7cd",
    "_release_sem_dec_counter_on_complete": "0ed101482e942c33",
    "_cancel_aborted_jobs": "54575eaf8682f95b",
}


def fingerprint(name: str) -> str:
    """The first 16 hex digits of the sha256 of the installed ARQ's `Worker.<name>` source."""
    return hashlib.sha256(inspect.getsource(getattr(Worker, name)).encode()).hexdigest()[:16]


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


class SeamWorker(Worker):
    """ARQ's worker with our poll loop: woken by `JobQueue.wake` instead of sleeping a fixed
    poll delay, taking due jobs with one script (`TAKE_JOBS`)."""

    # --- hooks for the subclass -------------------------------------------------------------

    async def started(self) -> None:
        """Connected to Redis (`pool`), before the first poll."""

    async def between_polls(self) -> None:
        """After every poll."""

    async def abandoned(self, job_id: str, tries: int | None) -> None:
        """ARQ gave up on `job_id` without running our task (its tries used up, its payload
        expired, aborted before it started); `tries` is how many ARQ had counted."""

    @property
    def connected(self) -> bool:
        return self._pool is not None

    # --- the loop -------------------------------------------------------------------------

    async def main(self) -> None:
        if self._pool is None:
            self._pool = await create_pool(
                self.redis_settings,
                job_deserializer=self.job_deserializer,
                job_serializer=self.job_serializer,
                default_queue_name=self.queue_name,
                expires_extra_ms=self.expires_extra_ms,
            )
        self.ctx["redis"] = self.pool  # as ARQ's own main does (our tasks do not read it)
        self._take_jobs = self.pool.register_script(TAKE_JOBS)
        await self.started()
        while True:
            taken = await self._poll_iteration()
            await self.between_polls()
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

    async def _poll_iteration(self) -> int:  # type: ignore[override]
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
        tries = await self.pool.get(retry_key_prefix + job_id)
        await super().finish_failed_job(job_id, result_data)
        await self.abandoned(job_id, int(tries) if tries is not None else None)

    async def cancel_running(self) -> None:
        """Cancel the jobs this worker is running and let them settle, as on SIGTERM (ARQ's
        `close()` gathers the job tasks and would re-raise their cancellation)."""
        running = list(self.tasks.values())
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
        self.tasks.clear()
