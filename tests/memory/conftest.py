"""The `store` fixture: every conformance test runs once per document-store adapter.

SQLite always runs, on a fresh file per test. MongoDB runs when NUMBORS_TEST_MONGODB_URL
is set (a replica set, for transactions), on a fresh database per test that is dropped after.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pymongo import AsyncMongoClient

from memory.store import DocumentStore
from tests.memory.backends import MONGO_URL_ENV, Backend, mongo_url, open_store

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param(
        "mongo",
        id="mongo",
        marks=pytest.mark.skipif(not mongo_url(), reason=f"{MONGO_URL_ENV} is not set"),
    ),
]


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
