"""The services container (`services.py`): built once with its settings at start-up, in the
API and in every worker, and what task code reads of ARQ's ctx (one key).

Regression: the worker built its world memory without its settings, so
`NUMBORS_FACTS_HOT_TTL_S`, `NUMBORS_FACTS_HOT_MAX` and `NUMBORS_FACT_MAX_BYTES` were ignored in
workers (the defaults applied: 600 s, 1,000 facts, 64 KiB). A real worker, started as
`python -m workers` starts one, now applies each of them to what its jobs write and read.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from redis.asyncio import Redis

from api.app import create_app
from domain import jobs
from domain.jobkit import HANDLERS, JobRun
from memory.queue import JobQueue
from memory.world import InvalidFact, hot_key
from services import Services
from settings import Settings
from tests.helpers import Account, data, expect_error
from tests.jobs.support import as_client, ctx_of, eventually, run_worker, services
from workers.runtime import SERVICES, services_of

LIMITS = {"facts_hot_ttl_s": 123, "facts_hot_max": 2, "fact_max_bytes": 64}


@pytest.fixture
def limited(settings: Settings) -> Settings:
    """The suite's settings with world-memory limits far from the defaults, on a queue of
    its own."""
    return settings.model_copy(
        update={"queue_name": f"numbors:test:{uuid.uuid4().hex[:10]}", **LIMITS}
    )


async def test_the_workers_world_memory_honours_its_settings(
    app: FastAPI,
    company: Account,
    limited: Settings,
    redis: Redis,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def limits(run: JobRun[Services]) -> dict[str, Any]:
        world, cid = run.services.world, run.job["company_id"]
        out: dict[str, Any] = {}
        try:
            await world.put(cid, "test/limits", "big", {"text": "x" * 100}, "test")
            out["big"] = "stored"
        except InvalidFact as error:
            out["big"] = str(error)
        for i in range(2):
            await world.put(cid, "test/limits", f"k{i}", {"i": i}, "test")
        await redis.delete(hot_key(cid))
        out["two"] = len(await world.recall(cid))  # 2 live facts: the hot copy fills
        out["ttl"] = await redis.ttl(hot_key(cid))
        await world.put(cid, "test/limits", "k2", {"i": 2}, "test")
        await redis.delete(hot_key(cid))
        out["three"] = len(await world.recall(cid))  # 3 > facts_hot_max: from the store
        out["hot_after_three"] = await redis.exists(hot_key(cid))
        return out

    monkeypatch.setitem(HANDLERS, "test-world-limits", limits)
    job = await jobs.create_job(ctx_of(app, company), "test-world-limits", {})
    assert limited.redis_url
    queue = await JobQueue.connect(limited.redis_url, limited.queue_name)
    try:
        async with run_worker(limited) as worker:
            world = services_of(worker.ctx).world
            assert (world.hot_ttl_s, world.hot_max, world.max_value_bytes) == (123, 2, 64)
            await queue.enqueue(job["_id"])
            done = await eventually(lambda: _final(app, job["_id"]))
    finally:
        await queue.close()
    assert done["status"] == "succeeded", done
    result = done["result"]
    assert result["big"] == "the value is 111 bytes; the limit is 64"  # default: 65,536
    assert result["two"] == 2 and 100 < result["ttl"] <= 123  # default: 600 s
    assert result["three"] == 3 and result["hot_after_three"] == 0  # default: 1,000 facts


async def _final(app: FastAPI, job_id: str) -> dict[str, Any] | None:
    job = await services(app).store.find_one("jobs", {"_id": job_id})
    return job if job is not None and job["status"] in jobs.FINAL else None


async def test_task_code_reads_one_key_of_arqs_ctx(limited: Settings) -> None:
    async with run_worker(limited) as worker:
        # ARQ's own `redis`, and the container: nothing else is put in the ctx.
        assert set(worker.ctx) == {"redis", SERVICES}
        built = services_of(worker.ctx)
        assert built is worker.services and built.worker_id == worker.worker_id
        assert built.settings is limited and built.hub is None
        assert built.queue is not None and built.queue.pool is worker.pool
    assert worker.services is None  # closed with the worker
    with pytest.raises(RuntimeError, match="services"):
        services_of({})


@pytest.fixture
async def limited_api(limited: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(limited)
    async with application.router.lifespan_context(application):
        yield application


async def test_the_api_builds_its_services_once_with_the_settings(
    limited_api: FastAPI, limited: Settings, company: Account
) -> None:
    built = services(limited_api)
    assert built.settings is limited
    world = built.world
    assert (world.hot_ttl_s, world.hot_max, world.max_value_bytes) == (123, 2, 64)
    assert built.world.store is built.store and built.world.redis is built.redis
    assert built.hub is not None and built.queue is not None and built.worker_id is None

    transport = httpx.ASGITransport(app=limited_api)
    async with httpx.AsyncClient(transport=transport, base_url="http://limited.test") as c:
        me = as_client(company, c)
        fact = {"namespace": "test/limits", "key": "k", "value": {"i": 1}}
        data(await me.post("/api/ai-insights/shared", json=fact), 201)
        big = {**fact, "value": {"text": "x" * 100}}
        error = expect_error(
            await me.post("/api/ai-insights/shared", json=big), 400, "invalid_fact"
        )
        assert "the limit is 64" in error["message"]
        assert services(limited_api) is built  # requests found the same container
