"""The worker runtime: transient failures retried with backoff, failures and timeouts, a worker
stopped mid-job (the job runs again), and jobs left running by a dead worker (reconciled).

Each test runs real `NumborsWorker`s in this event loop on a queue of its own, so it decides
exactly which workers exist. Test-only job kinds are registered in `domain.jobkit.HANDLERS`
and their records created with `domain.jobs.create_job`, as an enqueueing area would.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
from arq.constants import in_progress_key_prefix, retry_key_prefix
from fastapi import FastAPI
from redis.asyncio import Redis

from domain import jobs
from domain.jobkit import HANDLERS, JobRun, TransientError
from memory.events import stream_key
from memory.queue import WORKER_KEY, JobQueue
from settings import Settings
from tests.helpers import Account
from tests.jobs.support import ctx_of, eventually, run_worker, services, xrange_ids
from workers import runtime

FINAL = ("succeeded", "failed", "cancelled")
TERMINAL = ("result", "error", "cancelled")


def own_queue(settings: Settings, **changes: Any) -> Settings:
    return settings.model_copy(
        update={"queue_name": f"numbors:test:{uuid.uuid4().hex[:10]}", **changes}
    )


@pytest.fixture
async def queue_settings(settings: Settings) -> Settings:
    return own_queue(settings)


@pytest.fixture
async def queue(queue_settings: Settings) -> AsyncIterator[JobQueue]:
    assert queue_settings.redis_url
    connected = await JobQueue.connect(queue_settings.redis_url, queue_settings.queue_name)
    try:
        yield connected
    finally:
        await connected.close()


async def create(app: FastAPI, account: Account, kind: str, input: dict | None = None) -> str:
    job = await jobs.create_job(ctx_of(app, account), kind, input or {})
    return job["_id"]


async def record(app: FastAPI, job_id: str) -> dict[str, Any]:
    found = await services(app).store.find_one("jobs", {"_id": job_id})
    assert found is not None
    return found


async def final(app: FastAPI, job_id: str, within: float = 15) -> dict[str, Any]:
    """The record once it is final and its terminal event is on its stream."""

    async def done() -> dict[str, Any] | None:
        job = await record(app, job_id)
        if job["status"] not in FINAL:
            return None
        rows = await xrange_ids(services(app).redis, job_id)
        return job if rows and rows[-1][1] in TERMINAL else None

    return await eventually(done, within=within, every=0.02)


def ms(stream_id: str) -> int:
    return int(stream_id.partition("-")[0])


# --- retries --------------------------------------------------------------------------------


async def test_a_transient_failure_is_retried_with_backoff_then_succeeds(
    app: FastAPI,
    company: Account,
    queue_settings: Settings,
    queue: JobQueue,
    redis: Redis,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def flaky(run: JobRun[Any]) -> dict[str, Any]:
        if run.job["attempts"] < 2:
            raise TransientError("the model endpoint answered 503")
        return {"attempt": run.job["attempts"]}

    monkeypatch.setitem(HANDLERS, "test-flaky", flaky)
    job_id = await create(app, company, "test-flaky")
    async with run_worker(queue_settings):
        await queue.enqueue(job_id)
        job = await final(app, job_id)

    assert job["status"] == "succeeded"
    assert job["attempts"] == 2
    assert job["result"] == {"attempt": 2}
    rows = await xrange_ids(redis, job_id)
    assert [t for _, t in rows] == ["status", "progress", "status", "result"]
    events = {i: e for i, e in await _events(redis, job_id)}
    retrying = events[rows[1][0]]
    assert retrying["step"] == "retrying" and retrying["in_s"] == 1.0
    assert retrying["error"]["type"] == "TransientError"
    assert events[rows[2][0]] == {"status": "running", "attempt": 2}
    waited = ms(rows[2][0]) - ms(rows[1][0])
    assert waited >= 950, f"retried after {waited} ms, before its backoff of 1 s"


async def test_transient_failures_stop_after_max_tries(
    app: FastAPI,
    company: Account,
    settings: Settings,
    redis: Redis,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def down(run: JobRun[Any]) -> None:
        raise TransientError(f"still down (attempt {run.job['attempts']})")

    monkeypatch.setitem(HANDLERS, "test-down", down)
    own = own_queue(settings, job_max_tries=2)
    assert own.redis_url
    queue = await JobQueue.connect(own.redis_url, own.queue_name)
    try:
        job_id = await create(app, company, "test-down")
        async with run_worker(own):
            await queue.enqueue(job_id)
            job = await final(app, job_id)
    finally:
        await queue.close()
    assert job["status"] == "failed"
    assert job["attempts"] == 2
    assert job["error"] == {"type": "TransientError", "message": "still down (attempt 2)"}
    assert [t for _, t in await xrange_ids(redis, job_id)] == [
        "status",
        "progress",
        "status",
        "error",
    ]


async def test_a_job_whose_tries_ran_out_before_it_ran_ends_failed(
    app: FastAPI,
    company: Account,
    queue_settings: Settings,
    queue: JobQueue,
    redis: Redis,
) -> None:
    """Workers that died holding a job used up its tries: ARQ drops it without calling our
    task, and the record must not stay queued for ever."""
    ran: list[str] = []
    job_id = await create(app, company, "noop")
    await redis.set(retry_key_prefix + job_id, queue_settings.job_max_tries + 1)
    async with run_worker(queue_settings):
        await queue.enqueue(job_id)
        job = await final(app, job_id)
        ran.extend(t for _, t in await xrange_ids(redis, job_id))
    assert job["status"] == "failed"
    assert job["attempts"] == 0  # our task never claimed it
    assert job["error"]["type"] == "JobAbandoned"
    assert "tries were used up" in job["error"]["message"]
    assert ran == ["error"]


async def test_an_exception_fails_the_job_at_once(
    app: FastAPI,
    company: Account,
    queue_settings: Settings,
    queue: JobQueue,
    redis: Redis,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def broken(run: JobRun[Any]) -> None:
        raise ValueError("the ledger does not balance")

    monkeypatch.setitem(HANDLERS, "test-broken", broken)
    job_id = await create(app, company, "test-broken")
    async with run_worker(queue_settings):
        await queue.enqueue(job_id)
        job = await final(app, job_id)
    assert job["status"] == "failed" and job["attempts"] == 1
    assert job["error"] == {"type": "ValueError", "message": "the ledger does not balance"}
    assert job.get("result") is None
    events = await _events(redis, job_id)
    assert [e for _, e in events][-1] == job["error"]


async def test_a_job_past_its_timeout_fails_it_is_not_cancelled(
    app: FastAPI, company: Account, settings: Settings, redis: Redis
) -> None:
    own = own_queue(settings, job_timeout_s=1)
    assert own.redis_url
    queue = await JobQueue.connect(own.redis_url, own.queue_name)
    try:
        job_id = await create(app, company, "sleep", {"seconds": 10})
        async with run_worker(own):
            await queue.enqueue(job_id)
            job = await final(app, job_id)
    finally:
        await queue.close()
    assert job["status"] == "failed", job
    assert job["error"]["type"] == "TimeoutError"
    assert [t for _, t in await xrange_ids(redis, job_id)][-1] == "error"


async def test_an_unknown_kind_fails(
    app: FastAPI, company: Account, queue_settings: Settings, queue: JobQueue
) -> None:
    job_id = await create(app, company, "test-no-such-kind")
    async with run_worker(queue_settings):
        await queue.enqueue(job_id)
        job = await final(app, job_id)
    assert job["status"] == "failed"
    assert job["error"]["type"] == "UnknownKind"


# --- workers that stop or die ---------------------------------------------------------------


async def test_a_worker_stopped_mid_job_leaves_it_to_run_again(
    app: FastAPI, company: Account, queue_settings: Settings, queue: JobQueue, redis: Redis
) -> None:
    """Regression: a worker's shutdown (SIGTERM) cancels its tasks, and the CancelledError
    was taken for a cancel request: the job ended `cancelled` and never ran again."""
    job_id = await create(app, company, "sleep", {"seconds": 1})
    async with run_worker(queue_settings):
        await queue.enqueue(job_id)
        await eventually(lambda: _progressed(app, job_id))
    stopped = await record(app, job_id)
    assert stopped["status"] == "queued", stopped
    assert stopped["error"]["type"] == "WorkerStopped"

    async with run_worker(queue_settings):
        job = await final(app, job_id)
    assert job["status"] == "succeeded"
    assert job["attempts"] == 2
    assert job["result"] == {"slept_s": 1.0}
    types = [t for _, t in await xrange_ids(redis, job_id)]
    assert types.count("result") == 1 and types[-1] == "result"
    assert "cancelled" not in types


async def _progressed(app: FastAPI, job_id: str) -> bool:
    return (await record(app, job_id))["progress"] > 0


async def _left_by_a_dead_worker(
    app: FastAPI, redis: Redis, queue: JobQueue, job_id: str, worker: str
) -> None:
    """What a SIGKILLed worker leaves: the record running under its name, ARQ's job still in
    the queue with its in-progress key (which lives for the whole job timeout) and its try."""
    await services(app).store.update_one(
        "jobs",
        {"_id": job_id},
        {"$set": {"status": "running", "worker": worker, "attempts": 1, "started_at": "x"}},
    )
    await redis.psetex(in_progress_key_prefix + job_id, 300_000, b"1")
    await redis.set(retry_key_prefix + job_id, b"1", ex=3600)
    await queue.enqueue(job_id)


async def test_a_starting_worker_reruns_a_dead_workers_job(
    app: FastAPI, company: Account, queue_settings: Settings, queue: JobQueue, redis: Redis
) -> None:
    job_id = await create(app, company, "noop", {"echo": 1})
    await _left_by_a_dead_worker(app, redis, queue, job_id, "gone:1:dead00")
    async with run_worker(queue_settings):
        job = await final(app, job_id, within=5)
    assert job["status"] == "succeeded"
    assert job["attempts"] == 2
    assert job["result"] == {"ok": True, "echo": 1}


async def test_a_worker_killed_moments_ago_is_reconciled_once_its_liveness_expires(
    app: FastAPI,
    company: Account,
    queue_settings: Settings,
    queue: JobQueue,
    redis: Redis,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Regression: reconciling only at start missed a worker killed less than its liveness
    TTL ago, and ARQ's in-progress key then held the job for the whole job timeout."""
    monkeypatch.setattr(runtime, "LIVENESS_EVERY_S", 0.2)
    dead = "gone:2:dead01"
    await redis.set(WORKER_KEY + dead, b"1", ex=60)  # still looks alive
    job_id = await create(app, company, "noop", {"echo": 2})
    await _left_by_a_dead_worker(app, redis, queue, job_id, dead)
    async with run_worker(queue_settings):
        await asyncio.sleep(0.6)
        assert (await record(app, job_id))["status"] == "running", "released a live worker's job"
        await redis.pexpire(WORKER_KEY + dead, 300)  # its liveness runs out
        job = await final(app, job_id, within=10)
    assert job["status"] == "succeeded" and job["attempts"] == 2


