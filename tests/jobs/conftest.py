"""Fixtures of the job platform tests.

The session app (`client`) enqueues on the suite's Valkey; `worker` runs a real
`NumborsWorker` in this event loop on the same queue and the same SQLite file, for one test
module at a time. `live` serves the session app with a real uvicorn for SSE. `idle` is a
second app on a queue of its own that no worker consumes, for what must stay queued.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from redis.asyncio import Redis

from api.app import create_app
from memory.redis import open_redis
from settings import Settings
from tests.helpers import Account, data, register
from tests.jobs.support import run_worker, serve
from workers.runtime import NumborsWorker


@pytest.fixture(scope="module")
async def worker(app: FastAPI, settings: Settings) -> AsyncIterator[NumborsWorker]:
    async with run_worker(settings) as running:
        yield running


@pytest.fixture(scope="module")
async def live(app: FastAPI) -> AsyncIterator[str]:
    """The session app over real HTTP (its lifespan already ran: it is not run again)."""
    async with serve(app) as base:
        yield base


@pytest.fixture(scope="module")
async def http(live: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=live, timeout=30) as client:
        yield client


@pytest.fixture(scope="session")
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    connection = open_redis(redis_url)
    try:
        yield connection
    finally:
        await connection.aclose()


@pytest.fixture(scope="session")
async def jo(client: httpx.AsyncClient) -> Account:
    """The job tests' user; each test acts in a company of her own (`company`)."""
    return await register(client, name="Jo", company_name="Jo Jobs Ltd")


@pytest.fixture
async def company(jo: Account) -> Account:
    created = data(await jo.post("/api/companies", json={"name": "Job Co"}), 201)
    return jo.in_company(created["id"])


@pytest.fixture(scope="module")
async def idle(settings: Settings) -> AsyncIterator[FastAPI]:
    """An app whose queue no worker reads: its jobs stay queued."""
    own = settings.model_copy(update={"queue_name": f"numbors:test:idle:{uuid.uuid4().hex}"})
    application = create_app(own)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture(scope="module")
async def idle_client(idle: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=idle)
    async with httpx.AsyncClient(transport=transport, base_url="http://idle.test") as client:
        yield client
