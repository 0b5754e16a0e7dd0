"""Fixtures of the Tai tests: a fresh company per test (the accounting suite's `books`)."""

from __future__ import annotations

from tests.accounting.conftest import books, new_company, owner

__all__ = ["books", "new_company", "owner"]
