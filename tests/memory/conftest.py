"""The `store` fixture: every conformance test runs once per document-store adapter.

SQLite always runs, on a fresh file per test. MongoDB runs when NUMBORS_TEST_MONGODB_URL
is set (a replica set, for transactions), on a fresh database per test that is dropped after;
when it is not, `test_mongodb_is_configured` is the one skip that says so.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pymongo import AsyncMongoClient

from memory.store import DocumentStore
from tests.memory.backends import Backend, mongo_url, open_store

BACKENDS = ["sqlite", "mongo"] if mongo_url() else ["sqlite"]


async def drop_database(url: str, database: str) -> None:
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(url)
    try:
        await client.drop_database(database)
    finally:
        await client.close()


@pytest.fixture(params=BACKENDS)
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    if request.param == "sqlite":
        yield Backend("sqlite", str(tmp_path / "store.db"))
        return
    database = f"conformance_{secrets.token_hex(8)}"
    yield Backend("mongo", mongo_url(), database)
    await drop_database(mongo_url(), database)


@pytest.fixture
async def store(backend: Backend) -> AsyncIterator[DocumentStore]:
    opened = open_store(backend)
    try:
        yield opened
    finally:
        await opened.close()
