"""The document stores the conformance suite runs against, and how to open one.

Imported as `tests.memory.backends` (the repository root is on the path; `tests` has no
`__init__.py`, so a package there could not shadow the project's own `memory` package).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from memory.mongo import MongoStore
from memory.sqlite import SQLiteStore
from memory.store import DocumentStore

MONGO_URL_ENV = "NUMBORS_TEST_MONGODB_URL"


def mongo_url() -> str:
    return os.environ.get(MONGO_URL_ENV, "")


@dataclass(frozen=True)
class Backend:
    """Where one test's store lives: a SQLite file, or a MongoDB URL and database name."""

    kind: str
    location: str
    database: str = ""


def open_store(backend: Backend) -> DocumentStore:
    if backend.kind == "mongo":
        return MongoStore(backend.location, backend.database)
    return SQLiteStore(backend.location)
