"""Suite-wide fixtures: a Valkey of the suite's own, an app on a temp SQLite file, accounts.

Tests talk to the app over HTTP through httpx's ASGI transport; `tests/e2e` boots real
processes instead.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from api.app import create_app
from settings import Settings
from tests import synthetic
from tests.ai.fake_llm import FakeLLM, running
from tests.helpers import Account, register
from tests.servers import ValkeyProcess

TEST_SECRET = "test-secret-0123456789-0123456789-abcdef"


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    configured = os.environ.get("NUMBORS_TEST_REDIS_URL")
    if configured:
        yield configured
        return
    server = ValkeyProcess(tmp_path_factory.mktemp("valkey"))
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Settings:
    var = tmp_path_factory.mktemp("var")
    return Settings(
        env="test",
        var_dir=var,
        sqlite_path=Path(var) / "test.db",
        redis_url=redis_url,
        jwt_secret=TEST_SECRET,
        mongodb_url=os.environ.get("NUMBORS_TEST_MONGODB_URL") or None,
        mongodb_db=f"numbors_test_{os.getpid()}",
    )


@pytest.fixture(scope="session")
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings, declarations=synthetic.REGISTRY)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture(scope="session")
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://numbors.test") as c:
        yield c


@pytest.fixture(scope="session")
async def alice(client: httpx.AsyncClient) -> Account:
    """A user with one company; most tests act as her."""
    return await register(client, name="Alice", company_name="Alice Ltd")


@pytest.fixture(scope="session")
async def mallory(client: httpx.AsyncClient) -> Account:
    """Another company's user: her objects must be invisible to Alice, and Alice's to her."""
    return await register(client, name="Mallory", company_name="Mallory Corp")


@pytest.fixture(scope="module")
async def llm() -> AsyncIterator[FakeLLM]:
    """The local OpenAI-compatible model server (`tests/ai/fake_llm.py`), one per module."""
    async with running() as fake:
        yield fake


@pytest.fixture
def fake(llm: FakeLLM) -> FakeLLM:
    """The module's fake model as it started (`FakeLLM.reset`)."""
    llm.reset()
    return llm
