"""Fixtures of the payroll tests: a fresh company per test (the accounting suite's `books`)."""

from __future__ import annotations

from tests.accounting.conftest import books, owner

__all__ = ["books", "owner"]
