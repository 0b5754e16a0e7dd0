"""Enqueue with Valkey down (killed) or paused (SIGSTOP): 503 `queue_unavailable` with
Retry-After within the queue's bound, and the job record ended failed (never left queued
without an ARQ job). A real Valkey process of the test's own, so killing it hurts no one."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from api.app import create_app
from domain import jobs
from domain.context import Ctx
from memory.queue import ENQUEUE_TIMEOUT_S
from settings import Settings
from tests.helpers import Account, data, expect_error, register
from tests.servers import ValkeyProcess


@pytest.fixture
def valkey(tmp_path: Path) -> Iterator[ValkeyProcess]:
    server = ValkeyProcess(tmp_path)
    try:
        yield server
    finally:
        if server.process.poll() is None:
            os.kill(server.process.pid, signal.SIGCONT)
            server.stop()


@pytest.fixture
async def application(settings: Settings, valkey: ValkeyProcess) -> AsyncIterator[FastAPI]:
    own = settings.model_copy(update={"redis_url": valkey.url, "queue_name": "numbors:q:down"})
    app: FastAPI = create_app(own)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def account(application: FastAPI) -> AsyncIterator[Account]:
    transport = httpx.ASGITransport(app=application)
    async with httpx.AsyncClient(transport=transport, base_url="http://down.test") as c:
        yield await register(c, name="Queue Down", company_name="Queue Down Ltd")


async def submit_noop(account: Account) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = await account.post(
        "/api/jobs", json={"kind": "noop", "input": {}}, params={"wait": "false"}
    )
    return response, time.monotonic() - started


async def assert_refused_and_failed(
    account: Account, enqueued: frozenset[str] = frozenset()
) -> None:
    """One refused enqueue; the only queued records are those ARQ took (`enqueued`)."""
    response, took = await submit_noop(account)
    error = expect_error(response, 503, "queue_unavailable")
    assert response.headers["Retry-After"].isdigit()
    assert took < ENQUEUE_TIMEOUT_S + 2, f"enqueue took {took:.1f} s"
    job_id = error["details"][0]["job_id"]
    job = data(await account.get(f"/api/jobs/{job_id}"))
    assert job["status"] == "failed", job
    queued = data(await account.get("/api/jobs", params={"status": "queued"}))
    assert {j["id"] for j in queued} == enqueued, "a record was left queued without an ARQ job"


async def test_valkey_killed_answers_503_and_fails_the_record(
    account: Account, valkey: ValkeyProcess
) -> None:
    response, _ = await submit_noop(account)
    assert response.status_code == 202, response.text
    enqueued = frozenset({response.json()["data"]["job"]["id"]})
    valkey.process.kill()
    valkey.process.wait()
    for _ in range(3):
        await assert_refused_and_failed(account, enqueued)


async def test_valkey_paused_answers_503_within_the_bound(
    account: Account, valkey: ValkeyProcess
) -> None:
    os.kill(valkey.process.pid, signal.SIGSTOP)
    try:
        await assert_refused_and_failed(account)
    finally:
        os.kill(valkey.process.pid, signal.SIGCONT)
    response, _ = await submit_noop(account)
    assert response.status_code == 202, "the queue did not come back with Valkey"


async def test_the_record_is_the_outbox(application: FastAPI, account: Account) -> None:
    """A record committed but never enqueued (the API died in between, or Valkey lost it) is
    enqueued by the dispatcher, once however often it runs."""
    services = application.state.services
    ctx = Ctx(store=services.store, user_id=account.user_id, company_id=account.company_id,
              role="owner")  # fmt: skip
    stranded = await jobs.create_job(ctx, "noop", {})
    queue = services.queue
    assert await queue.pool.zscore(queue.queue_name, stranded["_id"]) is None
    await queue.dispatch_stranded(services.store, older_than_s=60)  # too young for it
    assert await queue.pool.zscore(queue.queue_name, stranded["_id"]) is None
    assert await queue.dispatch_stranded(services.store, older_than_s=0) >= 1
    assert await queue.pool.zscore(queue.queue_name, stranded["_id"]) is not None
    assert await queue.dispatch_stranded(services.store, older_than_s=0) == 0  # ARQ has it
