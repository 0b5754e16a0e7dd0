"""Fixtures of the support chat tests: a fresh company per test (with its public key), a
visitor client with no token, chat limits loose enough for the suite (one test sets its
own), and an in-process worker: offline by default, or on the fake OpenAI server."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from domain.support.limits import ChatLimits, Policy
from settings import Settings
from tests.accounting.conftest import books, new_company, owner
from tests.helpers import Account, data
from tests.jobs.support import run_worker
from workers.runtime import NumborsWorker

__all__ = ["books", "new_company", "owner"]

LOOSE = Policy(
    per_address="100000/minute",
    per_session="1000/minute",
    per_session_daily="100000/day",
    reads_per_address="100000/minute",
)


@pytest.fixture(autouse=True)
def loose_limits(app: FastAPI, settings: Settings) -> None:
    """Every chat of the suite comes from one address: loose limits, their own keys."""
    if not getattr(app.state, "support_limits_loose", False):
        app.state.support_limits = ChatLimits(
            settings.redis_url, LOOSE, prefix=f"numbors:test:support:{uuid.uuid4().hex}"
        )
        app.state.support_limits_loose = True


@pytest.fixture(scope="module")
def offline(settings: Settings) -> Settings:
    return settings.model_copy(update={"llm_base_url": None, "llm_api_key": None})


@pytest.fixture(scope="module")
async def worker(app: FastAPI, offline: Settings) -> AsyncIterator[NumborsWorker]:
    async with run_worker(offline) as running:
        yield running


@pytest.fixture
async def visitor(client: httpx.AsyncClient) -> httpx.AsyncClient:
    return client


async def key_of(account: Account) -> str:
    return data(await account.get("/api/support/keys"))[0]["key"]


async def publish(account: Account, title: str, body: str, **fields: Any) -> dict:
    payload = {"title": title, "body": body, "status": "published", **fields}
    return data(await account.post("/api/helpdesk/articles", json=payload), 201)


async def say(client: httpx.AsyncClient, key: str, message: str, **fields: Any) -> httpx.Response:
    return await client.post("/api/support/chat", json={"key": key, "message": message, **fields})