async def test_a_live_workers_job_is_left_alone(
    app: FastAPI,
    company: Account,
    queue_settings: Settings,
    queue: JobQueue,
    redis: Redis,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(runtime, "LIVENESS_EVERY_S", 0.1)
    busy = "busy:3:alive0"
    await redis.set(WORKER_KEY + busy, b"1", ex=30)
    job_id = await create(app, company, "noop")
    await _left_by_a_dead_worker(app, redis, queue, job_id, busy)
    try:
        async with run_worker(queue_settings):
            await asyncio.sleep(1.0)
            job = await record(app, job_id)
        assert job["status"] == "running" and job["worker"] == busy and job["attempts"] == 1
    finally:
        await redis.delete(WORKER_KEY + busy)
        await services(app).store.update_one(
            "jobs", {"_id": job_id}, {"$set": {"status": "cancelled"}}
        )


async def test_a_dead_workers_job_with_a_cancel_request_ends_cancelled(
    app: FastAPI, company: Account, queue_settings: Settings, queue: JobQueue, redis: Redis
) -> None:
    job_id = await create(app, company, "sleep", {"seconds": 5})
    await _left_by_a_dead_worker(app, redis, queue, job_id, "gone:4:dead02")
    await services(app).store.update_one(
        "jobs", {"_id": job_id}, {"$set": {"cancel_requested": True}}
    )
    await queue.abort(job_id)
    async with run_worker(queue_settings):
        job = await final(app, job_id, within=5)
    assert job["status"] == "cancelled"
    assert [t for _, t in await xrange_ids(redis, job_id)] == ["cancelled"]


async def _events(redis: Redis, job_id: str) -> list[tuple[str, Any]]:
    rows = await redis.xrange(stream_key(job_id))
    return [(i.decode(), orjson.loads(f[b"data"])) for i, f in rows]
