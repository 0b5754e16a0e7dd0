"""Fixtures of the bank-feed tests: a fresh company per test (the accounting suite's `books`)
and, for the modules that run jobs, a real worker on the suite's Valkey (`worker`)."""

from __future__ import annotations

from tests.accounting.conftest import books, owner
from tests.jobs.conftest import redis, worker

__all__ = ["books", "owner", "redis", "worker"]
